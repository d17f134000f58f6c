"""Run folders as the viewer shows them: checkpoints, DAgger runs, RL/DAPG runs and evaluation results.

Each function reads what the producing command writes (see `checkpoint.py`, `algos/dagger/run_folder.py`,
`algos/rl/checkpoint.py`, `commands/eval.py`) with plain json/csv, never torch, so a run opens in
milliseconds. Sub-items another page shows (a DAgger run's data, an RL run's policy, a checkpoint's
evaluations) are returned as `children`: paths relative to the served folder, with their kind.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import Any

from protege.errors import bad_input
from protege.viewer.kinds import Root, children, is_eval_json, kind_of, read_json

VIDEO_SUFFIXES = (".mp4", ".webm", ".gif")


def _child(root: Root, path: Path, kind: str | None = None) -> dict[str, Any] | None:
    rel = root.rel(path)
    kind = kind or kind_of(path)
    if rel is None or kind is None:
        return None
    root.allow(path)
    return {"name": path.name, "path": rel, "kind": kind}


def _finite(x: Any) -> Any:
    return x if not isinstance(x, float) or math.isfinite(x) else None


def checkpoint_summary(root: Root, path: Path) -> dict[str, Any]:
    cfg = read_json(path / "config.json")
    keep = ("policy", "protege_version", "best_val_loss", "best_step", "task", "rl_iteration", "env_steps")
    out: dict[str, Any] = {k: _finite(cfg.get(k)) for k in keep if k in cfg}
    spec = cfg.get("spec") or {}
    out["spec"] = {"observation": {k: f"{v.get('dtype')}{v.get('shape')}" for k, v in (spec.get("observation") or {}).items()},
                   "action": f"{(spec.get('action') or {}).get('dtype')}{(spec.get('action') or {}).get('shape')}",
                   "fps": spec.get("fps")}
    for section in ("policy_config", "train", "dataset", "encoder", "dagger", "rl"):
        if isinstance(cfg.get(section), dict):
            value = dict(cfg[section])
            value.pop("episode_seeds", None)  # hundreds of numbers nobody reads here
            out[section] = value
    # `protege train` writes history.json beside the checkpoint (algos/bc.py, one record per validation point)
    history = cfg.get("history")
    if history is None and (path / "history.json").is_file():
        history = read_json(path / "history.json")
    out["history"] = history if isinstance(history, list) else None
    out["children"] = [c for p in sorted(path.glob("*.json")) if p.name != "config.json"
                       for c in [_child(root, p)] if c and c["kind"] == "eval"]
    return out


def dagger_summary(root: Root, path: Path) -> dict[str, Any]:
    config = read_json(path / "config.json") if (path / "config.json").is_file() else {}
    rounds = read_json(path / "rounds.json") if (path / "rounds.json").is_file() else []
    if not isinstance(rounds, list):
        raise bad_input(path / "rounds.json", None, "a list of round records", type(rounds).__name__)
    kids = []
    if (path / "data").is_dir() and kind_of(path / "data") == "dataset":
        kids.append(_child(root, path / "data", "dataset"))
    for r in rounds:
        folder = path / "rounds" / f"round_{int(r.get('round', 0)):03d}"
        for ck in (folder, folder / "member_0"):  # an ensemble learner: its first member
            if kind_of(ck) == "checkpoint":
                kids.append({**_child(root, ck, "checkpoint"), "name": f"round {r.get('round')} learner"})
                break
    return {"config": config if isinstance(config, dict) else {}, "rounds": rounds, "children": [c for c in kids if c]}


def dart_summary(root: Root, path: Path) -> dict[str, Any]:
    """dart.json (task, policy, config, one record per finished round) and each round's data and policy."""
    run = read_json(path / "dart.json")
    if not isinstance(run, dict) or not isinstance(run.get("rounds"), list):
        raise bad_input(path / "dart.json", "rounds", "a list of round records", repr(type(run).__name__))
    kids = []
    for r in run["rounds"]:
        folder = path / f"round_{int(r.get('round', 0))}"
        for sub, kind, name in (("data", "dataset", "data"), ("checkpoint", "checkpoint", "policy")):
            if kind_of(folder / sub) == kind:
                kids.append({**_child(root, folder / sub, kind), "name": f"round {r.get('round')} {name}"})
    return {"config": {"task": run.get("task"), "policy": run.get("policy"), **(run.get("config") or {})},
            "rounds": run["rounds"], "children": [c for c in kids if c]}


def read_curve(path: Path) -> list[dict[str, float]]:
    """The rows of an RL run's curve.csv as numbers (cells that are not numbers are left out)."""
    rows = []
    try:
        with path.open(newline="") as f:
            for row in csv.DictReader(f):
                clean = {}
                for k, v in row.items():
                    try:
                        clean[k] = float(v)
                    except (TypeError, ValueError):
                        continue
                rows.append(clean)
    except OSError as e:
        raise bad_input(path, None, "a readable CSV file", f"{type(e).__name__}: {e.strerror or e}") from None
    return rows


def rl_summary(root: Root, path: Path) -> dict[str, Any]:
    curve = read_curve(path / "curve.csv") if (path / "curve.csv").is_file() else []
    if not curve:  # a run interrupted before its first curve.csv: the last iteration's state holds it
        states = sorted((path / "iterations").glob("[0-9]*/rl_state.json")) if (path / "iterations").is_dir() else []
        if states:
            state = read_json(states[-1])
            curve = [r for r in state.get("curve", []) if isinstance(r, dict)] if isinstance(state, dict) else []
    cfg: dict[str, Any] = {}
    if (path / "policy" / "config.json").is_file():
        full = read_json(path / "policy" / "config.json")
        cfg = {k: full.get(k) for k in ("rl", "task", "policy") if k in full}
    demo = (cfg.get("rl") or {}).get("lambda0", 0) if isinstance(cfg.get("rl"), dict) else 0
    kids = [_child(root, path / "policy", "checkpoint")] if kind_of(path / "policy") == "checkpoint" else []
    kids += [_child(root, p) for p in sorted(path.glob("*.json")) if kind_of(p) == "eval"]
    return {"curve": curve, "config": cfg, "algo": "dapg" if demo else "rl", "children": [c for c in kids if c],
            "png": root.rel(path / "curve.png") if (path / "curve.png").is_file() else None}


def _video_segments(video: Path, per_episode: list[dict[str, Any]]) -> dict[str, Any]:
    """Where each rollout lies in an evaluation's video. `protege eval --video` renders the first episodes
    back to back, one frame at reset and one per step (length + 1 frames each); the video's frame count
    says how many were rendered."""
    try:
        import imageio_ffmpeg

        nframes, secs = imageio_ffmpeg.count_frames_and_secs(str(video))
    except Exception as e:  # ffmpeg's failures come in several types; the page says the video is unreadable
        return {"error": f"{video}: expected a readable video, found {type(e).__name__}: {e}"}
    fps = nframes / secs if secs > 0 else 0.0
    segments, start = [], 0
    for i, r in enumerate(per_episode):
        n = int(r.get("length", 0)) + 1
        if start + n > nframes:
            break
        segments.append({"episode": i, "start": start / fps if fps else 0.0, "end": (start + n) / fps if fps else 0.0})
        start += n
    return {"frames": nframes, "seconds": secs, "fps": fps, "segments": segments}


def _find_video(root: Root, path: Path, video: str) -> str | None:
    """The served path of a video an evaluation result names, or None when it is not inside the served
    folder. A relative name is read from the result's folder, then from here (`protege eval` records the
    path as given on its command line), then as the same folder name or file name beside the result (a
    result moved together with its videos)."""
    vpath = Path(video)
    candidates = [vpath] if vpath.is_absolute() else [path.parent / vpath, Path.cwd() / vpath]
    if vpath.parent.name:
        candidates.append(path.parent / vpath.parent.name / vpath.name)
    candidates.append(path.parent / vpath.name)
    for p in candidates:
        if p.is_file() and p.suffix.lower() in VIDEO_SUFFIXES and root.rel(p) is not None:
            root.allow(p)
            return root.rel(p)
    return None


def eval_summary(root: Root, path: Path) -> dict[str, Any]:
    obj = read_json(path)
    if not is_eval_json(obj):
        raise bad_input(path, None, "an evaluation result (success_rate, per_episode)", f"keys {sorted(obj)[:8]}")
    per = [dict(r, episode=i) for i, r in enumerate(obj.get("per_episode") or []) if isinstance(r, dict)]
    out = {k: obj.get(k) for k in ("who", "task", "episodes", "successes", "success_rate", "ci_low", "ci_high",
                                   "mean_return", "mean_length")}
    missing = 0
    for r in per:  # every rollout's own video (protege eval --videos DIR)
        if isinstance(r.get("video"), str) and r["video"]:
            found = _find_video(root, path, r["video"])
            missing += found is None
            r["video"] = found
        else:
            r.pop("video", None)
    if missing:
        out["videos_missing"] = (f"{missing} of {len(per)} episode videos not found inside the served folder "
                                 f"(the viewer serves nothing outside it)")
    out["per_episode"] = sorted(per, key=lambda r: (bool(r.get("success")), r["episode"]))  # failures first
    video = obj.get("video")
    out["video"] = None
    if isinstance(video, str) and video:
        found = _find_video(root, path, video)
        if found is not None:
            out["video"] = {"path": found, **_video_segments(root.resolve(found), per)}
        else:
            out["video_missing"] = f"{video}: not found inside the served folder (the viewer serves nothing outside it)"
    return out


def folder_summary(root: Root, path: Path) -> dict[str, Any]:
    return {"children": [c for name, kind in children(path) for c in [_child(root, path / name, kind)] if c]}
