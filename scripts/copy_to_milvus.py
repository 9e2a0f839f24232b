"""Copy an embedded collection (its SQLite store: documents, passages, stored vectors) into a Milvus
collection, without re-embedding anything.

    python scripts/copy_to_milvus.py --data ~/speechqa-archive/data --index milvus://HOST:19530
    python scripts/copy_to_milvus.py --data ./my-collection --index ./my-collection.db   # Milvus Lite
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from qa.index.collection import STORE_FILE, read_manifest
from qa.index.milvus_backend import copy_from_store
from qa.index.milvus_passages import MilvusPassages
from qa.index.store import PassageStore


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, required=True, help="the embedded collection directory")
    parser.add_argument("--index", required=True, help="milvus://HOST:PORT[/NAME] or a Milvus Lite path ending in .db")
    args = parser.parse_args(argv)
    manifest = read_manifest(args.data)
    store = PassageStore(args.data / STORE_FILE)
    started = time.perf_counter()
    passages = MilvusPassages.open(args.index, manifest["model"], int(manifest["dim"]), create=True)
    written = copy_from_store(store, manifest["model"], passages)
    print(f"{written} passages of {store.count_documents()} documents copied to {args.index} "
          f"in {time.perf_counter() - started:.1f} s")
    passages.close()
    store.close()


if __name__ == "__main__":
    main()
