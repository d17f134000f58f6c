"""Camera frames as arrays that need not be in memory.

An image observation is uint8 (T, H, W, 3) per episode. Recorded datasets can be far larger than memory,
so a camera key of an `Episode` may hold any object that behaves like that array without holding it:
`FrameArray`. A plain `np.ndarray` is one; so are the lazy readers of the native format and of LeRobot
videos, which decode only the frames asked for. Consumers index with an int, a slice or an integer array
and get decoded uint8 frames back; `np.asarray(frames)` decodes everything (for small data and tests).

Image keys are recognised by their spec: `ArraySpec(shape=(H, W, 3), dtype="uint8")` (`is_image_spec`).
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import numpy as np


@runtime_checkable
class FrameArray(Protocol):
    """uint8 frames (T, H, W, C) decoded on access."""

    shape: tuple[int, ...]
    dtype: Any

    def __len__(self) -> int: ...

    def __getitem__(self, idx: Any) -> np.ndarray:
        """int -> (H, W, C); slice or int array -> (N, H, W, C); uint8."""

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        """Every frame, decoded: (T, H, W, C) uint8."""


def is_image_spec(spec: Any) -> bool:
    """Whether an ArraySpec describes camera frames: (H, W, C) with C in {1, 3}, uint8."""
    return len(spec.shape) == 3 and spec.shape[-1] in (1, 3) and str(spec.dtype) == "uint8"


def is_image_array(x: Any) -> bool:
    """Whether an observation array holds frames (T, H, W, C) uint8 (a FrameArray or an ndarray)."""
    shape = getattr(x, "shape", ())
    return len(shape) == 4 and shape[-1] in (1, 3) and np.dtype(getattr(x, "dtype", None) or "float32") == np.uint8
