"""The name pairs each document states (qa.text.name_pairs), in a companion Milvus collection.

One row a (document, pair), keyed by a hash of the three, so a rewrite after a crash upserts rather
than duplicates, and a document's rows are deleted with it. The collection is created with the first
pairs written: one built before name pairs has none, and is read as stating none.
"""

from __future__ import annotations

import hashlib
import logging
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING

from qa.index.milvus_rows import batches, clip, literal
from qa.text.name_pairs import NamePair

if TYPE_CHECKING:
    from pymilvus import MilvusClient

NAMES_SUFFIX = "__names"
WRITE_BATCH = 1000
NAME_BYTES = 512
# Milvus holds no collection without a vector field: each row gets this constant one, never searched.
_PLACEHOLDER_VECTOR = [1.0, 0.0]


def _key(doc_id: str, pair: NamePair) -> str:
    return hashlib.sha1(f"{doc_id}\x00{pair.chinese}\x00{pair.english}".encode()).hexdigest()


def create_names_collection(client: MilvusClient, name: str) -> None:
    from pymilvus import DataType

    schema = client.create_schema(auto_id=False, description="speechqa name pairs")
    schema.add_field("key", DataType.VARCHAR, is_primary=True, max_length=64)
    schema.add_field("doc_id", DataType.VARCHAR, max_length=64)
    schema.add_field("chinese", DataType.VARCHAR, max_length=NAME_BYTES)
    schema.add_field("english", DataType.VARCHAR, max_length=NAME_BYTES)
    schema.add_field("stated", DataType.INT64)
    schema.add_field("vector", DataType.FLOAT_VECTOR, dim=len(_PLACEHOLDER_VECTOR))
    index_params = client.prepare_index_params()
    index_params.add_index("vector", index_type="FLAT", metric_type="IP")
    index_params.add_index("doc_id", index_type="INVERTED")
    client.create_collection(name, schema=schema, index_params=index_params, consistency_level="Strong")
    client.load_collection(name)


class MilvusNamePairs:
    """Reads and writes of the companion collection `<passages>__names`."""

    def __init__(self, client: MilvusClient, passages_name: str) -> None:
        self.client = client
        self.name = passages_name + NAMES_SUFFIX
        self._loaded = False

    def _exists(self) -> bool:
        """Whether the companion exists (loaded once it does: another process may create it)."""
        if not self._loaded and self.client.has_collection(self.name):
            self.client.load_collection(self.name)
            self._loaded = True
        return self._loaded

    def put(self, pairs_by_document: Mapping[str, Sequence[NamePair]]) -> None:
        rows = [{"key": _key(doc_id, pair), "doc_id": doc_id, "chinese": clip(pair.chinese, NAME_BYTES),
                 "english": clip(pair.english, NAME_BYTES), "stated": stated, "vector": _PLACEHOLDER_VECTOR}
                for doc_id, pairs in pairs_by_document.items() for pair, stated in Counter(pairs).items()]
        if not rows:
            return
        if not self._exists():
            create_names_collection(self.client, self.name)
            self._loaded = True
        for batch in batches(rows, WRITE_BATCH):
            self.client.upsert(self.name, list(batch))

    def remove(self, doc_ids: Iterable[str]) -> None:
        ids = list(doc_ids)
        if ids and self._exists():
            self.client.delete(self.name, filter=f"doc_id in {literal(ids)}")

    def counts(self) -> dict[NamePair, int]:
        """How often the documents state each pair, all of them together."""
        if not self._exists():
            return {}
        found: dict[NamePair, int] = {}
        logging.getLogger("pymilvus.client.iterator.query_iterator").setLevel(logging.ERROR)
        iterator = self.client.query_iterator(self.name, batch_size=1000, filter="",
                                              output_fields=["chinese", "english", "stated"])
        try:
            while batch := iterator.next():
                for row in batch:
                    pair = NamePair(row["chinese"], row["english"])
                    found[pair] = found.get(pair, 0) + int(row["stated"])
        finally:
            iterator.close()
        return found
