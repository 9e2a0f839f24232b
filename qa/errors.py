"""Exceptions raised by speechqa library code.

The CLI prints ``error: <message>`` and exits non-zero; the web layer maps each
class to an HTTP status in one exception handler.
"""


class SpeechQAError(Exception):
    """Base class: the message always says what to change."""

    code = "error"
    status = 500


class BadInputError(SpeechQAError):
    code = "bad_input"
    status = 400


class NotFoundError(SpeechQAError):
    code = "not_found"
    status = 404


class IndexNotBuiltError(SpeechQAError):
    code = "index_not_built"
    status = 503


class ModelMismatchError(SpeechQAError):
    code = "model_mismatch"
    status = 503


class UnauthorizedError(SpeechQAError):
    code = "unauthorized"
    status = 401


class ForbiddenError(SpeechQAError):
    code = "forbidden"
    status = 403


class TooLargeError(SpeechQAError):
    code = "too_large"
    status = 413


class MissingDependencyError(SpeechQAError):
    code = "missing_dependency"
    status = 500
