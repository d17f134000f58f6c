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
    import imageio_ffmpeg

    path = Path(path)
    if not frames:
        raise ProtegeError(f"{path}: expected frames to write, found none (did the env render?)")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.tmp{path.suffix}")
    h, w = np.asarray(frames[0]).shape[:2]
    writer = imageio_ffmpeg.write_frames(str(tmp), (w, h), fps=max(1.0, fps), codec="libx264", quality=7,
                                         macro_block_size=1, ffmpeg_log_level="error")
    writer.send(None)  # start the encoder
    for f in frames:
        writer.send(np.ascontiguousarray(np.asarray(f, dtype=np.uint8)))
    writer.close()
    tmp.replace(path)
    return path


def read_video(path: str | Path) -> list[np.ndarray]:
    """Decode an mp4 into RGB frames (H, W, 3) uint8."""
    import imageio_ffmpeg

    reader = imageio_ffmpeg.read_frames(str(path))
    meta = next(reader)
    w, h = meta["size"]
    return [np.frombuffer(b, np.uint8).reshape(h, w, 3) for b in reader]
