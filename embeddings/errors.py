"""The project's base exception and the ones the encoders raise.

They live here, in the lower layer, so that embeddings/ never imports qa/; qa.errors re-exports
them beside the rest, so the CLI's ``except SpeechQAError`` and the web layer's one handler catch
these too.
"""


class SpeechQAError(Exception):
    """Base class: the message always says what to change."""

    code = "error"
    status = 500


class BadInputError(SpeechQAError):
    code = "bad_input"
    status = 400


class MissingDependencyError(SpeechQAError):
    code = "missing_dependency"
    status = 500
