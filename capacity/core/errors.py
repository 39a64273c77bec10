"""One exception hierarchy for the library; only the CLI maps these to exit codes.

Each error also inherits the closest standard-library type so plain ``except ValueError``
code keeps working. Messages are one line, say what was wrong and what is valid.
"""

from __future__ import annotations


class CapacityError(Exception):
    """Base class for every error the library raises on purpose."""


class InputError(CapacityError, ValueError):
    """The caller's input (a flag, a count, a file) cannot be evaluated."""


class NoLayoutFits(InputError):
    """No layout fits the job in memory on the chips tried: raised instead of reporting the layout that
    misses by least, where the caller asked only whether one fits (a solve over chip counts)."""


class UnknownIdError(InputError, KeyError):
    """An id or alias that is not in the catalogue; carries close matches."""

    def __init__(self, kind: str, name: str, suggestions: list[str], known: list[str]) -> None:
        self.kind = kind
        self.name = name
        self.suggestions = suggestions
        self.known = known
        super().__init__(self.message)

    @property
    def message(self) -> str:
        msg = f"unknown {self.kind} {self.name!r}"
        if self.suggestions:
            msg += "; did you mean " + ", ".join(self.suggestions) + "?"
        else:
            listing = (
                "capacity models --kind image" if self.kind == "image model" else f"capacity {self.kind}s"
            )
            msg += f"; see `{listing}` for the {len(self.known)} known ids"
        return msg

    def __str__(self) -> str:
        return self.message


class SpecFileError(InputError):
    """A data or scenario file that cannot be read or does not validate.

    ``problems`` holds one ``file:line:col: field.path: message`` line per problem.
    """

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__(
            problems[0] if len(problems) == 1 else f"{problems[0]} (and {len(problems) - 1} more)"
        )


class EnvironmentMissingError(CapacityError, RuntimeError):
    """The machine lacks what was asked for (a GPU, a compiler)."""
