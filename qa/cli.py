"""`speechqa`: one entry point, one subcommand per job; every --help ends with an example."""

from __future__ import annotations

import itertools
import json
import sys
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from qa.app import limit_heap_arenas, open_service, searches_at_once
from qa.cli_options import DataOpt, IndexOpt, JsonOpt, ModelOpt, RerankerOpt, cli_word, command, takes
from qa.errors import SpeechQAError, Worded
from qa.search.requests import (
    DocumentsRequest,
    PhraseRequest,
    ReuseRequest,
    SearchRequest,
    SimilarRequest,
    TopReuseRequest,
)
from qa.settings import Settings

if TYPE_CHECKING:
    from qa.ingest.pipeline import IngestReport

# Plain help (no rich panels): rich shows a <bool> placeholder after every flag, --help included.
app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False, rich_markup_mode=None,
                  help="Semantic search over speeches and policy texts.")
docs_app = typer.Typer(no_args_is_help=True, rich_markup_mode=None, help="List, show and remove documents of a collection.")
app.add_typer(docs_app, name="docs")


def _print_version(asked: bool) -> None:
    if asked:
        from qa import __version__

        typer.echo(f"speechqa {__version__}")
        raise typer.Exit()


@app.callback()
def _options(version: Annotated[bool, typer.Option("--version", callback=_print_version, is_eager=True,
                                                   help="print the version and exit")] = False) -> None:
    pass


def _settings(data: Path | None = None, model: str | None = None, **extra: object) -> Settings:
    return Settings.from_env(data_dir=data, model=model, **extra)


def _emit(obj: dict) -> None:
    sys.stdout.write(json.dumps(obj, ensure_ascii=False) + "\n")


def run_ingest(settings: Settings, paths: list[Path], *, limit: int | None = None,
               missing: Sequence[str] = ()) -> tuple[IngestReport, int]:
    """Ingest paths into the collection of `settings`; returns (report, documents in the collection).

    `missing` are paths that name nothing, each rejected like a file that cannot be read. Progress is
    counted in records (documents, or the rejected), a bar on a terminal and a line every few seconds
    otherwise. A collection this creates and leaves without a document is removed again, so a failed
    ingest leaves nothing that a later command would take for a collection.
    """
    from qa.app import open_ingester
    from qa.ingest.pipeline import count_all_records, read_records
    from qa.progress import Progress
    from qa.types import Rejection

    directory = settings.data_dir
    before = set(directory.iterdir()) if directory.is_dir() else None
    records = itertools.chain((Rejection(path, "no such file or folder") for path in missing),
                              read_records(paths, settings.max_file_bytes, limit))
    expected = len(missing) + count_all_records(paths, limit)
    # Into an existing collection this appends: only the new passages are embedded and indexed.
    service = open_ingester(settings)
    with Progress("ingest", "documents", expected) as progress:
        report = service.changes.add_documents(records, prepare_workers=None, commit_passages=settings.commit_passages,
                                               progress=progress.advance, yield_to_searches=False)
    total = service.documents(0, 1)[1]
    service.collection.close()
    if total == 0 and settings.index is None:
        _remove_new_entries(directory, before)
    return report, total


def _remove_new_entries(directory: Path, before: set[Path] | None) -> None:
    """Remove what an ingest created in `directory` (the whole folder when it made that too)."""
    import shutil

    if before is None:
        shutil.rmtree(directory, ignore_errors=True)
        return
    for entry in set(directory.iterdir()) - before:
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)


@command(app)
def ingest(
    paths: Annotated[list[Path], typer.Argument(help="files or folders (searched recursively)")],
    data: DataOpt = None,
    model: ModelOpt = None,
    max_file_mb: Annotated[float | None, typer.Option(help="reject files larger than this (default 20)")] = None,
    batch_size: Annotated[int | None, typer.Option(help="passages per embedding batch")] = None,
    limit: Annotated[int | None, typer.Option(help="stop after this many records (e.g. the first N stories of a .jsonl.gz)")] = None,
    as_json: JsonOpt = False,
    index: IndexOpt = None,
    ray: Annotated[bool, typer.Option("--ray", help="prepare and embed on a Ray cluster, writing to the Milvus --index")] = False,
    ray_address: Annotated[str | None, typer.Option(help="the Ray cluster for --ray (default: $RAY_ADDRESS, else a local one)")] = None,
) -> None:
    """Clean, split, embed and index speech files (.txt .md .html .docx .pdf .jsonl[.gz] .csv).

    Example: speechqa ingest speeches/ news.jsonl.gz --data ./my-collection
    """
    max_bytes = int(max_file_mb * 1024 * 1024) if max_file_mb else None
    settings = _settings(data, model, max_file_bytes=max_bytes, batch_size=batch_size, index=index)
    missing = [str(p) for p in paths if not p.exists() and not p.is_symlink()]
    found = [p for p in paths if str(p) not in missing]
    if ray or ray_address:
        from qa.types import Rejection

        report, total = _ray_ingest(settings, found, ray_address, limit)
        for path in missing:
            report.reject(Rejection(path, "no such file or folder"))
    else:
        report, total = run_ingest(settings, found, limit=limit, missing=missing)
    for rejection in report.rejections():
        if as_json:
            _emit({"rejected": rejection.source, "reason": rejection.reason})
        else:
            typer.echo(f"rejected {rejection.source}: {rejection.reason}", err=True)
    summary = report.summary()
    if as_json:
        _emit({"summary": report.counts(), "documents": total})
    else:
        typer.echo(f"{summary}; the collection at {settings.index or settings.data_dir} holds {total} documents")
    if not (report.added or report.updated or report.duplicates):
        raise typer.Exit(1)


def _ray_ingest(settings: Settings, paths: list[Path], address: str | None, limit: int | None) -> tuple[IngestReport, int]:
    from qa.errors import BadInputError
    from qa.index.milvus_backend import is_milvus_index
    from qa.ingest.ray_ingest import ray_ingest

    index = settings.index
    if index is None or not is_milvus_index(index):
        raise BadInputError("--ray writes to Milvus: give --index milvus://HOST:19530 (or a Milvus Lite path ending in .db)")
    return ray_ingest(settings, index, paths, address=address, limit=limit)


def _browser(settings: Settings):
    """A service for browsing and removing documents: it never loads the model."""
    from qa.app import open_reader

    return open_reader(settings)


@command(docs_app, "list")
@takes(DocumentsRequest)
def docs_list(listing: DocumentsRequest, data: DataOpt = None, as_json: JsonOpt = False, index: IndexOpt = None) -> None:
    """List documents: id, date, passages, speaker, title; how many of how many on stderr.

    Example: speechqa docs list --limit 20
    """
    from qa.serialize import DocumentSummary

    settings = _settings(data, index=index)
    service = _browser(settings)
    listing = listing.checked()
    rows, total = service.documents(listing.offset, listing.limit)
    if as_json:
        for document, n_chunks in rows:
            _emit(DocumentSummary.of(document, n_chunks).data())
        return
    # Columns line up in a terminal, where a Chinese character takes two cells; the title, longest, comes last.
    counts = [f"{n_chunks} passage{'s' if n_chunks != 1 else ''}" for _, n_chunks in rows]
    speakers = [document.metadata.speaker or "" for document, _ in rows]
    count_width = max(map(len, counts), default=0)
    speaker_width = max(map(_cells, speakers), default=0)
    for (document, _), count, speaker in zip(rows, counts, speakers, strict=True):
        meta = document.metadata
        typer.echo(f"{document.doc_id}  {meta.date or '----------'}  {count:>{count_width}}  "
                   f"{speaker}{' ' * (speaker_width - _cells(speaker))}  {meta.title or '(untitled)'}".rstrip())
    shown_to = listing.offset + len(rows)
    more = f"; --offset {shown_to} for the next" if shown_to < total else ""
    first = f"{listing.offset + 1}–{shown_to}" if rows else "none"
    typer.echo(f"documents {first} of {total}{more}", err=True)


def _cells(text: str) -> int:
    """How many terminal cells `text` takes: two for a wide (Chinese) character, one for others."""
    import unicodedata

    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


@command(docs_app, "show")
def docs_show(doc_id: str, data: DataOpt = None, as_json: JsonOpt = False, index: IndexOpt = None) -> None:
    """Show one document: metadata and cleaned text.

    Example: speechqa docs show d-1a2b3c4d5e6f7a8b --json
    """
    from qa.serialize import DocumentDetail

    service = _browser(_settings(data, index=index))
    detail = DocumentDetail.of_document(*service.document(doc_id)).data()
    if as_json:
        _emit(detail)
        return
    for key in ("doc_id", "title", "date", "date_kind", "speaker", "place", "script", "n_chunks"):
        typer.echo(f"{key}: {detail[key]}")
    typer.echo("sources: " + ", ".join(detail["sources"]))
    typer.echo("")
    typer.echo(detail["text"])


@command(docs_app, "rm")
def docs_rm(doc_id: str, data: DataOpt = None, index: IndexOpt = None) -> None:
    """Remove a document and its passages from the collection and its indexes.

    Example: speechqa docs rm d-1a2b3c4d5e6f7a8b
    """
    service = _browser(_settings(data, index=index))
    service.changes.remove_document(doc_id)  # only its passages leave the indexes
    service.collection.close()
    typer.echo(f"removed {doc_id}")


def _print_result(result, as_json: bool) -> None:
    from qa.serialize import Hit

    if not result.hits and not as_json:
        typer.echo("no passages found")
    if result.preferences and not as_json:
        named = "; ".join(f"{kind}: {', '.join(values)}" for kind, values in result.preferences.items())
        applied = ", ".join(f"{kind}:{value}" for kind, value in result.applied_filters)
        how = (f"favouring documents that fit {applied} (--ignore-filter {result.applied_filters[0][0]}:… to switch one "
               "off, --no-prefer for all)") if result.applied_filters else "not applied"
        typer.echo(f"the question names {named} — {how}", err=True)
    for hit in result.hits:
        if as_json:
            _emit(Hit.of(hit).data())
            continue
        meta = hit.document.metadata
        cite = " · ".join(str(x) for x in (meta.title, meta.date, meta.speaker, hit.passage.section) if x)
        typer.echo(f"[{hit.rank}] {hit.score:.3f}  {cite}")
        typer.echo(f"    {hit.passage.chunk_id} in {hit.passage.doc_id} chars {hit.passage.char_start}-{hit.passage.char_end}")
        typer.echo("    " + hit.passage.text.replace("\n", " ")[:300])
        typer.echo("")


@command(app)
@takes(SearchRequest, argument="query")
def search(
    request: SearchRequest,
    data: DataOpt = None,
    model: ModelOpt = None,
    as_json: JsonOpt = False,
    index: IndexOpt = None,
    reranker: RerankerOpt = None,
) -> None:
    """Ask a question; print the best passages with citations.

    Example: speechqa search "招商引资进度为什么落后" --k 5
    """
    service = open_service(_settings(data, model, index=index, reranker=reranker))
    _print_result(service.search(request), as_json)


@command(app)
@takes(SimilarRequest, argument="text", names={"chunk_id": ("--chunk-id", "--chunk")})
def similar(
    request: SimilarRequest,
    data: DataOpt = None,
    model: ModelOpt = None,
    as_json: JsonOpt = False,
    index: IndexOpt = None,
    reranker: RerankerOpt = None,
) -> None:
    """Find where similar policy language was used in other documents (give the text, or --chunk-id).

    Example: speechqa similar "坚持工业立县、工业兴县、工业强县战略" --k 5
    """
    service = open_service(_settings(data, model, index=index, reranker=reranker))
    _print_result(service.similar(request), as_json)


@command(app, "eval")
def eval_command(
    questions: Annotated[list[Path], typer.Argument(help="one or more questions files")],
    data: DataOpt = None,
    model: ModelOpt = None,
    k: Annotated[int, typer.Option(help="passages per query, 1-100")] = 10,
    mode: Annotated[str, typer.Option(help="hybrid, dense, lexical, or all")] = "hybrid",
    script: Annotated[str, typer.Option(help="convert queries first: none, t2s or s2t")] = "none",
    as_json: JsonOpt = False,
    index: IndexOpt = None,
    reranker: RerankerOpt = None,
) -> None:
    """Measure recall@1/5/10 and MRR@10 on questions files (one JSON object a line: id, type, query, gold);
    with several files, each file's figures and then those of all their questions pooled.

    Example: speechqa eval ../shared/eval/archive_dev_questions.jsonl ../shared/eval/archive_dev2_questions.jsonl --mode all
    """
    from qa.search.evaluate import evaluate_sets, load_questions
    from qa.text.normalize import to_simplified, to_traditional

    transforms = {"none": None, "t2s": to_simplified, "s2t": to_traditional}
    if script not in transforms:
        raise typer.BadParameter("--script must be none, t2s or s2t")
    sets = {str(path): load_questions(path) for path in questions}
    if len(sets) < len(questions):
        raise typer.BadParameter("each questions file may be named once")
    service = open_service(_settings(data, model, index=index, reranker=reranker))
    modes = ["dense", "lexical", "hybrid"] if mode == "all" else [mode]
    several = len(sets) > 1
    for one in modes:
        reports, pooled = evaluate_sets(service, sets, k=k, mode=one, transform=transforms[script])
        if not several:
            _print_evaluation(next(iter(reports.values())), as_json)
            continue
        for name, report in reports.items():
            _print_evaluation(report, as_json, heading=name, extra={"file": name})
        _print_evaluation(pooled, as_json, heading=f"pooled: {len(sets)} files", extra={"files": list(sets)})


def _print_evaluation(report: dict, as_json: bool, *, heading: str | None = None, extra: dict | None = None) -> None:
    if as_json:
        _emit({**(extra or {}), **report})
        return
    if heading:
        typer.echo(f"[{heading}]")
    overall = report["overall"]
    typer.echo(f"mode={report['mode']}  n={overall['n']}  " + "  ".join(f"{key}={value}" for key, value in overall.items() if key != "n")
               + f"  p50={report['latency_ms']['p50']}ms p95={report['latency_ms']['p95']}ms")
    for kind, metrics in report["by_type"].items():
        typer.echo(f"    {kind:<13}" + "  ".join(f"{key}={value}" for key, value in metrics.items()))


@command(app)
def reindex(data: DataOpt = None, model: ModelOpt = None, batch_size: int | None = None) -> None:
    """Bring a collection up to date: re-derive metadata and BM25 words from the stored text, embed
    passages the model has no vector for (after a model change), and rebuild the indexes.

    Example: speechqa reindex --model BAAI/bge-m3
    """
    from qa.app import reindex as reindex_collection
    from qa.progress import Progress

    settings = _settings(data, model, batch_size=batch_size)
    with Progress("reindex: embedding", "passages") as progress:
        report = reindex_collection(settings, progress.advance)
    typer.echo(f"refreshed {report.documents_refreshed} documents, embedded {report.passages_embedded} passages and "
               f"{report.titles_embedded} titles; index rebuilt with {report.model} ({report.index})")


@command(app)
def serve(
    data: DataOpt = None,
    model: ModelOpt = None,
    host: str = "127.0.0.1",
    port: int = 8000,
    index: IndexOpt = None,
    reranker: RerankerOpt = None,
) -> None:
    """Serve the web pages and the JSON API.

    Example: speechqa serve --host 127.0.0.1 --port 8000
    """
    _serve(_settings(data, model, host=host, port=port, index=index, reranker=reranker))


def _serve(settings: Settings) -> None:
    import uvicorn

    from web.app import create_app
    from web.guard import MAX_REQUEST_HEAD_BYTES
    from web.protocol import JsonErrorH11Protocol

    # Before the server starts a thread: a heap for each search that runs at once, not one for every request thread.
    limit_heap_arenas(searches_at_once(settings))
    app_ = create_app(settings)
    typer.echo(f"speechqa is serving {settings.data_dir} at http://{settings.host}:{settings.port}/", err=True)
    uvicorn.run(app_, host=settings.host, port=settings.port, log_level="warning", http=JsonErrorH11Protocol,
                h11_max_incomplete_event_size=MAX_REQUEST_HEAD_BYTES)


@command(app)
@takes(PhraseRequest, argument="phrase", limit=20)
def phrase(
    request: PhraseRequest,
    data: DataOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the API's JSON (GET /api/phrase) on one line")] = False,
    index: IndexOpt = None,
) -> None:
    """Every exact occurrence of a phrase: counts per period, first use, who used it most, where.

    Example: speechqa phrase "工业强县" --granularity year
    """
    from qa.serialize import PhraseTimeline

    service = _browser(_settings(data, index=index))
    timeline = service.phrase(request)
    if as_json:
        _emit(PhraseTimeline.of(timeline).data())
        return
    if not timeline.total_occurrences:
        typer.echo(f"「{timeline.phrase}」 occurs nowhere in the collection (exact match, both scripts); "
                   f"search for it by meaning: speechqa search {json.dumps(timeline.phrase, ensure_ascii=False)}")
        return
    typer.echo(f"「{timeline.phrase}」: {_counted(timeline.total_occurrences, 'occurrence')} in "
               f"{_counted(timeline.total_documents, 'document')}")
    top = max((p.occurrences for p in timeline.series), default=0)
    for point in timeline.series:
        bar = "█" * round(30 * point.occurrences / top) if top else ""
        typer.echo(f"  {point.period:>7}  {point.occurrences:>5}  {bar}")
    if timeline.undated_occurrences:
        typer.echo(f"  undated  {timeline.undated_occurrences:>5}")
    if timeline.first is not None:
        typer.echo(f"first use: {_cite(timeline.first)}")
    for label, rows in (("speakers", timeline.by_speaker), ("sources", timeline.by_source)):
        if rows:
            typer.echo(f"{label}: " + ", ".join(f"{row.value} ({_counted(row.documents, 'document')})" for row in rows[:5]))
    typer.echo("")
    for hit in timeline.occurrences:
        start, end = hit.highlights[0]
        text_ = hit.passage.text.replace("\n", " ")
        typer.echo(f"[{hit.rank}] {_cite(hit)}")
        typer.echo(f"    …{text_[max(0, start - 40):start]}【{text_[start:end]}】{text_[end:end + 40]}…")
    shown = timeline.offset + len(timeline.occurrences)
    if shown < timeline.total_occurrences:
        typer.echo(f"({timeline.total_occurrences - shown} more: --offset {shown})")


@command(app)
@takes(ReuseRequest, argument="chunk_id", limit=20)
def reuse(
    request: ReuseRequest,
    data: DataOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the API's JSON (GET /api/reuse) on one line")] = False,
    index: IndexOpt = None,
) -> None:
    """Every document that reuses a passage's wording (give its chunk id, or --text), in time order, with citations.

    Example: speechqa reuse c-4eadaac54e5b4061-0 --hide-series
    """
    from qa.cli_reuse import reuse_lines
    from qa.serialize_reuse import ReuseResponse

    report = _browser(_settings(data, index=index)).reuse(request)
    if as_json:
        _emit(ReuseResponse.of(report).data())
        return
    for line in reuse_lines(report, hide_series=request.hide_series, cite=_cite):
        typer.echo(line)


@command(app, "reuse-top")
@takes(TopReuseRequest)
def reuse_top(
    request: TopReuseRequest,
    data: DataOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the API's JSON (GET /api/reuse/top) on one line")] = False,
    index: IndexOpt = None,
) -> None:
    """The most reused passages of the collection (or of a date range), with how many documents hold each.

    Example: speechqa reuse-top --date-from 2020-01-01 --date-to 2020-12-31 --limit 10
    """
    from qa.cli_reuse import top_lines
    from qa.serialize_reuse import TopReuseResponse

    top = _browser(_settings(data, index=index)).reuse_top(request)
    if as_json:
        _emit(TopReuseResponse.of(top).data())
        return
    for line in top_lines(top, cite=_cite):
        typer.echo(line)


def _counted(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _cite(hit) -> str:
    meta = hit.document.metadata
    where = f"{hit.passage.doc_id}#{hit.passage.chunk_id}"
    return " · ".join(str(x) for x in (meta.title, meta.date, meta.speaker, where) if x)


@command(app)
def mcp(
    data: DataOpt = None,
    model: ModelOpt = None,
    http: Annotated[bool, typer.Option("--http", help="serve streamable HTTP on loopback instead of stdio")] = False,
    host: Annotated[str, typer.Option(help="--http: loopback address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="--http: port (the endpoint is http://HOST:PORT/mcp)")] = 8765,
    web_url: Annotated[str, typer.Option(help="where the web app runs: the base of every result's link")] = "http://127.0.0.1:8000",
    index: IndexOpt = None,
) -> None:
    """Serve the collection to AI assistants over the Model Context Protocol (read-only unless SPEECHQA_TOKEN is set).

    Example: speechqa mcp --data ./my-collection
    """
    from qa.mcp_server import serve

    serve(_settings(data, model, index=index), http=http, host=host, port=port, web_url=web_url)


def _is_empty(settings: Settings) -> bool:
    """Whether the collection of `settings` is missing or holds no documents (an ingest that added none)."""
    from qa.index.collection import STORE_FILE

    directory = settings.data_dir
    if not (directory / STORE_FILE).exists() or not (directory / "manifest.json").exists():
        return True
    service = _browser(settings)
    try:
        return service.documents(0, 1)[1] == 0
    finally:
        service.collection.close()


def sample_speeches_dir() -> Path:
    return Path(str(resources.files("qa") / "sample_speeches"))


@command(app)
def demo(
    data: Annotated[Path | None, typer.Option("--data", help="collection directory (default: $SPEECHQA_DATA or "
                                              "~/.local/share/speechqa, which every command uses)")] = None,
    host: str = "127.0.0.1",
    port: int = 8000,
    no_serve: Annotated[bool, typer.Option("--no-serve", help="build the demo collection and exit")] = False,
) -> None:
    """Ingest the bundled sample speeches into the collection when it has no documents yet, then serve it.

    The collection is the one every other command uses by default, so `speechqa search` finds the demo.

    Example: speechqa demo --port 8000
    """
    settings = _settings(data, host=host, port=port)
    directory = settings.data_dir
    if _is_empty(settings):
        typer.echo(f"building the demo collection in {directory} (first run converts the bundled model; a minute or two)", err=True)
        report, total = run_ingest(settings, [sample_speeches_dir()])
        typer.echo(f"{report.summary()}; {total} documents", err=True)
    if no_serve:
        return
    typer.echo(f"open http://{host}:{port}/ in a browser", err=True)
    _serve(settings)


def main() -> None:
    try:
        app()
    except SpeechQAError as exc:
        typer.echo(f"error: {exc.worded(cli_word) if isinstance(exc, Worded) else exc}", err=True)
        sys.exit(2)
    except KeyboardInterrupt:
        typer.echo("interrupted: whole documents already ingested are kept; run the same command again to finish", err=True)
        sys.exit(130)


if __name__ == "__main__":
    main()
