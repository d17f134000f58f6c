"""Videos of rollouts: off-screen MuJoCo rendering written to mp4 with imageio-ffmpeg.

Off-screen rendering needs a GL backend. Unless `MUJOCO_GL` is already set, EGL is used where a GPU
render node exists and OSMesa (Debian package libosmesa6, which `make test`/`make demo` install) otherwise.
MuJoCo loads the named library when it is first imported, and a missing one breaks that import for the
whole process, simulation included; so a backend whose library is absent is never named (see
`choose_gl_backend`), and a render that cannot get a context fails with one line (`rendering_error`).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import numpy as np

from protege.errors import ProtegeError


def _has_gpu_render_node() -> bool:
    return os.path.exists("/dev/nvidia0") or os.path.exists("/dev/dri/renderD128")


def _pick_gl_backend() -> str:
    """EGL on a GPU; else OSMesa; else EGL if its library is there (Mesa renders in software through it);
    else "disable" (MuJoCo imports and simulates, and rendering fails with `rendering_error`)."""
    from ctypes.util import find_library

    if _has_gpu_render_node():
        return "egl"
    if find_library("OSMesa"):
        return "osmesa"
    return "egl" if find_library("EGL") else "disable"


def choose_gl_backend() -> str:
    """Set MUJOCO_GL (and PyOpenGL's platform) before MuJoCo is imported; returns the backend."""
    if "MUJOCO_GL" not in os.environ:
        os.environ["MUJOCO_GL"] = _pick_gl_backend()
    if os.environ["MUJOCO_GL"] in ("egl", "osmesa"):
        os.environ.setdefault("PYOPENGL_PLATFORM", os.environ["MUJOCO_GL"])
    return os.environ["MUJOCO_GL"]


GL_HINT = ("install libosmesa6: `make system-deps` as root, or `sudo apt-get install libosmesa6`; "
           "or set MUJOCO_GL=egl on a machine with a GPU")


def rendering_error(what: str, e: BaseException) -> ProtegeError:
    """The one-line error for a failed off-screen render: backend, the cause's first line, how to fix it.

    GL failures surface as many types, often with multi-line messages (PyOpenGL's missing library is an
    AttributeError on None), so only the first line of the cause is kept."""
    cause = (str(e).strip().splitlines() or [""])[0]
    return ProtegeError(f"{what}: expected off-screen rendering (MUJOCO_GL={os.environ.get('MUJOCO_GL', 'unset')}) "
                        f"to work, found {type(e).__name__}: {cause} ({GL_HINT})")


class VideoWriter:
    """An mp4 (H.264, via imageio-ffmpeg) written frame by frame, so a long episode is never held in memory.

    Frames (H, W, 3) uint8 go to a temporary sibling of `path`, renamed into place by `close()`; the size is
    taken from the first frame. `abort()` removes the temporary file."""

    def __init__(self, path: str | Path, fps: float):
        self.path, self.fps = Path(path), fps
        self.tmp = self.path.with_name(f".{self.path.stem}.tmp{self.path.suffix}")
        self._writer = None
        self.frames = 0

    def add(self, frame: np.ndarray) -> None:
        frame = np.ascontiguousarray(np.asarray(frame, dtype=np.uint8))
        if self._writer is None:
            import imageio_ffmpeg

            self.path.parent.mkdir(parents=True, exist_ok=True)
            h, w = frame.shape[:2]
            self._writer = imageio_ffmpeg.write_frames(str(self.tmp), (w, h), fps=max(1.0, self.fps), codec="libx264",
                                                       quality=7, macro_block_size=1, ffmpeg_log_level="error")
            self._writer.send(None)  # start the encoder
        self._writer.send(frame)
        self.frames += 1

    def close(self) -> Path:
        if self._writer is None:
            raise ProtegeError(f"{self.path}: expected frames to write, found none (did the env render?)")
        self._writer.close()
        self._writer = None
        self.tmp.replace(self.path)
        return self.path

    def abort(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        self.tmp.unlink(missing_ok=True)


def write_video(path: str | Path, frames: Sequence[np.ndarray], fps: float) -> Path:
    """Write RGB frames (H, W, 3) uint8 to an mp4 (H.264, via imageio-ffmpeg)."""
    writer = VideoWriter(path, fps)
    try:
        for f in frames:
            writer.add(f)
        return writer.close()
    except BaseException:
        writer.abort()
        raise


def read_video(path: str | Path) -> list[np.ndarray]:
    """Decode an mp4 into RGB frames (H, W, 3) uint8."""
    import imageio_ffmpeg

    reader = imageio_ffmpeg.read_frames(str(path))
    meta = next(reader)
    w, h = meta["size"]
    return [np.frombuffer(b, np.uint8).reshape(h, w, 3) for b in reader]
