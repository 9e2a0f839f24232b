"""The second hour of a new user (issue 22): what happens after the demo works, command by command.

Each test is one thing that user ran into: the commands finding the demo, counting, progress, the
words each front end speaks, English results, uploads that add nothing, and the smaller papercuts.
They run on the n-gram encoder, but for those marked `model`: what English questions mark, and progress
over an ingest long enough to need it.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import time
import unicodedata
from pathlib import Path

import pytest
from conftest import ROOT, SEEDS, speechqa_command
from typer.testing import CliRunner

from qa.cli import app
from qa.progress import LINE_EVERY_S
from tests.fakes import CHAR_NGRAMS_MODEL

LOOPBACK = "http://127.0.0.1"
ENGLISH_QUESTION = "How does the county attract investment?"


def speechqa(*args: str, env: dict[str, str] | None = None, timeout: int = 600) -> subprocess.CompletedProcess:
    """`speechqa ARGS` as the user runs it; with the n-gram encoder where `env` names it (user_env's default)."""
    env = env or os.environ.copy()
    command = speechqa_command(fake=env.get("SPEECHQA_MODEL") == CHAR_NGRAMS_MODEL)
    return subprocess.run([*command, *args], env=env, cwd=ROOT, capture_output=True, text=True, timeout=timeout)


def user_env(home: Path, cache: Path, *, model: bool = False, **extra: str) -> dict[str, str]:
    """A user with a fresh home directory and no speechqa settings, the model cache reused; the n-gram
    encoder in place of the model unless `model`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SPEECHQA_", "XDG_"))}
    return {**env, "HOME": str(home), "SPEECHQA_CACHE": str(cache), **({} if model else {"SPEECHQA_MODEL": CHAR_NGRAMS_MODEL}),
            **extra}


def _client(settings, service):
    from fastapi.testclient import TestClient

    from web.app import create_app

    return TestClient(create_app(settings, service=service), base_url=LOOPBACK, raise_server_exceptions=False)


@pytest.fixture(scope="module")
def client(settings_factory, fake_seed_service_copy, tmp_path_factory):
    with _client(settings_factory(tmp_path_factory.mktemp("unused-data")), fake_seed_service_copy) as test_client:
        yield test_client


@pytest.fixture(scope="module")
def model_client(settings_factory, seed_service_copy, tmp_path_factory):
    """`client` with the real model: for what English questions find and mark."""
    with _client(settings_factory(tmp_path_factory.mktemp("unused-data")), seed_service_copy) as test_client:
        yield test_client


# -- 1. the commands after the demo find the demo ------------------------------------------------

def test_the_demo_builds_the_collection_every_command_uses(tmp_path, model_cache_dir):
    env = user_env(tmp_path / "home", model_cache_dir)
    built = speechqa("demo", "--no-serve", env=env)
    assert built.returncode == 0, built.stderr
    listed = speechqa("docs", "list", "--json", env=env)
    assert listed.returncode == 0, listed.stderr
    assert len(listed.stdout.splitlines()) == 5
    found = speechqa("search", "招商引资进度为什么落后", "--k", "5", "--json", env=env)
    assert found.returncode == 0, found.stderr
    assert any("招商引資進度全市排名最后" in json.loads(line)["text"] for line in found.stdout.splitlines()), found.stdout


# -- 2. the API docs page works offline and nothing points outside the repository -----------------

def test_api_docs_and_openapi_point_inside_the_repository(client):
    described = client.get("/openapi.json").json()["info"]["description"]
    assert "shared/" not in described and "docs/api.md" in described
    page = client.get("/docs")
    assert page.status_code == 200
    outside = re.findall(r"""(?:src|href)=["']?(https?://[^"' >]+)""", page.text)
    assert outside == [], f"/docs loads {outside}"


# -- 3. installing: a CPU-only torch where there is no GPU ----------------------------------------

def _install_commands() -> str:
    """The README's quickstart install block, with any script of the repository it runs."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    quickstart = re.search(r"^## Quickstart\n(.*?)(?=^## )", readme, re.M | re.S).group(1)
    [block] = [b for b in re.findall(r"^```bash\n(.*?)^```", quickstart, re.M | re.S) if "speechqa demo" in b]
    scripts = re.findall(r"(scripts/[\w.-]+\.sh)", block)
    return block + "".join((ROOT / script).read_text(encoding="utf-8") for script in scripts)


def test_the_quickstart_takes_torch_from_the_cpu_index_without_a_gpu():
    commands = _install_commands()
    assert "download.pytorch.org/whl/cpu" in commands, commands


# -- 4. progress, labelled in the unit it counts --------------------------------------------------

def _many_documents(folder: Path, wanted: int) -> int:
    """`wanted` small speeches, each two paragraphs of the sample speeches that no other one pairs alike
    (so that none is a near-duplicate of another)."""
    folder.mkdir()
    paragraphs = [line for seed in sorted(SEEDS.glob("*.txt")) for line in seed.read_text(encoding="utf-8").splitlines()
                  if len(line) >= 120 and "下载" not in line and "導語" not in line]
    for n in range(wanted):
        first, second = paragraphs[n % len(paragraphs)], paragraphs[(n // len(paragraphs) + 1 + n) % len(paragraphs)]
        (folder / f"p{n:04d}.txt").write_text(f"第{n}次会议讲话\n{first}\n{second}\n", encoding="utf-8")
    return wanted


_PROGRESS_LINE = re.compile(r"(\d[\d,]*)/(\d[\d,]*) (documents|passages)\b")


@pytest.mark.model  # the model's pace: the n-gram encoder ingests these in a few seconds
def test_ingest_through_a_pipe_prints_progress_lines_with_done_and_total(tmp_path, model_cache_dir):
    files = _many_documents(tmp_path / "speeches", 200)
    env = user_env(tmp_path / "home", model_cache_dir, model=True)
    started = time.monotonic()
    done = speechqa("ingest", str(tmp_path / "speeches"), "--data", str(tmp_path / "collection"), env=env, timeout=900)
    took = time.monotonic() - started
    assert done.returncode == 0, done.stderr
    # A line comes every LINE_EVERY_S seconds and a closing one at the end: past that interval there are two.
    assert took > LINE_EVERY_S, f"the ingest took {took:.1f} s: too few documents to show progress over time"
    lines = [line for line in done.stderr.splitlines() if _PROGRESS_LINE.search(line)]
    assert len(lines) >= 2, done.stderr
    for line in lines:
        count, total, unit = _PROGRESS_LINE.search(line).groups()
        assert int(count.replace(",", "")) <= int(total.replace(",", ""))
        if unit == "documents":
            assert int(total.replace(",", "")) == files
        if not re.search(r" in \d+:\d\d$", line):  # all but the closing line say how fast and how long
            assert "/s" in line and "left" in line, line
    assert "sentence" not in done.stderr


# -- 5. counting ----------------------------------------------------------------------------------

def test_a_missing_file_is_counted_as_rejected_and_leaves_no_collection(tmp_path, model_cache_dir):
    env = user_env(tmp_path / "home", model_cache_dir)
    data = tmp_path / "collection"
    done = speechqa("ingest", str(tmp_path / "nothere.txt"), "--data", str(data), env=env)
    assert done.returncode == 1
    assert "1 rejected" in done.stdout + done.stderr
    assert not (data / "speechqa.sqlite").exists()
    later = speechqa("search", "招商引资", "--data", str(data), env=env)
    assert later.returncode != 0 and "no collection" in later.stderr, later


def test_every_bad_file_is_counted(tmp_path, model_cache_dir):
    (tmp_path / "empty.txt").write_bytes(b"")
    (tmp_path / "notes.xyz").write_text("什么", encoding="utf-8")
    (tmp_path / "short.txt").write_text("标题", encoding="utf-8")
    paths = [str(tmp_path / name) for name in ("nothere.txt", "empty.txt", "notes.xyz", "short.txt")]
    done = speechqa("ingest", *paths, "--data", str(tmp_path / "collection"),
                    env=user_env(tmp_path / "home", model_cache_dir))
    assert done.returncode == 1
    assert "4 rejected" in done.stdout + done.stderr, done


def test_docs_list_says_how_many_it_shows_of_how_many(fake_seed_collection_dir, model_cache_dir, tmp_path):
    env = user_env(tmp_path / "home", model_cache_dir, SPEECHQA_DATA=str(fake_seed_collection_dir))
    listed = speechqa("docs", "list", "--limit", "2", env=env)
    assert listed.returncode == 0, listed.stderr
    assert "2 of 5" in listed.stdout + listed.stderr


def test_an_upload_of_only_rejected_files_is_422_with_the_reasons(client):
    answer = client.post("/api/documents", files=[("files", ("notes.xyz", "什么".encode(), "text/plain")),
                                                  ("files", ("empty.txt", b"", "text/plain"))])
    assert answer.status_code == 422, answer.text
    error = answer.json()["error"]
    assert "notes.xyz" in error["message"] and "empty.txt" in error["message"]
    assert [item["source"] for item in error["rejected"]] == ["notes.xyz", "empty.txt"]


# -- 6. English results mark the sentence that best answers ---------------------------------------

def test_english_results_mark_the_best_answering_sentence(model_client):
    results = model_client.get("/api/search", params={"q": ENGLISH_QUESTION, "k": 5}).json()["results"]
    assert len(results) == 5
    for hit in results:
        assert len(hit["highlights"]) >= 1, hit
        for start, end in hit["highlights"]:
            assert 0 <= start < end <= len(hit["text"])


def test_the_phrase_timeline_is_offered_for_a_phrase_only(model_client):
    english = model_client.get("/search", params={"q": ENGLISH_QUESTION})
    assert english.status_code == 200
    assert "/phrase?" not in english.text
    phrase = model_client.get("/search", params={"q": "工业强县"})
    assert "/phrase?q=" in phrase.text


# -- 7. each front end speaks its own words -------------------------------------------------------

def test_cli_errors_name_cli_options(fake_seed_collection_dir, model_cache_dir, tmp_path):
    env = user_env(tmp_path / "home", model_cache_dir, SPEECHQA_DATA=str(fake_seed_collection_dir))
    similar = speechqa("similar", env=env)
    assert similar.returncode != 0 and "--chunk" in similar.stderr and "text=" not in similar.stderr, similar.stderr
    empty = speechqa("search", "", env=env)
    assert empty.returncode != 0 and "q=" not in empty.stderr, empty.stderr
    missing = speechqa("docs", "show", "d-nope", env=env)
    assert missing.returncode != 0 and "/api/" not in missing.stderr and "docs list" in missing.stderr, missing.stderr


def test_data_naming_a_file_says_it_is_a_file(tmp_path, model_cache_dir):
    a_file = tmp_path / "notes.txt"
    a_file.write_text("笔记", encoding="utf-8")
    listed = speechqa("docs", "list", "--data", str(a_file), env=user_env(tmp_path / "home", model_cache_dir))
    assert listed.returncode != 0
    assert "is a file" in listed.stderr and f"--data {a_file}" not in listed.stderr, listed.stderr


HELP_COMMANDS = [["ingest"], ["docs", "list"], ["docs", "show"], ["docs", "rm"], ["search"], ["similar"], ["eval"],
                 ["reindex"], ["serve"], ["phrase"], ["mcp"], ["demo"]]


@pytest.mark.parametrize("command", HELP_COMMANDS, ids=" ".join)
def test_help_ends_with_the_example_and_shows_no_bool_placeholders(command):
    shown = CliRunner().invoke(app, [*command, "--help"], env={"COLUMNS": "120"})
    assert shown.exit_code == 0
    lines = [line.strip(" │") for line in shown.output.splitlines() if line.strip(" │╰─╯")]
    assert lines[-1].startswith("Example: speechqa " + command[0]), shown.output
    assert "<bool>" not in shown.output


def test_phrase_counts_one_document_in_the_singular(fake_seed_collection_dir, model_cache_dir, tmp_path):
    env = user_env(tmp_path / "home", model_cache_dir, SPEECHQA_DATA=str(fake_seed_collection_dir))
    shown = speechqa("phrase", "建设项目", env=env)
    assert shown.returncode == 0, shown.stderr
    assert "(1 document)" in shown.stdout and "(1 documents)" not in shown.stdout, shown.stdout


def _display_width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def test_docs_list_columns_line_up(fake_seed_collection_dir, model_cache_dir, tmp_path):
    """Each column (date, title, speaker, passages) starts, or for a number ends, at the same place on every line."""
    env = user_env(tmp_path / "home", model_cache_dir, SPEECHQA_DATA=str(fake_seed_collection_dir))
    rows = [json.loads(line) for line in speechqa("docs", "list", "--json", env=env).stdout.splitlines()]
    lines = speechqa("docs", "list", env=env).stdout.splitlines()
    columns: dict[str, list[tuple[int, int]]] = {}
    for row in rows:
        [line] = [line for line in lines if line.startswith(row["doc_id"])]
        fields = {"date": row["date"], "title": row["title"], "speaker": row["speaker"]}
        for name, value in fields.items():
            if value:
                at = line.index(value)
                columns.setdefault(name, []).append((_display_width(line[:at]), _display_width(line[: at + len(value)])))
        after = line.index(row["date"]) + len(row["date"]) if row["date"] else len(row["doc_id"])
        count = re.search(rf"(?<![\w-]){row['n_chunks']}(?![\w-])", line[after:])
        assert count, line
        columns.setdefault("passages", []).append((_display_width(line[: after + count.start()]),
                                                   _display_width(line[: after + count.end()])))
    assert sum(1 for row in rows if row["speaker"]) >= 2  # the seeds: so that the speaker column is checked
    for name, spans in columns.items():
        starts, ends = {start for start, _ in spans}, {end for _, end in spans}
        assert len(starts) == 1 or len(ends) == 1, (name, spans, lines)


def test_mcp_errors_name_mcp_arguments(fake_seed_collection_dir, model_cache_dir):
    pytest.importorskip("mcp", reason="the mcp package is not installed (pip install 'speechqa[mcp]')")
    from test_mcp import run_session

    async def steps(session):
        return {"search": await session.call_tool("search", {"query": ""}),
                "similar": await session.call_tool("similar", {}),
                "document": await session.call_tool("get_document", {"doc_id": "d-nope"})}

    out = run_session(fake_seed_collection_dir, model_cache_dir, steps)
    for name, result in out.items():
        assert result.is_error, (name, result)
        message = result.content[0].text
        assert "q=" not in message and "--" not in message and "/api/" not in message and "docs list" not in message, message
    assert "`query`" in out["search"].content[0].text
    assert "`chunk_id`" in out["similar"].content[0].text


# -- 8. smaller ------------------------------------------------------------------------------------

def test_an_unencoded_query_gets_the_json_error(fake_server):
    with socket.create_connection(("127.0.0.1", fake_server.port), timeout=30) as sock:
        sock.sendall("GET /api/search?q=工 HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode())
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400"), head
    assert b"application/json" in head.lower(), head
    error = json.loads(body)["error"]
    assert error["code"] == "bad_request" and "encode" in error["message"], error


def test_similar_with_both_text_and_chunk_id_is_refused(client):
    chunk_id = client.get("/api/search", params={"q": "招商引资", "k": 1}).json()["results"][0]["chunk_id"]
    answer = client.post("/api/similar", json={"text": "坚持工业立县、工业兴县、工业强县战略", "chunk_id": chunk_id})
    assert answer.status_code == 400, answer.text
    message = answer.json()["error"]["message"]
    assert "text" in message and "chunk_id" in message and "not both" in message


def test_mcp_results_read_as_a_short_summary(fake_seed_collection_dir, model_cache_dir):
    pytest.importorskip("mcp", reason="the mcp package is not installed (pip install 'speechqa[mcp]')")
    from test_mcp import run_session

    async def steps(session):
        return await session.call_tool("search", {"query": "招商引资进度为什么落后", "k": 3})

    result = run_session(fake_seed_collection_dir, model_cache_dir, steps)
    assert not result.is_error
    text = result.content[0].text
    structured = result.structured_content
    assert not text.lstrip().startswith("{") and "facets" not in text
    assert len(text) < len(json.dumps(structured, ensure_ascii=False)) / 2
    first = structured["results"][0]
    assert first["citation"]["title"] in text and first["link"] in text


def test_a_title_then_office_and_name_gives_the_speaker():
    from qa.ingest.cleaning import clean_text
    from qa.ingest.metadata import extract_metadata
    from qa.types import RawDocument

    text = ("在全县招商引资工作推进会上的讲话\n县长 王明远\n同志们：\n"
            "今天我们召开全县招商引资工作推进会，主要任务是总结去年工作，安排部署今年任务。")
    metadata = extract_metadata(RawDocument(text=text, source="upload.txt"), clean_text(text))
    assert metadata.speaker == "王明远"
    assert metadata.title == "在全县招商引资工作推进会上的讲话"


def test_the_documents_page_offers_delete_to_those_allowed(client):
    page = client.get("/documents")
    assert page.status_code == 200
    doc_ids = [document["doc_id"] for document in client.get("/api/documents").json()["documents"]]
    for doc_id in doc_ids:
        assert f'action="/documents/{doc_id}/delete"' in page.text


def test_the_documents_page_offers_no_delete_to_those_not_allowed(settings_factory, fake_seed_service_copy, tmp_path):
    # Served beyond loopback without a token, the API refuses every DELETE: the page offers none.
    settings = settings_factory(tmp_path / "unused-data", host="0.0.0.0")
    with _client(settings, fake_seed_service_copy) as open_client:
        page = open_client.get("/documents")
    assert page.status_code == 200
    assert "/delete" not in page.text and "details class=\"delete\"" not in page.text
    # With a token, the control asks for it, as the upload form does.
    with _client(settings_factory(tmp_path / "unused-data", host="0.0.0.0", token="secret"), fake_seed_service_copy) as tokened:
        page = tokened.get("/documents")
    assert 'action="/documents/' in page.text and page.text.count('name="token"') >= 2
