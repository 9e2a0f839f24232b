"""How a `speechqa` command is declared: its --help ends with its example, a request model's fields are its
options, and its errors name them as the CLI does. Apart from qa/cli.py, which holds the commands themselves."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import BaseModel

from qa.errors import SpeechQAError, Worded
from qa.search.requests import parameters

__all__ = ["DataOpt", "IndexOpt", "JsonOpt", "ModelOpt", "RerankerOpt", "cli_word", "command", "takes"]


def command(group: typer.Typer, name: str | None = None) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """Register a command whose docstring ends in "Example: …": --help prints that example last, after the options."""

    def register(function: Callable[..., None]) -> Callable[..., None]:
        doc = inspect.cleandoc(function.__doc__ or "")
        body, _, example = doc.rpartition("\n\nExample: ")
        if example:
            function.__doc__ = body
        # "\b" keeps click from rewrapping the example.
        return group.command(name, epilog=f"\b\nExample: {example}" if example else None)(function)

    return register


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

        # How this command's errors name the request's fields: as its argument and options.
        words = {field.name: f"the {field.name} argument" if field.name == argument else
                 min((names or {}).get(field.name, ("--" + field.alias.replace("_", "-"),)), key=len)
                 for field in parameters(model)}

        def run(**values: Any) -> None:
            given = {field.name: values.pop(field.name) for field in fields}
            try:
                command(model(**{name: value for name, value in given.items() if value is not None}), **values)
            except SpeechQAError as exc:
                if isinstance(exc, Worded):
                    exc.template = exc.worded(lambda name: words.get(name) or cli_word(name))
                    exc.args = (exc.template,)
                raise

        run.__name__, run.__doc__ = command.__name__, command.__doc__
        run.__signature__ = inspect.Signature([*fields, *(p.replace(kind=inspect.Parameter.KEYWORD_ONLY) for p in own)])  # type: ignore[attr-defined]
        return run

    return decorate


def cli_word(name: str) -> str:
    """How the CLI names a field or an action outside a command's own options."""
    return "`speechqa docs list`" if name == "list_documents" else "--" + name.replace("_", "-")
