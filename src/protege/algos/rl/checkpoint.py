"""Per-iteration checkpoints of an RL run, and resuming from the last complete one.

Layout of a run folder:

    run/
      policy/                     the latest policy: a normal checkpoint (`protege eval --checkpoint run/policy`)
      iterations/000012/          one folder per finished iteration:
        policy/                   the policy after that iteration (normal checkpoint)
        rl_state.safetensors      value function, optimiser tensors, random-generator states
        rl_state.json             iteration, env steps, wall time, curve so far, optimiser scalars;
                                  written last, so a folder without it is incomplete and ignored
      curve.csv, curve.png        the learning curve

Nothing here unpickles: nested optimiser state is split into tensors (safetensors) and JSON scalars.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import torch

from protege.checkpoint import load_checkpoint, save_checkpoint
from protege.data.native import write_json
from protege.policies.base import PolicyBase


def split_tensors(obj: Any, tensors: dict[str, torch.Tensor], prefix: str = "t") -> Any:
    """Replace every tensor in a nested dict/list by {"__tensor__": key}, collecting it in `tensors`."""
    if isinstance(obj, torch.Tensor):
        key = f"{prefix}.{len(tensors)}"
        tensors[key] = obj.detach().cpu().contiguous()
        return {"__tensor__": key}
    if isinstance(obj, dict):
        return {"__dict__": [[split_tensors(k, tensors, prefix), split_tensors(v, tensors, prefix)]
                             for k, v in obj.items()]}
    if isinstance(obj, (list, tuple)):
        return [split_tensors(v, tensors, prefix) for v in obj]
    return obj


def join_tensors(obj: Any, tensors: dict[str, torch.Tensor]) -> Any:
    """Inverse of `split_tensors`."""
    if isinstance(obj, dict) and "__tensor__" in obj:
        return tensors[obj["__tensor__"]]
    if isinstance(obj, dict) and "__dict__" in obj:
        return {join_tensors(k, tensors): join_tensors(v, tensors) for k, v in obj["__dict__"]}
    if isinstance(obj, list):
        return [join_tensors(v, tensors) for v in obj]
    return obj


def save_iteration(run: Path, iteration: int, policy: PolicyBase, state: dict[str, Any],
                   ckpt_extra: dict[str, Any]) -> Path:
    """Write iteration `iteration` (policy + `state`) and refresh `run/policy`."""
    from safetensors.torch import save_file

    folder = run / "iterations" / f"{iteration:06d}"
    if folder.exists():
        shutil.rmtree(folder)
    save_checkpoint(policy, folder / "policy", ckpt_extra)
    tensors: dict[str, torch.Tensor] = {}
    meta = split_tensors(state, tensors)
    save_file(tensors, str(folder / "rl_state.safetensors"))
    write_json(folder / "rl_state.json", meta)  # last: marks the folder complete
    save_checkpoint(policy, run / "policy", ckpt_extra)
    return folder


def latest_iteration(run: Path) -> Path | None:
    folders = sorted((run / "iterations").glob("[0-9]" * 6)) if (run / "iterations").exists() else []
    complete = [f for f in folders if (f / "rl_state.json").exists() and (f / "policy" / "config.json").exists()]
    return complete[-1] if complete else None


def load_iteration(folder: Path) -> tuple[PolicyBase, dict[str, Any]]:
    from safetensors.torch import load_file

    policy = load_checkpoint(folder / "policy")
    tensors = load_file(str(folder / "rl_state.safetensors"))
    state = join_tensors(json.loads((folder / "rl_state.json").read_text()), tensors)
    return policy, state
