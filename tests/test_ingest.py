"""Ingesting through the whole pipeline: duplicates, bad input, and a run killed midway (with the n-gram encoder:
what is tested is the pipeline, not the model)."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

from qa.index.collection import Collection
from qa.ingest.pipeline import Ingester
from qa.search.service import SearchRequest, SearchService
from qa.text.normalize import to_simplified
from tests.conftest import documents_in, paragraph_files, speechqa_command
from tests.fakes import char_ngrams_env

ROOT = Path(__file__).parents[1]
SEEDS = ROOT / "qa" / "sample_speeches"


def test_seeds_become_five_documents_with_their_metadata(fake_seed_collection_dir, fake_encoder):
    collection = Collection.open(fake_seed_collection_dir, fake_encoder.name)
    documents = {d.metadata.title: (d, n) for d, n in collection.store.list_documents()}
    assert len(documents) == 5
    by_source = {d.source: d for d, _ in documents.values()}
    seed_001 = by_source["001_eacabc2e24b6d2f8.txt"]
    assert (seed_001.metadata.date, seed_001.metadata.date_kind, seed_001.metadata.speaker) == ("2023-05-11", "speech", "陈章平")
    seed_000 = by_source["000_d509771d086070bc.txt"]
    assert (seed_000.metadata.title, seed_000.metadata.date) == ("縣工業領導組擴大會上的講話", "2022-09-18")
    assert all(n > 3 for _, n in documents.values())
    for document, _ in documents.values():
        full = collection.store.get_document(document.doc_id)
        for passage in collection.store.passages_of(document.doc_id):
            assert full.text[passage.char_start : passage.char_end] == passage.text
            assert len(passage.text) <= 600


def test_ingesting_the_same_folder_twice_changes_nothing(fake_seed_collection_copy, fake_encoder):
    collection = Collection.open(fake_seed_collection_copy, fake_encoder.name)
    version = collection.store.version
    report = Ingester(collection, fake_encoder).add_paths([SEEDS], max_bytes=10**7)
    assert (len(report.added), len(report.updated), len(report.duplicates)) == (0, 0, 5)
    assert collection.store.version == version and collection.store.count_documents() == 5


def test_same_speech_from_another_source_in_the_other_script_is_one_document(fake_seed_collection_copy, fake_encoder, tmp_path):
    text = (SEEDS / "000_d509771d086070bc.txt").read_text(encoding="utf-8")
    mirror = tmp_path / "mirror" / "speech-simplified.txt"
    mirror.parent.mkdir()
    # A Simplified copy from another site, with that site's own navigation around it.
    mirror.write_text("上一篇:其他讲话\n" + to_simplified(text) + "\n下一篇:另一篇讲话\n", encoding="gb18030")
    collection = Collection.open(fake_seed_collection_copy, fake_encoder.name)
    report = Ingester(collection, fake_encoder).add_paths([mirror], max_bytes=10**7)
    assert report.added == [] and len(report.updated) == 1
    document = collection.store.get_document(report.updated[0])
    assert document.sources == ("000_d509771d086070bc.txt", "speech-simplified.txt")
    assert collection.store.count_documents() == 5


def test_bad_files_are_named_and_good_ones_still_arrive(fake_seed_collection_copy, fake_encoder, tmp_path):
    folder = tmp_path / "mixed"
    folder.mkdir()
    (folder / "good.txt").write_text("关于推进园区建设的讲话\n" + "我们要加快园区基础设施建设,提升承载能力。" * 5, encoding="utf-8")
    (folder / "good-big5.txt").write_bytes(("關於農業發展的講話\n" + "要持續推進農業現代化,保障糧食安全。" * 5).encode("big5"))
    (folder / "empty.txt").write_bytes(b"")
    (folder / "binary.txt").write_bytes(bytes(range(256)) * 8)
    (folder / "broken.docx").write_bytes(b"PK\x03\x04 not really a docx")
    (folder / "slides.pptx").write_bytes(b"whatever")
    collection = Collection.open(fake_seed_collection_copy, fake_encoder.name)
    report = Ingester(collection, fake_encoder).add_paths([folder], max_bytes=10**7)
    assert len(report.added) == 2
    rejected = {Path(r.source).name: r.reason for r in report.rejected}
    assert set(rejected) == {"empty.txt", "binary.txt", "broken.docx", "slides.pptx"}
    assert all(len(reason) > 15 for reason in rejected.values())
    collection.rebuild_indexes()
    hits = SearchService(collection, fake_encoder).search(SearchRequest(query="農業現代化 糧食安全", k=3)).hits
    assert "糧食安全" in hits[0].passage.text


def test_an_ingest_killed_midway_leaves_a_usable_collection_and_resumes(tmp_path, model_cache_dir, fake_encoder):
    files = tmp_path / "paragraphs"
    n_files = paragraph_files(files)
    assert n_files >= 30
    data = tmp_path / "collection"
    env = char_ngrams_env({**os.environ, "SPEECHQA_CACHE": str(model_cache_dir), "SPEECHQA_DATA": str(data),
                           "SPEECHQA_COMMIT_PASSAGES": "4"})
    command = [*speechqa_command(fake=True), "ingest", str(files)]
    process = subprocess.Popen(command, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 240
    while documents_in(data) < 3 and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert process.poll() is None, "the ingest finished before it could be killed; give it more work"
    process.send_signal(signal.SIGKILL)
    process.wait()

    done = documents_in(data)
    assert 3 <= done < n_files
    collection = Collection.open(data, fake_encoder.name)
    collection.load_indexes()  # the indexes were never written: they are rebuilt from the store
    assert len(collection.vectors) == collection.store.count_passages()
    for _, n_chunks in collection.store.list_documents(limit=1000):
        assert n_chunks >= 1  # whole documents only
    service = SearchService(collection, fake_encoder)
    assert service.search(SearchRequest(query="工业经济", k=3)).hits
    collection.close()

    finished = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert finished.returncode == 0, finished.stderr
    assert documents_in(data) == n_files
    assert f"{n_files - done} added" in finished.stdout


def test_a_record_with_a_broken_escape_still_goes_in(fake_seed_collection_copy, fake_encoder, tmp_path):
    collection_file = tmp_path / "records.jsonl"
    collection_file.write_text(
        '{"title": "坏转义", "content": "关于工业\\ud800发展的讲话：我们要加快工业发展步伐，推进重点项目建设。"}\n'
        '{"title": "不是JSON"\n',
        encoding="utf-8",
    )
    collection = Collection.open(fake_seed_collection_copy, fake_encoder.name)
    report = Ingester(collection, fake_encoder).add_paths([collection_file], max_bytes=10**6)
    assert len(report.added) == 1 and len(report.rejected) == 1
    assert "\ud800" not in collection.store.get_document(report.added[0]).text
    assert report.rejected[0].source.endswith("records.jsonl#L2")


def test_preparing_in_worker_processes_gives_the_same_collection(fake_seed_collection_dir, fake_encoder, tmp_path, monkeypatch):
    import qa.ingest.pipeline
    from qa.types import RawDocument, Rejection

    monkeypatch.setattr(qa.ingest.pipeline, "PREPARE_WINDOW", 2)  # several windows, so their overlap is exercised
    monkeypatch.setattr(qa.ingest.pipeline, "PREPARE_POOL_MIN", 1)
    collection = Collection.open(tmp_path / "parallel", fake_encoder.name, create=True)
    seeds = list(qa.ingest.pipeline._read_all([SEEDS], 10**7))
    # Rejections read before and between the documents keep their places (they stay out of the workers).
    records = [Rejection("first.bin", "not a text file"), *seeds[:3], Rejection("broken.bin", "not a text file"),
               *seeds[3:], RawDocument("   ", "blank.txt")]
    report = Ingester(collection, fake_encoder, prepare_workers=2).add_records(records)
    assert len(report.added) == 5
    assert [r.source for r in report.rejected] == ["first.bin", "broken.bin", "blank.txt"]
    serial = Collection.open(fake_seed_collection_dir, fake_encoder.name)

    def passages(c: Collection) -> list[tuple[str, str, str]]:
        return sorted((p.chunk_id, p.doc_id, p.text) for d, _ in c.store.list_documents() for p in c.store.passages_of(d.doc_id))

    assert passages(collection) == passages(serial)


def test_a_document_that_fails_to_process_is_rejected_by_name_and_the_rest_go_in(fake_encoder, tmp_path, monkeypatch):
    import qa.ingest.pipeline
    from qa.types import RawDocument

    real_chunk_text = qa.ingest.pipeline.chunk_text

    def chunk_text(text, **kwargs):
        if "坏段落" in text:
            raise ValueError("chunker tripped")
        return real_chunk_text(text, **kwargs)

    monkeypatch.setattr(qa.ingest.pipeline, "chunk_text", chunk_text)
    collection = Collection.open(tmp_path / "c", fake_encoder.name, create=True)
    good = (SEEDS / "000_d509771d086070bc.txt").read_text(encoding="utf-8")
    records = [RawDocument("这是一篇会让切分出错的讲话:坏段落。" * 5, "bad.txt"), RawDocument(good, "good.txt")]
    report = Ingester(collection, fake_encoder, prepare_workers=0).add_records(records)
    assert len(report.added) == 1
    [rejected] = report.rejected
    assert rejected.source == "bad.txt"
    assert "could not be processed (ValueError: chunker tripped)" in rejected.reason and "the rest went in" in rejected.reason


def test_a_templated_release_of_another_date_is_another_document(fake_seed_collection_copy, fake_encoder):
    from qa.types import RawDocument

    collection = Collection.open(fake_seed_collection_copy, fake_encoder.name)
    seed = collection.store.get_document(next(d.doc_id for d, _ in collection.store.list_documents()
                                              if d.metadata.date == "2022-09-18"))
    # The same template a year later: a few words changed, another date.
    later = seed.text.replace("2022", "2023", 1) + "\n今年的工作，要在去年基础上再加力。"
    report = Ingester(collection, fake_encoder).add_records([
        RawDocument(text=later, source="next-year.txt", date="2023-09-18"),
        RawDocument(text=later + "\n（转载）", source="mirror-same-day.txt", date="2023-09-18"),
    ])
    assert len(report.added) == 1 and len(report.updated) == 1  # the mirror of the same day is the same document
    assert collection.store.count_documents() == 6


def test_a_cli_ingest_into_an_existing_collection_appends(fake_seed_collection_copy, model_cache_dir, tmp_path):
    import json

    before = json.loads((fake_seed_collection_copy / "manifest.json").read_text())
    new = tmp_path / "new"
    new.mkdir()
    (new / "park.txt").write_text("关于推进园区建设的讲话\n" + "我们要加快园区基础设施建设,提升承载能力。" * 8, encoding="utf-8")
    env = char_ngrams_env({**os.environ, "SPEECHQA_CACHE": str(model_cache_dir), "SPEECHQA_DATA": str(fake_seed_collection_copy)})
    done = subprocess.run([*speechqa_command(fake=True), "ingest", str(new)], env=env, cwd=ROOT, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "1 added" in done.stdout and "holds 6 documents" in done.stdout
    after = json.loads((fake_seed_collection_copy / "manifest.json").read_text())
    # What was indexed stays as it was: the same main vector index and BM25 segments, plus the new passages.
    assert after["vectors"]["main"] == before["vectors"]["main"]
    assert after["lexical"]["segments"][: len(before["lexical"]["segments"])] == before["lexical"]["segments"]
    assert len(after["lexical"]["segments"]) == len(before["lexical"]["segments"]) + 1
    assert after["passages"] > before["passages"] and after["store_version"] == before["store_version"] + 1


def test_sentences_the_model_reads_for_a_passage():
    from qa.ingest.pipeline import SENTENCE_MIN_CHARS, embed_sentences

    long_one = "政府將持續推動產業升級與數位轉型，讓青年有更多的發展機會。"
    assert len(long_one) >= SENTENCE_MIN_CHARS
    # Simplified, one sentence at a time; a short one ("他說：") is read with the next.
    assert embed_sentences("他說：" + long_one + long_one) == [to_simplified("他說：" + long_one), to_simplified(long_one)]
    assert embed_sentences("短句。") == ["短句。"]  # a passage shorter than a sentence is read whole
    assert embed_sentences(long_one + "謝謝。") == [to_simplified(long_one), "谢谢。"]


def test_every_passage_carries_its_documents_occasion_place_and_speaker_as_bm25_words():
    from qa.ingest.pipeline import build_document, document_context, passage_tokens
    from qa.text.tokens import lexical_tokens
    from qa.types import RawDocument, Rejection

    text = ("總統出席「世界台灣商會聯合總會第28屆年會開幕典禮」\n"
            "蔡英文總統今（28）日上午前往高雄出席「世界台灣商會聯合總會第28屆年會開幕典禮」，肯定臺商朋友。\n\n"
            "總統表示，我們的「投資臺灣三大方案」，到本月累積的投資已經超過1,250家企業。")
    document = build_document(RawDocument(source="release.txt", text=text, title="出席世總年會 總統盼與臺商朋友一起努力",
                                          date="2022-09-28"))
    assert not isinstance(document, Rejection)
    context = document_context(document.metadata, document.text)
    assert context.split("\n") == ["世界台灣商會聯合總會第28屆年會開幕典禮", "高雄", "蔡英文"]

    later = "總統表示，我們的「投資臺灣三大方案」，到本月累積的投資已經超過1,250家企業。"
    words = passage_tokens(later, document.metadata.title, context).split(" ")
    own = lexical_tokens(later) + lexical_tokens(document.metadata.title)
    assert words == own + lexical_tokens(context)  # the passage's and title's words first, as before
    assert {"高雄", "商会", "联合", "总会"} <= set(words) - set(own)
    assert passage_tokens(later, None) == " ".join(lexical_tokens(later))


def test_a_document_without_a_stated_occasion_adds_only_what_its_metadata_knows():
    from qa.ingest.pipeline import document_context
    from qa.types import Metadata

    assert document_context(Metadata(title="在全镇工业经济推进会上的讲话"), "同志们：今天我们在这里举行工业经济推进会。") == ""
    assert document_context(Metadata(speaker="陈章平", place="腊口镇"), "同志们：今天开会。") == "腊口镇\n陈章平"
