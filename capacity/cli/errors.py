"""Map library errors to one stderr line and an exit code (the table in ``capacity --help``)."""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable
from enum import IntEnum
from typing import ParamSpec, TypeVar

import typer

from capacity.core.errors import CapacityError, EnvironmentMissingError, SpecFileError

P = ParamSpec("P")
R = TypeVar("R")


MAX_PROBLEMS = 10  # lines of a broken file's problems shown


def capped(problems: list[str]) -> list[str]:
    """A broken file's first :data:`MAX_PROBLEMS` problems and a count of the rest (200 nameless scenarios
    printed 200 lines)."""
    if len(problems) <= MAX_PROBLEMS:
        return problems
    return [*problems[:MAX_PROBLEMS], f"... and {len(problems) - MAX_PROBLEMS:,} more problems in the file"]


class ExitCode(IntEnum):
    OK = 0
    LIMIT_VIOLATED = 1
    BAD_INPUT = 2
    MISSING_ENVIRONMENT = 3
    INTERNAL_ERROR = 4


EXIT_CODES_HELP = (
    "Exit codes: 0 ok; 1 evaluated but a limit was violated; 2 bad input or usage; "
    "3 the environment lacks what was asked for (e.g. no GPU); 4 an internal error (a bug: please report it)."
)

state = {"traceback": False}


def exit_code_for(exc: CapacityError) -> ExitCode:
    if isinstance(exc, EnvironmentMissingError):
        return ExitCode.MISSING_ENVIRONMENT
    return ExitCode.BAD_INPUT


def handles_errors(func: Callable[P, R]) -> Callable[P, R]:
    """Decorate a command: a :class:`CapacityError` becomes ``error: …`` on stderr and its exit code."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except CapacityError as exc:
            if state["traceback"]:
                raise
            for line in capped(exc.problems) if isinstance(exc, SpecFileError) else [str(exc)]:
                sys.stderr.write(f"error: {line}\n")
            raise typer.Exit(exit_code_for(exc)) from None
        except BrokenPipeError:  # a reader that stopped early (``| head``) is not an error: exit 0 quietly
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())  # stdout is flushed again at exit: point it nowhere
            raise typer.Exit(ExitCode.OK) from None
        except (typer.Exit, typer.Abort):
            raise
        except Exception as exc:  # anything else is a bug, not the user's input or a violated limit
            if state["traceback"]:
                raise
            sys.stderr.write(
                f"error: internal error ({type(exc).__name__}: {exc}); please report it with the command "
                "line (rerun with --traceback for the details)\n"
            )
            raise typer.Exit(ExitCode.INTERNAL_ERROR) from None

    return wrapper
