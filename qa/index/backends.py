"""Which collection the settings name: the embedded one in `--data`, or a Milvus one (`--index`)."""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING

from qa.settings import Settings

if TYPE_CHECKING:
    from qa.search.service import SearchService

log = logging.getLogger(__name__)


def open_collection(settings: Settings, model: str, *, create: bool = False, allow_model_change: bool = False,
                    dim: int | None = None):
    """The embedded `Collection` at settings.data_dir, or a `MilvusCollection` when settings.index names
    Milvus (`milvus://HOST:PORT[/NAME]`, or a Milvus Lite path ending in .db); both serve SearchService."""
    if settings.index:
        from qa.index.milvus_backend import MilvusCollection

        return MilvusCollection.open(settings.index, model, dim=dim, create=create, allow_model_change=allow_model_change)
    from qa.index.collection import Collection

    return Collection.open(settings.data_dir, model, create=create, allow_model_change=allow_model_change)


def where(settings: Settings) -> str:
    """The collection's place, as messages name it."""
    return settings.index or str(settings.data_dir)


def open_service(settings: Settings) -> SearchService:
    """The search service the settings describe: their collection, the model, and the reranker if one is set.
    The CLI and the web app both start from here, so they always search alike."""
    from embeddings.loader import load_encoder, model_name
    from qa.search.service import SearchService

    reranker = None
    if settings.reranker:
        from embeddings.cross_encoder import CrossEncoderScorer

        reranker = CrossEncoderScorer(settings.reranker, device=settings.device)
    from qa.index.collection import Collection

    collection = open_collection(settings, model_name(settings))
    if isinstance(collection, Collection):
        from qa.ingest.pipeline import reindex_advice

        advice = reindex_advice(collection)
        if advice:
            log.warning(advice)
    return SearchService(collection, load_encoder(settings),
                         max_query_chars=settings.max_query_chars, batch_size=settings.batch_size, reranker=reranker)


def open_reader(settings: Settings) -> SearchService:
    """A service for browsing and removing documents that never loads the model: the collection's own
    record names it (a Milvus collection records it itself), so no --model is needed."""
    from embeddings.loader import model_name
    from qa.index.collection import read_manifest
    from qa.search.service import SearchService

    recorded = read_manifest(settings.data_dir).get("model") or model_name(settings)
    return SearchService(open_collection(settings, recorded, allow_model_change=bool(settings.index)), None)


class ServiceHolder:
    """The service the settings describe, opened on first use and shared by every caller after
    (the web app's requests, the MCP server's tools); `service` is one opened already."""

    def __init__(self, settings: Settings, service: SearchService | None = None) -> None:
        self.settings = settings
        self._service = service
        self._lock = threading.Lock()

    def get(self) -> SearchService:
        if self._service is None:
            with self._lock:
                if self._service is None:
                    self._service = open_service(self.settings)
        return self._service
