"""Which collection the settings name: the embedded one in `--data`, or a Milvus one (`--index`)."""

from __future__ import annotations

from qa.index.contract import Backend
from qa.settings import Settings


def open_collection(settings: Settings, model: str, *, create: bool = False, allow_model_change: bool = False,
                    dim: int | None = None) -> Backend:
    """The embedded `Collection` at settings.data_dir, or a `MilvusCollection` when settings.index names
    Milvus (`milvus://HOST:PORT[/NAME]`, or a Milvus Lite path ending in .db); both honour the contract."""
    if settings.index:
        from qa.index.milvus_backend import MilvusCollection
        from qa.index.milvus_reuse import reuse_folder

        return MilvusCollection.open(settings.index, model, dim=dim, create=create, allow_model_change=allow_model_change,
                                     reuse_folder=reuse_folder(settings.index, settings.cache_dir))
    from qa.index.collection import Collection

    return Collection.open(settings.data_dir, model, create=create, allow_model_change=allow_model_change)


def where(settings: Settings) -> str:
    """The collection's place, as messages name it."""
    return settings.index or str(settings.data_dir)
