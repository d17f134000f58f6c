"""Videos of rollouts: off-screen MuJoCo rendering written to mp4 with imageio-ffmpeg.

Off-screen rendering needs a GL backend. Unless `MUJOCO_GL` is already set, EGL is used where a GPU
render node exists and OSMesa (Debian package libosmesa6) otherwise.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import numpy as np

from protege.errors import ProtegeError


def choose_gl_backend() -> str:
    """Set MUJOCO_GL (and PyOpenGL's platform) before MuJoCo creates a context; returns the backend."""
    if "MUJOCO_GL" not in os.environ:
        has_gpu = os.path.exists("/dev/nvidia0") or os.path.exists("/dev/dri/renderD128")
        os.environ["MUJOCO_GL"] = "egl" if has_gpu else "osmesa"
    os.environ.setdefault("PYOPENGL_PLATFORM", os.environ["MUJOCO_GL"])
    return os.environ["MUJOCO_GL"]


def write_video(path: str | Path, frames: Sequence[np.ndarray], fps: float) -> Path:
    """Write RGB frames (H, W, 3) uint8 to an mp4 (H.264, via imageio-ffmpeg)."""
    import imageio.v2 as iio

    path = Path(path)
    if not frames:
        raise ProtegeError(f"{path}: expected frames to write, found none (did the env render?)")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.tmp{path.suffix}")
    with iio.get_writer(tmp, fps=max(1.0, fps), codec="libx264", quality=7, macro_block_size=1,
                        ffmpeg_log_level="error") as writer:
        for f in frames:
            writer.append_data(np.asarray(f, dtype=np.uint8))
    tmp.replace(path)
    return path
