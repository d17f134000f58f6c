"""What the page receives for one episode: every action and observation dimension as a plotted series,
who acted, interventions, expert labels, and the camera frames as PNG images.

Numbers are sent with 5 significant digits (a plot needs no more, and the JSON of a 500-step, 40-dimension
episode stays near 200 kB). Frames of a native dataset are sent as the PNG bytes stored in the file, never
decoded and encoded again; other sources (LeRobot video, in-memory arrays) are encoded to PNG here.
"""

from __future__ import annotations

import base64
from typing import Any

import numpy as np

from protege.data.episode import Episode
from protege.data.frames import is_image_array
from protege.specs import Spec

MAX_DIMS_PER_KEY = 64  # a key with more dimensions (a flattened depth image, say) shows its first 64


def numbers(x: np.ndarray) -> list[float]:
    """Floats for JSON with 5 significant digits."""
    return [float(f"{v:.5g}") for v in np.asarray(x, np.float64).ravel().tolist()]


def _series(group: str, name: str, values: np.ndarray, **extra: Any) -> dict[str, Any]:
    return {"group": group, "name": name, "values": numbers(values), **extra}


def episode_payload(ep: Episode, spec: Spec, index: int, task: str | None = None) -> dict[str, Any]:
    """The JSON of one episode page. Series are (T,) each: actions (with the expert's label where one was
    asked and the action bounds), each vector observation dimension (the first T steps), rewards."""
    T = len(ep)
    series = []
    low, high = spec.action.low, spec.action.high
    acts = ep.actions.reshape(T, -1)
    labels = ep.labels.reshape(T, -1) if ep.labels is not None else None
    for d in range(acts.shape[1]):
        extra: dict[str, Any] = {}
        if labels is not None:
            extra["label"] = [v if m else None for v, m in zip(numbers(labels[:, d]), ep.label_mask.tolist())]
        if low is not None and high is not None:
            extra["low"], extra["high"] = low[d], high[d]
        series.append(_series("action", f"action[{d}]", acts[:, d], **extra))
    cameras = {}
    for key, obs in ep.observations.items():
        if is_image_array(obs):
            cameras[key] = {"frames": int(obs.shape[0]), "shape": [int(s) for s in obs.shape[1:]]}
            continue
        x = np.asarray(obs)[:T].reshape(T, -1)
        for d in range(min(x.shape[1], MAX_DIMS_PER_KEY)):
            series.append(_series(key, f"{key}[{d}]", x[:, d]))
    if ep.rewards is not None:
        series.append(_series("reward", "reward", ep.rewards))
    return {"index": index, "length": T, "success": ep.success, "fps": spec.fps, "task": ep.info.get("task") or task,
            "instruction": ep.info.get("instruction"), "info": _jsonable(ep.info), "series": series,
            "source": ep.source.tolist() if ep.source is not None else None,
            "intervened": ep.intervened.astype(int).tolist() if ep.intervened is not None else None,
            "label_mask": ep.label_mask.astype(int).tolist() if ep.label_mask is not None else None,
            "cameras": cameras,
            "dims_cut": {k: int(np.prod(v.shape[1:])) for k, v in ep.observations.items()
                         if not is_image_array(v) and int(np.prod(v.shape[1:])) > MAX_DIMS_PER_KEY}}


def frame_indices(n: int, max_frames: int) -> np.ndarray:
    """At most `max_frames` evenly spaced frame indices of `n` (all of them when n <= max_frames)."""
    if n <= max_frames:
        return np.arange(n)
    return np.unique(np.linspace(0, n - 1, max_frames).round().astype(np.int64))


def frames_png(frames: Any, idx: np.ndarray) -> list[bytes]:
    """PNG bytes of frames `idx` of one camera (a FrameArray or an array (N, H, W, C) uint8)."""
    from protege.data.framestore import PngFrames, encode_png

    if isinstance(frames, PngFrames):  # the stored PNGs themselves: one read, nothing decoded
        data, offsets = frames.encoded()
        return [data[offsets[i]:offsets[i + 1]].tobytes() for i in idx]
    out = []
    for start in range(0, len(idx), 64):  # a video source decodes a span at a time
        block = np.asarray(frames[idx[start:start + 64]], np.uint8)
        out.extend(encode_png(f) for f in block)
    return out


def frames_payload(ep: Episode, key: str, max_frames: int = 2000) -> dict[str, Any]:
    """{"t": step of each frame, "png": base64 PNGs}: one camera of one episode, for the page's player."""
    from protege.errors import bad_input

    obs = ep.observations.get(key)
    if obs is None or not is_image_array(obs):
        cams = [k for k, v in ep.observations.items() if is_image_array(v)]
        raise bad_input(ep.origin or "episode", "key", f"a camera among {cams}", repr(key))
    idx = frame_indices(int(obs.shape[0]), max_frames)
    return {"key": key, "t": idx.tolist(), "png": [base64.b64encode(b).decode("ascii") for b in frames_png(obs, idx)]}


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, (np.generic,)):
        return obj.item()
    return obj if isinstance(obj, (str, int, float, bool, type(None))) else str(obj)
