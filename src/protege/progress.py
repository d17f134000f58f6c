"""Progress reporting handed in by the caller.

Long-running library functions take `progress: Progress | None` and report through it; nothing below the
CLI prints. `TqdmProgress` draws bars on stderr; `None` means silent.
"""

from __future__ import annotations

from typing import Any, Protocol


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


class _TqdmBar:
    def __init__(self, desc: str, total: int | None, unit: str):
        from tqdm import tqdm

        self._bar = tqdm(desc=desc, total=total, unit=unit, dynamic_ncols=True, leave=True)

    def update(self, n: int = 1, **metrics: Any) -> None:
        if metrics:
            self._bar.set_postfix({k: (f"{v:.4g}" if isinstance(v, float) else v) for k, v in metrics.items()},
                                  refresh=False)
        self._bar.update(n)

    def close(self) -> None:
        self._bar.close()


class TqdmProgress:
    """Progress bars on stderr (tqdm)."""

    def __call__(self, desc: str, total: int | None, unit: str = "it") -> Bar:
        return _TqdmBar(desc, total, unit)
