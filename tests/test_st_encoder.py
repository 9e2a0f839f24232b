"""embeddings/st_encoder.py: which device a sentence-transformers model runs on."""

from __future__ import annotations

import embeddings.st_encoder as st


def test_device_is_cuda_only_where_asked_or_found(monkeypatch):
    assert st.pick_device("cuda") == "cuda" and st.pick_device("cpu") == "cpu"
    monkeypatch.setattr(st, "cuda_driver_present", lambda: False)
    assert st.pick_device(None) == "cpu"
