"""speechqa: semantic retrieval question answering over speeches and policy texts."""

__version__ = "0.1.0"
