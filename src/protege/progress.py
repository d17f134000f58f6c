"""Progress reporting handed in by the caller.

Long-running library functions take `progress: Progress | None` and report through it; nothing below the
CLI prints. `TqdmProgress` draws bars on stderr; `None` means silent.

A failure must not leave a bar behind: `bar_scope` closes a bar without drawing a final line when its
block raises, and the CLI calls `discard_open_bars` before it prints the error line (an open tqdm bar
would otherwise draw itself again when it is garbage-collected, after the error).
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Iterator, Protocol


class Bar(Protocol):
    def update(self, n: int = 1, **metrics: Any) -> None: ...

    def close(self) -> None: ...


class Progress(Protocol):
    def __call__(self, desc: str, total: int | None, unit: str = "it") -> Bar: ...


class _NullBar:
    def update(self, n: int = 1, **metrics: Any) -> None:
        pass

    def close(self) -> None:
        pass


def bar(progress: Progress | None, desc: str, total: int | None, unit: str = "it") -> Bar:
    """Open a bar on `progress`, or a silent one when there is none."""
    return _NullBar() if progress is None else progress(desc, total, unit)


def discard(b: Bar) -> None:
    """Close `b` and wipe its line where the bar can (`discard`), else just close it."""
    getattr(b, "discard", b.close)()


@contextmanager
def bar_scope(progress: Progress | None, desc: str, total: int | None, unit: str = "it") -> Iterator[Bar]:
    """`bar(...)` as a context manager: closed at the end of the block, discarded if the block raises."""
    b = bar(progress, desc, total, unit)
    try:
        yield b
    except BaseException:
        discard(b)
        raise
    b.close()


_OPEN: dict[int, "_TqdmBar"] = {}  # id -> bar, while open


def discard_open_bars() -> None:
    """Discard every bar still open (the CLI, before it prints an error line)."""
    for b in list(_OPEN.values()):
        b.discard()


class _TqdmBar:
    def __init__(self, desc: str, total: int | None, unit: str):
        from tqdm import tqdm

        self._bar = tqdm(desc=desc, total=total, unit=unit, dynamic_ncols=True, leave=True)
        _OPEN[id(self)] = self

    def update(self, n: int = 1, **metrics: Any) -> None:
        if metrics:
            self._bar.set_postfix({k: (f"{v:.4g}" if isinstance(v, float) else v) for k, v in metrics.items()},
                                  refresh=False)
        self._bar.update(n)

    def close(self) -> None:
        _OPEN.pop(id(self), None)
        self._bar.close()

    def discard(self) -> None:
        """Close without a final line, clearing what was drawn."""
        self._bar.leave = False
        self.close()


class TqdmProgress:
    """Progress bars on stderr (tqdm)."""

    def __call__(self, desc: str, total: int | None, unit: str = "it") -> Bar:
        return _TqdmBar(desc, total, unit)
