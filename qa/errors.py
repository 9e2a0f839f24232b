"""Exceptions raised by speechqa library code.

The CLI prints ``error: <message>`` and exits non-zero; the web layer maps each
class to an HTTP status in one exception handler.
"""

import re
from collections.abc import Callable, Mapping

# The base class and the errors the encoders raise are defined in embeddings/ (which must not import qa/).
from embeddings.errors import BadInputError, MissingDependencyError, SpeechQAError

__all__ = ["BadInputError", "DiskFullError", "FieldError", "ForbiddenError", "IndexNotBuiltError",
           "MissingDependencyError", "MissingItemError", "ModelMismatchError", "NotFoundError", "NotSupportedError",
           "SpeechQAError", "TooLargeError", "UnauthorizedError"]


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


_WORD = re.compile(r"\{(\w+)\}")


class Worded:
    """An error whose message names request fields and front-end actions as {name} ({query}, {chunk_id},
    {list_documents}), so that each front end writes them as its users know them: q and GET /api/documents
    for the API, QUERY and --chunk for the CLI, `query` for MCP. str() has the API's words."""

    template: str

    def worded(self, words: Callable[[str], str | None]) -> str:
        """The message with each {name} as `words` writes it (None: the name as it is)."""
        return _WORD.sub(lambda match: words(match[1]) or match[1], self.template)


def _api_words(names: Mapping[str, str]) -> Callable[[str], str | None]:
    return lambda name: names.get(name, name)


class FieldError(Worded, BadInputError):
    def __init__(self, template: str, api_words: Mapping[str, str]) -> None:
        self.template = template
        super().__init__(self.worded(_api_words(api_words)))


class MissingItemError(Worded, NotFoundError):
    def __init__(self, template: str, api_words: Mapping[str, str]) -> None:
        self.template = template
        super().__init__(self.worded(_api_words(api_words)))
