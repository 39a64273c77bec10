"""The ``capacity`` command-line app: parses, calls the library, renders, maps errors to exit codes.

Exit codes (the same for every command): 0 ok; 1 evaluated, but a limit was violated; 2 bad input
or usage (unknown id, bad number, broken file); 3 the environment lacks what was asked for (no GPU).
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from capacity import __version__
from capacity.cli import (
    bench_cmd,
    chips_cmd,
    clusters_cmd,
    compare_cmd,
    models_cmd,
    scenario_cmd,
    serve_cmd,
    train_cmd,
    validate_cmd,
)
from capacity.cli.errors import EXIT_CODES_HELP, state

app = typer.Typer(
    name="capacity",
    help="AI-compute capacity planner: training and serving what-ifs, plans as YAML, chips compared; "
    "every figure sourced.\n\n" + EXIT_CODES_HELP,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"capacity {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    traceback: Annotated[
        bool, typer.Option("--traceback", help="Show the full traceback on errors.")
    ] = False,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version and exit.")
    ] = False,
) -> None:
    state["traceback"] = traceback


app.add_typer(chips_cmd.app, name="chips")
app.add_typer(models_cmd.app, name="models")
app.command("clusters")(clusters_cmd.clusters)
app.command("train")(train_cmd.train)
app.command("explain")(train_cmd.explain)
app.command("serve")(serve_cmd.serve)
app.command("validate")(validate_cmd.validate)
app.command("run")(scenario_cmd.run)
app.command("check")(scenario_cmd.check)
app.command("schema")(scenario_cmd.schema)
app.command("compare")(compare_cmd.compare)
app.command("bench")(bench_cmd.bench)


def main() -> None:
    """Console-script entry point. A usage error the parser finds itself (``--qps 1e``, an unknown option)
    is one ``error:`` line naming the command's help, exit 2, like every other bad input; a bare command
    still shows its help."""
    from typer.exceptions import Abort, TyperException

    try:
        code = app(prog_name="capacity", standalone_mode=False)
    except TyperException as exc:
        if type(exc).__name__ == "NoArgsIsHelpError":  # `capacity` alone: the help, as before
            exc.show()  # type: ignore[attr-defined]
            sys.exit(2)
        ctx = getattr(exc, "ctx", None)
        hint = f"; see `{ctx.command_path} --help`" if ctx is not None else ""
        message = " ".join(exc.format_message().split()).rstrip(".")
        sys.stderr.write(f"error: {message}{hint}\n")
        sys.exit(getattr(exc, "exit_code", 2))
    except Abort:
        sys.stderr.write("aborted\n")
        sys.exit(1)
    sys.exit(code if isinstance(code, int) else 0)
