"""`speechqa`: one entry point, one subcommand per job; every --help ends with an example."""

from __future__ import annotations

import inspect
import json
import sys
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from pydantic import BaseModel

from qa.app import open_service
from qa.errors import SpeechQAError
from qa.search.requests import (
    DocumentsRequest,
    PhraseRequest,
    ReuseRequest,
    SearchRequest,
    SimilarRequest,
    TopReuseRequest,
    parameters,
)
from qa.settings import Settings

if TYPE_CHECKING:
    from qa.ingest.pipeline import IngestReport

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False, help="Semantic search over speeches and policy texts.")
docs_app = typer.Typer(no_args_is_help=True, help="List, show and remove documents of a collection.")
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

DataOpt = Annotated[Path | None, typer.Option("--data", help="collection directory (default: $SPEECHQA_DATA or ~/.local/share/speechqa)")]
ModelOpt = Annotated[str | None, typer.Option("--model", help="sentence-transformers model name or path (default: the bundled multilingual-e5-small)")]
JsonOpt = Annotated[bool, typer.Option("--json", help="print one JSON object a line")]
RerankerOpt = Annotated[str | None, typer.Option("--reranker", help="a sentence-transformers CrossEncoder (name or path) "
                                                 "that rescores the best candidates (default: $SPEECHQA_RERANKER, none)")]
IndexOpt = Annotated[str | None, typer.Option("--index", help="a Milvus collection instead of --data: milvus://HOST:19530 (or .../NAME), "
                                              "or a Milvus Lite path ending in .db (default: $SPEECHQA_INDEX)")]


def takes(model: type[BaseModel], *, argument: str | None = None, names: dict[str, tuple[str, ...]] | None = None,
          **defaults: Any) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """A command whose first parameter is a request of `model` (qa.search.requests): the model's fields are its
    options, named as the API names them (--doc, --date-from, --ignore-filter), `argument` its positional
    argument; `names` gives a field more option names, `defaults` the command's own defaults."""

    def decorate(command: Callable[..., None]) -> Callable[..., None]:
        fields = []
        for field in parameters(model):
            default = defaults.get(field.name, field.default)
            if field.name == argument:
                info: Any = typer.Argument(help=field.description, show_default=False)
            elif field.annotation is bool:
                info = typer.Option(f"--{field.alias}/--no-{field.alias}", help=field.description)
            else:
                option = "--" + field.alias.replace("_", "-")
                info = typer.Option(*(names or {}).get(field.name, (option,)), help=field.description)
            fields.append(inspect.Parameter(field.name, inspect.Parameter.KEYWORD_ONLY, default=default,
                                            annotation=Annotated[field.annotation, info]))
        fields.sort(key=lambda parameter: parameter.name != argument)  # the argument first
        own = list(inspect.signature(command, eval_str=True).parameters.values())[1:]

        def run(**values: Any) -> None:
            given = {field.name: values.pop(field.name) for field in fields}
            command(model(**{name: value for name, value in given.items() if value is not None}), **values)

        run.__name__, run.__doc__ = command.__name__, command.__doc__
        run.__signature__ = inspect.Signature([*fields, *(p.replace(kind=inspect.Parameter.KEYWORD_ONLY) for p in own)])  # type: ignore[attr-defined]
        return run

    return decorate


def _settings(data: Path | None = None, model: str | None = None, **extra: object) -> Settings:
    return Settings.from_env(data_dir=data, model=model, **extra)


def _emit(obj: dict) -> None:
    sys.stdout.write(json.dumps(obj, ensure_ascii=False) + "\n")


def _progress_bar(total: int | None, label: str):
    from tqdm import tqdm

    return tqdm(total=total, desc=label, unit="passage", disable=not sys.stderr.isatty(), file=sys.stderr)


def run_ingest(settings: Settings, paths: list[Path], *, limit: int | None = None) -> tuple[IngestReport, int]:
    """Ingest paths into the collection of `settings`; returns (report, documents in the collection)."""
    from qa.app import open_ingester
    from qa.ingest.pipeline import read_records

    # Into an existing collection this appends: only the new passages are embedded and indexed.
    service = open_ingester(settings)
    with _progress_bar(None, "embedding") as bar:
        report = service.changes.add_documents(read_records(paths, settings.max_file_bytes, limit),
                                               prepare_workers=None, commit_passages=settings.commit_passages,
                                               progress=bar.update, yield_to_searches=False)
    total = service.documents(0, 1)[1]
    service.collection.close()
    return report, total


@app.command()
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
    missing = [str(p) for p in paths if not p.exists()]
    for path in missing:
        typer.echo(f"rejected {path}: no such file or folder", err=True)
    if ray or ray_address:
        report, total = _ray_ingest(settings, [p for p in paths if p.exists()], ray_address, limit)
    else:
        report, total = run_ingest(settings, [p for p in paths if p.exists()], limit=limit)
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


@docs_app.command("list")
@takes(DocumentsRequest)
def docs_list(listing: DocumentsRequest, data: DataOpt = None, as_json: JsonOpt = False, index: IndexOpt = None) -> None:
    """List documents: id, date, title, speaker, passages.

    Example: speechqa docs list --limit 20
    """
    from qa.serialize import DocumentSummary

    settings = _settings(data, index=index)
    service = _browser(settings)
    listing = listing.checked()
    rows, _ = service.documents(listing.offset, listing.limit)
    for document, n_chunks in rows:
        if as_json:
            _emit(DocumentSummary.of(document, n_chunks).data())
        else:
            meta = document.metadata
            typer.echo(f"{document.doc_id}  {meta.date or '----------'}  {meta.title or '(untitled)'}"
                       f"  {meta.speaker or ''}  [{n_chunks} passages]")


@docs_app.command("show")
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


@docs_app.command("rm")
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


@app.command()
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


@app.command()
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


@app.command("eval")
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


@app.command()
def reindex(data: DataOpt = None, model: ModelOpt = None, batch_size: int | None = None) -> None:
    """Bring a collection up to date: re-derive metadata and BM25 words from the stored text, embed
    passages the model has no vector for (after a model change), and rebuild the indexes.

    Example: speechqa reindex --model BAAI/bge-m3
    """
    from qa.app import reindex as reindex_collection

    settings = _settings(data, model, batch_size=batch_size)
    with _progress_bar(None, "embedding") as bar:
        report = reindex_collection(settings, bar.update)
    typer.echo(f"refreshed {report.documents_refreshed} documents, embedded {report.passages_embedded} passages and "
               f"{report.titles_embedded} titles; index rebuilt with {report.model} ({report.index})")


@app.command()
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

    app_ = create_app(settings)
    typer.echo(f"speechqa is serving {settings.data_dir} at http://{settings.host}:{settings.port}/", err=True)
    uvicorn.run(app_, host=settings.host, port=settings.port, log_level="warning",
                h11_max_incomplete_event_size=MAX_REQUEST_HEAD_BYTES)


@app.command()
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
    typer.echo(f"「{timeline.phrase}」: {timeline.total_occurrences} occurrences in {timeline.total_documents} documents")
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
            typer.echo(f"{label}: " + ", ".join(f"{row.value} ({row.documents} documents)" for row in rows[:5]))
    typer.echo("")
    for hit in timeline.occurrences:
        start, end = hit.highlights[0]
        text_ = hit.passage.text.replace("\n", " ")
        typer.echo(f"[{hit.rank}] {_cite(hit)}")
        typer.echo(f"    …{text_[max(0, start - 40):start]}【{text_[start:end]}】{text_[end:end + 40]}…")
    shown = timeline.offset + len(timeline.occurrences)
    if shown < timeline.total_occurrences:
        typer.echo(f"({timeline.total_occurrences - shown} more: --offset {shown})")


@app.command()
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


@app.command("reuse-top")
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


def _cite(hit) -> str:
    meta = hit.document.metadata
    where = f"{hit.passage.doc_id}#{hit.passage.chunk_id}"
    return " · ".join(str(x) for x in (meta.title, meta.date, meta.speaker, where) if x)


@app.command()
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


def sample_speeches_dir() -> Path:
    return Path(str(resources.files("qa") / "sample_speeches"))


@app.command()
def demo(
    data: Annotated[Path | None, typer.Option("--data", help="demo collection directory (default: <data dir>/demo)")] = None,
    host: str = "127.0.0.1",
    port: int = 8000,
    no_serve: Annotated[bool, typer.Option("--no-serve", help="build the demo collection and exit")] = False,
) -> None:
    """Ingest the bundled sample speeches into a demo collection (once), then serve it and print the URL.

    Example: speechqa demo --port 8000
    """
    base = _settings()
    directory = data or base.data_dir / "demo"
    settings = _settings(directory, host=host, port=port)
    from qa.index.collection import STORE_FILE

    if not (directory / STORE_FILE).exists() or not (directory / "manifest.json").exists():
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
        typer.echo(f"error: {exc}", err=True)
        sys.exit(2)
    except KeyboardInterrupt:
        typer.echo("interrupted: whole documents already ingested are kept; run the same command again to finish", err=True)
        sys.exit(130)


if __name__ == "__main__":
    main()
