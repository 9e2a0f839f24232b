"""The composition root: the one place that assembles a collection, the model and the services from settings.

Every front end (the web app, the CLI, the MCP server) starts here, so they always search alike;
the layers below import nothing from this module.
"""

from __future__ import annotations

import ctypes
import logging
import os
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass

from qa.index.backends import open_collection
from qa.search.service import SearchService
from qa.settings import Settings

log = logging.getLogger(__name__)

M_ARENA_MAX = -8  # glibc's mallopt parameter (malloc.h)


def searches_at_once(settings: Settings) -> int:
    """How many searches a service of these settings runs at once: as configured, else one per core."""
    from embeddings.base import available_cores

    return settings.concurrent_searches or available_cores()


def limit_heap_arenas(arenas: int) -> bool:
    """Let glibc's allocator keep at most `arenas` heaps for this process's threads from now on; whether it
    took. By default each thread that allocates gets a heap of its own, up to eight per core, and every heap
    keeps the memory its thread freed: a server's request threads (one per concurrent request) held most
    of what 8 clients added to the server, though only `arenas` of them search at once (docs/performance.md).

    Call it before the process starts its threads: glibc fixes the limit when it makes its second heap.
    Nothing is done where MALLOC_ARENA_MAX already says (glibc read it as the process started) or where
    the C library is not glibc."""
    if "MALLOC_ARENA_MAX" in os.environ or not sys.platform.startswith("linux"):
        return False
    try:
        mallopt = ctypes.CDLL("libc.so.6").mallopt
    except (OSError, AttributeError):
        return False
    return mallopt(M_ARENA_MAX, max(1, arenas)) == 1


def open_service(settings: Settings) -> SearchService:
    """The search service the settings describe: their collection, the model, and the reranker if one is set."""
    from embeddings.loader import load_encoder, model_name
    from qa.ingest.pipeline import reindex_advice
    from qa.search.crosslingual import keep_tables_in

    keep_tables_in(settings.cache_dir)

    reranker = None
    if settings.reranker:
        from embeddings.cross_encoder import CrossEncoderScorer

        reranker = CrossEncoderScorer(settings.reranker, device=settings.device)
    collection = open_collection(settings, model_name(settings))
    advice = reindex_advice(collection)
    if advice:
        log.warning(advice)
    return SearchService(collection, load_encoder(settings), max_query_chars=settings.max_query_chars,
                         batch_size=settings.batch_size, reranker=reranker,
                         concurrent_searches=searches_at_once(settings))


def open_reader(settings: Settings) -> SearchService:
    """A service for browsing and removing documents that never loads the model: the collection's own
    record names it (a Milvus collection records it itself), so no --model is needed."""
    from embeddings.loader import model_name
    from qa.index.collection import read_manifest

    recorded = read_manifest(settings.data_dir).get("model") or model_name(settings)
    return SearchService(open_collection(settings, recorded, allow_model_change=bool(settings.index)), None)


def open_ingester(settings: Settings) -> SearchService:
    """A service that adds documents to the settings' collection, creating it when it does not exist yet."""
    from embeddings.loader import load_encoder

    encoder = load_encoder(settings)
    return SearchService(open_collection(settings, encoder.name, create=True, dim=encoder.dim), encoder,
                         batch_size=settings.batch_size)


@dataclass(frozen=True)
class ReindexReport:
    documents_refreshed: int
    passages_embedded: int
    titles_embedded: int
    model: str
    index: str


def reindex(settings: Settings, progress: Callable[[int], None] | None = None) -> ReindexReport:
    """Bring the embedded collection up to date: re-derive metadata and BM25 words from the stored text,
    embed what the model has no vector for (after a model change), and rebuild the indexes."""
    from embeddings.loader import load_encoder, model_name
    from qa.index.collection import Collection
    from qa.ingest.pipeline import embed_missing, embed_titles, refresh_derived

    collection = Collection.open(settings.data_dir, model_name(settings), allow_model_change=True)
    encoder = load_encoder(settings)
    refreshed = refresh_derived(collection)
    embedded = embed_missing(collection, encoder, settings.batch_size, progress)
    titles = embed_titles(collection, encoder, None, settings.batch_size)
    collection.rebuild_indexes()
    return ReindexReport(refreshed, embedded, titles, encoder.name, collection.manifest["index"])


class ServiceHolder:
    """The service the settings describe, opened on first use and shared by every caller after
    (the web app's requests, the MCP server's tools); `service` is one opened already."""

    def __init__(self, settings: Settings, service: SearchService | None = None) -> None:
        self.settings = settings
        self._service = service
        self._lock = threading.Lock()

    def opened(self) -> SearchService | None:
        """The service if it is open already (get opens it)."""
        return self._service

    def get(self) -> SearchService:
        if self._service is None:
            with self._lock:
                if self._service is None:
                    self._service = open_service(self.settings)
        return self._service
