"""Exceptions raised by speechqa library code.

The CLI prints ``error: <message>`` and exits non-zero; the web layer maps each
class to an HTTP status in one exception handler.
"""

# The base class and the errors the encoders raise are defined in embeddings/ (which must not import qa/).
from embeddings.errors import BadInputError, MissingDependencyError, SpeechQAError

__all__ = ["BadInputError", "DiskFullError", "ForbiddenError", "IndexNotBuiltError", "MissingDependencyError",
           "ModelMismatchError", "NotFoundError", "NotSupportedError", "SpeechQAError", "TooLargeError",
           "UnauthorizedError"]


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


class NotSupportedError(SpeechQAError):
    """The collection's backend does not offer this (the message says which does)."""

    code = "not_supported"
    status = 501


class DiskFullError(SpeechQAError):
    """A change could not be written because the disk is full: searches go on, changes wait for space."""

    code = "disk_full"
    status = 507
