"""Errors that the command line turns into a clear message and an exit code (never a traceback).

Exit codes: 0 ok, 1 invalid input or SHACL violations, 2 usage error or unreadable input.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = [
    "SmqiError", "UsageError", "DataError", "ValidationFailed", "JavaMissing", "Problem", "InputInvalid"
]


class SmqiError(Exception):
    """Base of every error meant for the user; ``exit_code`` is what the CLI returns."""

    exit_code = 2


class UsageError(SmqiError):
    """The command was called wrongly (unknown query name, bad option value)."""

    exit_code = 2


class DataError(SmqiError):
    """Input could not be read at all (missing file, broken Turtle, unreadable CSV)."""

    exit_code = 2


class ValidationFailed(SmqiError):
    """Input was read but breaks the codebook or the shapes."""

    exit_code = 1


class JavaMissing(SmqiError):
    """HermiT needs a Java runtime and none was found."""

    exit_code = 2


@dataclass(frozen=True)
class Problem:
    """One problem in one input record, with everything a reviewer needs to fix it."""

    message: str
    file: str | None = None
    row: int | None = None  # CSV: 1-based line number in the file, header = line 1
    entry: str | None = None  # study id, or study_id-use_no for a use
    field: str | None = None
    value: str | None = None
    allowed: str | None = None
    suggestion: str | None = None
    severity: str = "error"

    def location(self) -> str:
        unit = "row" if not self.file or self.file.lower().endswith(".csv") else "line"
        parts = [p for p in (self.file, f"{unit} {self.row}" if self.row else None) if p]
        return ":".join(parts) if parts else "-"

    def as_text(self) -> str:
        bits = [self.location()]
        if self.entry:
            bits.append(self.entry)
        if self.field:
            bits.append(f"field {self.field}")
        if self.value is not None:
            bits.append(f"value {self.value!r}")
        text = ": ".join([", ".join(bits), self.message])
        if self.suggestion:
            text += f" Did you mean {self.suggestion!r}?"
        if self.allowed:
            text += f" Allowed: {self.allowed}."
        return text

    def as_dict(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if v is not None}


@dataclass
class InputInvalid(ValidationFailed):
    """Raised with every problem found, so one run reports them all."""

    problems: list[Problem] = field(default_factory=list)

    def __str__(self) -> str:
        n = len(self.problems)
        return f"{n} problem{'s' if n != 1 else ''} found:\n" + "\n".join(
            p.as_text() for p in self.problems
        )
