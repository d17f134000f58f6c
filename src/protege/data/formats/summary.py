"""What `protege info` prints: format, counts, fps, spec, per-key statistics, successes, splits.

Statistics are over the steps aligned with actions (the final observation left out). Camera keys of a
LeRobot dataset are listed with their shape but not decoded (their statistics come from meta/stats.json).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np

from protege.data.formats.common import is_image_spec
from protege.data.formats.detect import detect_format
from protege.data.stats import array_stats
from protege.progress import Progress


def dataset_info(path: str | Path, obs_keys: Sequence[str] | None = None, fmt: str | None = None,
                 filter_key: str | None = None, progress: Progress | None = None) -> dict[str, Any]:
    from protege.data.formats import load_any

    fmt = fmt or detect_format(path)
    ds = load_any(path, obs_keys, fmt, filter_key, progress)
    conv = (ds.meta.get("provenance") or {}).get("converted_from") or {}
    out: dict[str, Any] = {
        "path": str(path), "format": fmt, "version": conv.get("version") if fmt != "protege" else ds.meta.get("format_version"),
        "task": ds.meta.get("task") or ds.meta.get("tasks"), "episodes": len(ds), "steps": ds.num_steps, "fps": ds.spec.fps,
        "successes": ds.num_success, "episode_length": _lengths([len(e) for e in ds.episodes]),
        "observation": {k: s.describe() for k, s in ds.spec.observation.items()},
        "action": ds.spec.action.describe(),
        "rewards": all(e.rewards is not None for e in ds.episodes),
        "labels": sum(e.num_labels for e in ds.episodes),
        "stats": {}, "source_keys": conv.get("obs_keys"),
    }
    for key, spec in ds.spec.observation.items():
        x = np.concatenate([e.step_observations()[key] for e in ds.episodes])
        # Cameras: per-channel statistics (per-pixel ones would be thousands of numbers).
        out["stats"][f"observation.{key}" + (" (per channel)" if is_image_spec(spec) else "")] = \
            _stats(x.reshape(-1, 3) if is_image_spec(spec) else x)
    out["stats"]["action"] = _stats(np.concatenate([e.actions for e in ds.episodes]))
    if all(e.rewards is not None for e in ds.episodes):
        out["stats"]["reward"] = _stats(np.concatenate([e.rewards for e in ds.episodes])[:, None])
    if ds.meta.get("splits"):
        out["splits"] = {k: len(v) for k, v in ds.meta["splits"].items()}
    if fmt == "lerobot":
        from protege.data.formats.lerobot import LeRobotReader

        r = LeRobotReader(path)
        out["cameras"] = {k: r.features[k]["shape"] for k in r.camera_keys}
        out["data_files"] = len({e.data_file for e in r.episodes})
    return out


def _lengths(x: list[int]) -> dict[str, float]:
    return {"min": int(min(x)), "mean": float(np.mean(x)), "max": int(max(x))}


def _stats(x: np.ndarray) -> dict[str, Any]:
    return {"dims": int(np.prod(x.shape[1:], dtype=int)), **array_stats(x)}


def format_info(info: dict[str, Any], max_dims: int = 6) -> str:
    """Human-readable lines for `protege info`."""
    version = f" {info['version']}" if info.get("version") not in (None, "") else ""
    lines = [f"{info['path']}: {info['format']}{version} dataset",
             f"  task       {info['task']}",
             f"  episodes   {info['episodes']} ({info['successes']} successful), {info['steps']} steps, length "
             f"min {info['episode_length']['min']} / mean {info['episode_length']['mean']:.1f} / max {info['episode_length']['max']}",
             f"  fps        {info['fps']:g}",
             f"  observation {{{', '.join(f'{k}: {v}' for k, v in info['observation'].items())}}}",
             f"  action     {info['action']}",
             f"  rewards    {'yes' if info['rewards'] else 'no'}; expert labels on {info['labels']} steps"]
    if info.get("cameras"):
        lines.append(f"  cameras    {info['cameras']} (decoded only when named in --obs-keys)")
    if info.get("splits"):
        lines.append(f"  splits     {info['splits']}")
    if info.get("source_keys"):
        lines.append(f"  key map    {info['source_keys']} (native <- source)")
    lines.append("  statistics (per dimension; first dimensions shown)")
    for key, s in info["stats"].items():
        def fmt(v: list) -> str:
            shown = ", ".join(f"{x:.3g}" for x in v[:max_dims])
            return f"[{shown}{', ...' if len(v) > max_dims else ''}]"
        lines.append(f"    {key} ({s['dims']} dims): mean {fmt(s['mean'])} std {fmt(s['std'])} "
                     f"min {fmt(s['min'])} max {fmt(s['max'])}")
    return "\n".join(lines)
