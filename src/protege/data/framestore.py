"""Camera frames inside a native episode file: one PNG per frame, decoded one frame at a time.

A camera key `cam` of an episode (N, H, W, C) uint8 is stored in the episode's .npz as three plain arrays
(no pickles; `allow_pickle=False` reads them):

    frames.cam          uint8 (total_bytes,)  the N PNG files, back to back
    frames_offsets.cam  int64 (N + 1,)        frame i is bytes offsets[i]:offsets[i+1]
    frames_shape.cam    int64 (4,)            (N, H, W, C)

PNG is lossless and each frame decodes alone, so a batch pays for the frames it uses and nothing else.
(Across-frame compression, e.g. `np.savez_compressed`, is smaller for a fixed camera but needs the whole
episode decoded to reach one frame.)

`PngFrames` is the lazy reader (a `FrameArray`). Reading a dataset keeps, per camera of an episode, only
the file path, where the PNG bytes start in it and the offsets (8 bytes a frame): frames are read with one
`pread` per request from a file opened for that request, so memory stays flat however many episodes a
dataset has, and the object pickles small (to loader worker processes). Only when the member is
deflate-compressed (a file written by something else) are its encoded bytes held in memory instead.
"""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any

import numpy as np

from protege.errors import bad_input

DATA, OFFSETS, SHAPE = "frames.", "frames_offsets.", "frames_shape."


def encode_png(frame: np.ndarray) -> bytes:
    """(H, W, C) uint8 -> PNG bytes (zlib level 6: smaller and, on these frames, not slower than level 1)."""
    from PIL import Image

    f = np.asarray(frame, np.uint8)
    img = Image.fromarray(f[..., 0] if f.shape[-1] == 1 else f)
    buf = io.BytesIO()
    img.save(buf, format="PNG", compress_level=6)
    return buf.getvalue()


def decode_png(data: bytes | memoryview, channels: int) -> np.ndarray:
    from PIL import Image

    arr = np.asarray(Image.open(io.BytesIO(bytes(data))))
    return arr[..., None] if channels == 1 and arr.ndim == 2 else arr


def encode_frames(frames: Any) -> dict[str, np.ndarray]:
    """Frames (N, H, W, C) uint8 (an array or a FrameArray) -> {"data", "offsets", "shape"} arrays.
    A `PngFrames` hands over its stored bytes without decoding them."""
    if isinstance(frames, PngFrames):
        data, offsets = frames.encoded()
        return {"data": data, "offsets": offsets, "shape": np.asarray(frames.shape, np.int64)}
    shape = tuple(int(s) for s in frames.shape)
    chunks = []
    for start in range(0, shape[0], 64):  # a lazy source is decoded a few frames at a time
        block = np.asarray(frames[start:start + 64], np.uint8)
        chunks.extend(encode_png(f) for f in block)
    offsets = np.zeros(len(chunks) + 1, np.int64)
    offsets[1:] = np.cumsum([len(c) for c in chunks])
    data = np.frombuffer(b"".join(chunks), np.uint8) if chunks else np.zeros(0, np.uint8)
    return {"data": data, "offsets": offsets, "shape": np.asarray(shape, np.int64)}


class PngFrames:
    """uint8 frames (N, H, W, C) stored as PNGs, decoded on access (see the module docstring).

    source: the encoded bytes (uint8 array), or (path, start): the bytes lie in file `path` from byte
    `start` on. `decoded_frames` counts the frames decoded so far (the cost of laziness, observable)."""

    def __init__(self, source: np.ndarray | tuple[str, int], offsets: np.ndarray, shape: tuple[int, ...],
                 origin: str = "frames"):
        self._source = source
        self.offsets = np.asarray(offsets, np.int64)
        self.shape = tuple(int(s) for s in shape)
        self.dtype = np.dtype(np.uint8)
        self.origin = origin
        self.decoded_frames = 0

    ndim = 4

    @property
    def nbytes_encoded(self) -> int:
        return int(self.offsets[-1])

    @property
    def in_memory_bytes(self) -> int:
        """Bytes this object holds (offsets, plus the encoded frames when not read from a file)."""
        held = self.offsets.nbytes
        return held + (self._source.nbytes if isinstance(self._source, np.ndarray) else 0)

    def __len__(self) -> int:
        return self.shape[0]

    def __repr__(self) -> str:
        return f"PngFrames(shape={self.shape}, {self.nbytes_encoded} bytes encoded, {self.origin})"

    def _read(self, lo: int, hi: int) -> bytes | memoryview:
        """Encoded bytes lo:hi (relative to the first frame)."""
        if isinstance(self._source, np.ndarray):
            return memoryview(self._source)[lo:hi]
        path, start = self._source
        fd = os.open(path, os.O_RDONLY)
        try:
            data = os.pread(fd, hi - lo, start + lo)
        finally:
            os.close(fd)
        if len(data) != hi - lo:
            raise bad_input(path, self.origin, f"{hi - lo} bytes of frames", f"{len(data)} (file changed or truncated)")
        return data

    def encoded(self) -> tuple[np.ndarray, np.ndarray]:
        """(the PNG bytes as uint8 (total,), offsets (N+1,)), without decoding."""
        return np.frombuffer(bytes(self._read(0, self.nbytes_encoded)), np.uint8), self.offsets.copy()

    def __getitem__(self, idx: Any) -> np.ndarray:
        scalar = isinstance(idx, (int, np.integer))
        n = len(self)
        flat = np.arange(n)[idx] if isinstance(idx, slice) else np.atleast_1d(np.asarray(idx, np.int64))
        if flat.ndim != 1:
            raise IndexError(f"{self.origin}: index frames with an int, a slice or a 1-D integer array")
        flat = np.where(flat < 0, flat + n, flat)
        if flat.size and (flat.min() < 0 or flat.max() >= n):
            raise IndexError(f"{self.origin}: frame index out of range [0, {n})")
        out = np.empty((len(flat), *self.shape[1:]), np.uint8)
        if flat.size:
            lo, hi = int(flat.min()), int(flat.max())
            base = int(self.offsets[lo])
            # one read covers the span; a batch's windows are short spans of one episode
            span = self._read(base, int(self.offsets[hi + 1]))
            for j, i in enumerate(flat):
                a, b = int(self.offsets[i]) - base, int(self.offsets[i + 1]) - base
                out[j] = self._decode(span[a:b], int(i))
            self.decoded_frames += len(flat)
        return out[0] if scalar else out

    def _decode(self, data: bytes | memoryview, i: int) -> np.ndarray:
        try:
            frame = decode_png(data, self.shape[-1])
        except Exception as e:  # Pillow raises several types for damaged data
            raise bad_input(self.origin, f"frame {i}", "a PNG image", f"undecodable data ({type(e).__name__}: {e})") from None
        if frame.shape != self.shape[1:] or frame.dtype != np.uint8:
            raise bad_input(self.origin, f"frame {i}", f"uint8 {self.shape[1:]}", f"{frame.dtype} {frame.shape}")
        return frame

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        out = self[:]
        return out if dtype is None else out.astype(dtype)

    def astype(self, dtype: Any) -> np.ndarray:
        """Every frame, decoded, as `dtype` (as ndarray.astype; for code written for in-memory frames)."""
        return self[:].astype(dtype)


def check_layout(path: Path, key: str, offsets: np.ndarray, shape: np.ndarray, nbytes: int) -> tuple[int, ...]:
    """Validate a stored camera's offsets and shape against its byte count, without decoding anything."""
    name = f"observations/{key}"
    shape = np.asarray(shape)
    if shape.shape != (4,) or shape.dtype.kind not in "iu" or (shape < 1).any() or shape[-1] not in (1, 3):
        raise bad_input(path, f"{SHAPE}{key}", "(N, H, W, C) with C in (1, 3)", f"{shape.tolist()}")
    offsets = np.asarray(offsets)
    if offsets.dtype.kind not in "iu" or offsets.shape != (int(shape[0]) + 1,):
        raise bad_input(path, f"{OFFSETS}{key}", f"{int(shape[0]) + 1} integer offsets", f"{offsets.dtype} {offsets.shape}")
    if offsets[0] != 0 or offsets[-1] != nbytes or (np.diff(offsets) <= 0).any():
        raise bad_input(path, name, f"increasing frame offsets from 0 to {nbytes} bytes",
                        f"offsets {offsets[:3].tolist()}...{offsets[-1:].tolist()}")
    return tuple(int(s) for s in shape)
