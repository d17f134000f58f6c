"""Conversion with a check: write to a temporary path, read it back, compare, then rename.

The comparison is what "lossless for what the formats share" means in practice: the same episodes in
the same order, the same observation keys and shapes, equal actions, vector observations, rewards,
success flags, labels and who-acted masks, the same fps and task. Camera frames pass through H.264,
so they are compared within a tolerance (mean absolute error in 0..255 intensity levels).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from protege.data.formats.common import EXTRA_FIELDS, atomic_output, is_image_spec
from protege.data.formats.detect import detect_format, output_format
from protege.data.native import Dataset
from protege.errors import ProtegeError
from protege.progress import Progress

IMAGE_TOLERANCE = 8.0  # mean |decoded - original| allowed for camera frames after H.264, intensity levels


@dataclass
class ConversionReport:
    src: Path
    dst: Path
    from_format: str
    to_format: str
    episodes: int
    steps: int
    seconds: float
    obs_keys: list[str]
    image_error: dict[str, float] = field(default_factory=dict)  # key -> mean abs error after the round trip

    def summary(self) -> str:
        img = "".join(f"; {k}: mean |pixel error| {v:.2f}/255" for k, v in self.image_error.items())
        return (f"converted {self.episodes} episodes ({self.steps} steps) from {self.from_format} {self.src} to "
                f"{self.to_format} {self.dst} in {self.seconds:.1f} s; read back and checked "
                f"(obs keys {self.obs_keys}){img}")


def convert_checked(src: str | Path, dst: str | Path, from_fmt: str | None, to_fmt: str | None,
                    obs_keys: Sequence[str] | None, filter_key: str | None, overwrite: bool,
                    progress: Progress | None, **options: Any) -> ConversionReport:
    from protege.data.formats import load_any, save_as

    t0 = time.perf_counter()
    src, dst = Path(src), Path(dst)
    from_fmt = from_fmt or detect_format(src)
    to = output_format(dst, to_fmt, from_fmt)
    if src.resolve() == dst.resolve():
        raise ProtegeError(f"{dst}: expected a destination other than the source, found the same path")
    ds = load_any(src, obs_keys, from_fmt, filter_key, progress)
    with atomic_output(dst, overwrite) as tmp:
        save_as(ds, tmp, to, progress, **options)
        back = load_any(tmp, list(ds.spec.observation), to, progress=progress)
        # Only LeRobot stores cameras lossily (H.264); every other format must give the pixels back exactly.
        image_error = compare(ds, back, dst, IMAGE_TOLERANCE if to == "lerobot" else 0.0)
    return ConversionReport(src, dst, from_fmt, to, len(ds), ds.num_steps, time.perf_counter() - t0,
                            list(ds.spec.observation), image_error)


def compare(a: Dataset, b: Dataset, where: str | Path, image_tolerance: float = 0.0) -> dict[str, float]:
    """Raise a ProtegeError naming the first difference between two datasets; returns image errors."""
    def fail(field: str, expected: Any, found: Any) -> None:
        raise ProtegeError(f"{where}: check after writing: field '{field}': expected {expected}, found {found} "
                           f"(nothing was written)")

    if len(a) != len(b):
        fail("episodes", len(a), len(b))
    if list(a.spec.observation) != list(b.spec.observation):
        fail("observation keys", list(a.spec.observation), list(b.spec.observation))
    if a.spec.fps != b.spec.fps:
        fail("fps", a.spec.fps, b.spec.fps)
    if (a.meta.get("task") or None) != (b.meta.get("task") or None):
        fail("task", a.meta.get("task"), b.meta.get("task"))
    errors: dict[str, list[float]] = {}
    for i, (x, y) in enumerate(zip(a.episodes, b.episodes)):
        if len(x) != len(y):
            fail(f"episode {i} length", len(x), len(y))
        if x.success != y.success:
            fail(f"episode {i} success", x.success, y.success)
        if x.info != y.info:
            fail(f"episode {i} info", x.info, y.info)
        for key, spec in a.spec.observation.items():
            u, v = x.observations[key], y.observations[key]
            if u.shape != v.shape:
                fail(f"episode {i} observations/{key} shape", u.shape, v.shape)
            if is_image_spec(spec):
                # lazy cameras (FrameArray) are decoded here, one episode at a time
                err = float(np.abs(np.asarray(u, np.int16) - np.asarray(v, np.int16)).mean())
                errors.setdefault(key, []).append(err)
                if err > image_tolerance:
                    fail(f"episode {i} observations/{key}", f"mean |pixel error| <= {image_tolerance}", f"{err:.2f}")
            elif not np.array_equal(u, v):
                fail(f"episode {i} observations/{key}", "equal values", f"max |diff| {np.abs(u - v).max()}")
        for name in ("actions", "rewards", *EXTRA_FIELDS):
            u, v = getattr(x, name), getattr(y, name)
            if (u is None) != (v is None) or (u is not None and not np.array_equal(u, v)):
                fail(f"episode {i} {name}", "equal values", "different values" if u is not None and v is not None
                     else f"{'missing' if v is None else 'extra'} array")
    return {k: float(np.mean(v)) for k, v in errors.items()}
