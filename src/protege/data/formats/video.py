"""mp4 frames for camera observations, through the ffmpeg binary that imageio-ffmpeg ships.

`VideoWriter` appends RGB frames (H, W, 3) uint8 to one mp4 (H.264); LeRobot v3.0 puts many episodes
one after another in the same file. `read_frames` decodes only the frames asked for: it seeks to the
first one (ffmpeg's accurate seek) and stops after `count`, so a batch never pays for a whole file.
H.264 is lossy: decoded pixels differ from the originals by a few intensity levels.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from protege.errors import bad_input


class VideoWriter:
    """Writes frames to `path` at `fps`; `crf` 0 is near-lossless, 23 is ffmpeg's default quality."""

    def __init__(self, path: Path, fps: float, height: int, width: int, crf: int = 10):
        import imageio_ffmpeg

        self.path, self.fps, self.shape = Path(path), float(fps), (height, width, 3)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # yuv420p (what every player and LeRobot's decoder expect) needs even sides; odd sides use yuv444p.
        pix = "yuv420p" if height % 2 == 0 and width % 2 == 0 else "yuv444p"
        self.pix_fmt = pix
        self._gen = imageio_ffmpeg.write_frames(str(self.path), (width, height), fps=self.fps, codec="libx264",
                                                pix_fmt_out=pix, macro_block_size=1, quality=None,
                                                output_params=["-crf", str(crf), "-g", "2"],
                                                ffmpeg_log_level="error")
        self._gen.send(None)
        self.frames = 0

    def append(self, frames: np.ndarray) -> None:
        """frames: (N, H, W, 3) uint8."""
        frames = np.ascontiguousarray(frames, dtype=np.uint8)
        if frames.shape[1:] != self.shape:
            raise bad_input(self.path, None, f"frames of shape {self.shape}", f"{frames.shape[1:]}")
        for f in frames:
            self._gen.send(f)
        self.frames += len(frames)

    def close(self) -> None:
        self._gen.close()

    def info(self) -> dict[str, Any]:
        """The `info` block LeRobot keeps in a video feature."""
        h, w, c = self.shape
        return {"video.height": h, "video.width": w, "video.codec": "h264", "video.pix_fmt": self.pix_fmt,
                "video.is_depth_map": False, "video.fps": self.fps, "video.channels": c, "has_audio": False}


def read_frames(path: Path, start: int, count: int, fps: float, height: int, width: int) -> np.ndarray:
    """Decode frames start .. start+count-1 (frame k shown at k/fps) -> (count, H, W, 3) uint8."""
    import imageio_ffmpeg

    path = Path(path)
    if not path.exists():
        raise bad_input(path, None, "an existing mp4 file", "no such file")
    # Seek half a frame early so rounding in the container's time base never skips the first wanted frame.
    inp = ["-ss", f"{(start - 0.5) / fps:.6f}"] if start > 0 else []
    gen = imageio_ffmpeg.read_frames(str(path), input_params=inp, output_params=["-frames:v", str(count)],
                                     pix_fmt="rgb24")
    try:
        meta = gen.__next__()
        w, h = meta["size"]
        if (h, w) != (height, width):
            raise bad_input(path, None, f"frames of {height}x{width}", f"{h}x{w}")
        out = np.empty((count, height, width, 3), np.uint8)
        n = 0
        for raw in gen:
            if n == count:
                break
            out[n] = np.frombuffer(raw, np.uint8).reshape(height, width, 3)
            n += 1
    finally:
        gen.close()
    if n != count:
        raise bad_input(path, None, f"{count} frames from frame {start}", f"{n}")
    return out
