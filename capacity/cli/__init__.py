"""The ``capacity`` command-line app: parses, calls the library, renders, maps errors to exit codes.

Exit codes (the same for every command): 0 ok; 1 evaluated, but a limit was violated; 2 bad input
or usage (unknown id, bad number, broken file); 3 the environment lacks what was asked for (no GPU).
"""

from __future__ import annotations

import importlib
import sys
from typing import Annotated, Any

import typer

from capacity import __version__
from capacity.cli.errors import EXIT_CODES_HELP, state

# command -> (module in capacity.cli, attribute, a group of subcommands?), in the order help lists them
COMMANDS: dict[str, tuple[str, str, bool]] = {
    "chips": ("chips_cmd", "app", True),
    "models": ("models_cmd", "app", True),
    "clusters": ("clusters_cmd", "clusters", False),
    "train": ("train_cmd", "train", False),
    "explain": ("train_cmd", "explain", False),
    "serve": ("serve_cmd", "serve", False),
    "validate": ("validate_cmd", "validate", False),
    "run": ("scenario_cmd", "run", False),
    "check": ("scenario_cmd", "check", False),
    "schema": ("scenario_cmd", "schema", False),
    "compare": ("compare_cmd", "compare", False),
    "bench": ("bench_cmd", "bench", False),
}


def _version(value: bool) -> None:
    if value:
        typer.echo(f"capacity {__version__}")
        raise typer.Exit()


def _root(
    traceback: Annotated[
        bool, typer.Option("--traceback", help="Show the full traceback on errors.")
    ] = False,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version and exit.")
    ] = False,
) -> None:
    state["traceback"] = traceback


def build(only: str | None = None) -> typer.Typer:
    """The app with every command, or with ``only`` that one: a command's modules (and the library they
    import) are loaded only when it runs, so a what-if does not pay for the other commands' imports."""
    app = typer.Typer(
        name="capacity",
        help="AI-compute capacity planner: training and serving what-ifs, plans as YAML, chips compared; "
        "every figure sourced.\n\n" + EXIT_CODES_HELP,
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
        rich_markup_mode=None,
    )
    app.callback()(_root)
    for name, (module, attribute, group) in COMMANDS.items():
        if only is None or name == only:
            target = getattr(importlib.import_module(f"capacity.cli.{module}"), attribute)
            if group:
                app.add_typer(target, name=name)
            else:
                app.command(name)(target)
    return app


def _invoked(args: list[str]) -> str | None:
    """The command ``args`` name (the first word that is not a root option), if it is one."""
    word = next((a for a in args if not a.startswith("-")), None)
    return word if word in COMMANDS else None


def __getattr__(name: str) -> Any:
    if name == "app":  # the whole app (tests, documentation): built on first use
        globals()["app"] = built = build()
        return built
    raise AttributeError(name)


def main() -> None:
    """Console-script entry point. A usage error the parser finds itself (``--qps 1e``, an unknown option)
    is one ``error:`` line naming the command's help, exit 2, like every other bad input; a bare command
    still shows its help."""
    from typer.exceptions import Abort, TyperException

    try:
        code = build(_invoked(sys.argv[1:]))(prog_name="capacity", standalone_mode=False)
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
