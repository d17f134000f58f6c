"""User-facing errors.

`ProtegeError` is what bad input raises: a one-line message that names the file, the field, what was
expected and what was found. The CLI prints it without a traceback (unless `--debug`) and exits non-zero.
Programming errors stay ordinary exceptions so that they keep their tracebacks.
"""

from __future__ import annotations

from pathlib import Path


class ProtegeError(Exception):
    """An error caused by the user's input, with a message meant to be read by the user."""


def bad_input(source: str | Path | None, field: str | None, expected: str, found: str) -> ProtegeError:
    """Build the standard one-line message: `<source>: field '<field>': expected <expected>, found <found>`."""
    parts = []
    if source is not None:
        parts.append(str(source))
    if field is not None:
        parts.append(f"field '{field}'")
    where = ": ".join(parts)
    return ProtegeError(f"{where}: expected {expected}, found {found}" if where else f"expected {expected}, found {found}")
