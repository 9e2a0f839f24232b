"""The Milvus collections speechqa creates: the passages' (fields, vector and BM25 indexes) and the titles' companion."""

from __future__ import annotations

from typing import TYPE_CHECKING

from qa.index.milvus_text import ANALYZER

if TYPE_CHECKING:
    from pymilvus import MilvusClient

FORMAT_VERSION = 1
HNSW_M = 32
HNSW_EF_CONSTRUCTION = 80
BM25_K1 = 1.5  # bm25s's defaults, so both backends score alike
BM25_B = 0.75
VARCHAR_BYTES = 65535


def create_passages_collection(client: MilvusClient, name: str, model: str, dim: int) -> None:
    from pymilvus import DataType, Function, FunctionType

    schema = client.create_schema(auto_id=False, description="speechqa passages")
    schema.add_field("pid", DataType.INT64, is_primary=True)
    schema.add_field("chunk_id", DataType.VARCHAR, max_length=64)
    schema.add_field("doc_id", DataType.VARCHAR, max_length=64)
    schema.add_field("ordinal", DataType.INT64)
    schema.add_field("text", DataType.VARCHAR, max_length=VARCHAR_BYTES)
    schema.add_field("bm25_text", DataType.VARCHAR, max_length=VARCHAR_BYTES, enable_analyzer=True, analyzer_params=ANALYZER)
    schema.add_field("char_start", DataType.INT64)
    schema.add_field("char_end", DataType.INT64)
    schema.add_field("section", DataType.VARCHAR, max_length=4096)
    schema.add_field("lead", DataType.VARCHAR, max_length=VARCHAR_BYTES)
    schema.add_field("trail", DataType.VARCHAR, max_length=VARCHAR_BYTES)
    schema.add_field("title", DataType.VARCHAR, max_length=4096)
    schema.add_field("date", DataType.VARCHAR, max_length=16)
    schema.add_field("date_kind", DataType.VARCHAR, max_length=16)
    schema.add_field("speaker", DataType.VARCHAR, max_length=512)
    schema.add_field("place", DataType.VARCHAR, max_length=512)
    schema.add_field("script", DataType.VARCHAR, max_length=16)
    schema.add_field("content_hash", DataType.VARCHAR, max_length=128)
    schema.add_field("sources", DataType.ARRAY, element_type=DataType.VARCHAR, max_capacity=64, max_length=1024)
    schema.add_field("source_group", DataType.VARCHAR, max_length=1024)
    schema.add_field("n_passages", DataType.INT64)
    schema.add_field("vector", DataType.FLOAT_VECTOR, dim=dim)
    schema.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
    schema.add_function(Function(name="bm25", function_type=FunctionType.BM25,
                                 input_field_names=["bm25_text"], output_field_names=["sparse"]))
    index_params = client.prepare_index_params()
    index_params.add_index("vector", index_type="HNSW", metric_type="IP",
                           params={"M": HNSW_M, "efConstruction": HNSW_EF_CONSTRUCTION})
    index_params.add_index("sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25",
                           params={"bm25_k1": BM25_K1, "bm25_b": BM25_B})
    for field in ("doc_id", "chunk_id", "content_hash", "date", "speaker", "source_group"):
        index_params.add_index(field, index_type="INVERTED")
    client.create_collection(name, schema=schema, index_params=index_params, consistency_level="Strong",
                             properties={"speechqa.model": model, "speechqa.dim": str(dim),
                                         "speechqa.format": str(FORMAT_VERSION)})


def create_titles_collection(client: MilvusClient, name: str, dim: int) -> None:
    from pymilvus import DataType

    schema = client.create_schema(auto_id=False, description="speechqa document titles")
    schema.add_field("key", DataType.VARCHAR, is_primary=True, max_length=64)
    schema.add_field("vector", DataType.FLOAT_VECTOR, dim=dim)
    index_params = client.prepare_index_params()
    # Read by key, never searched: the lightest index Milvus loads a collection with.
    index_params.add_index("vector", index_type="FLAT", metric_type="IP")
    client.create_collection(name, schema=schema, index_params=index_params, consistency_level="Strong")
    client.load_collection(name)
