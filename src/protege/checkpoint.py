"""Checkpoints: a folder with `config.json` and `model.safetensors`; loading never unpickles.

config.json holds everything needed to rebuild and run the policy: policy type and config, the spec, the
normalisation statistics (also inside the weights as buffers), the code version, and how it was trained
(dataset, episode seeds, training config, best validation loss), so evaluation can avoid training seeds.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import numpy as np
import torch

from protege import __version__
from protege.data.native import write_json
from protege.errors import bad_input
from protege.policies import POLICIES, PolicyBase, make_policy
from protege.specs import Spec, check_compatible

CHECKPOINT_FORMAT = "protege-checkpoint"
CHECKPOINT_VERSION = 1


def save_checkpoint(policy: PolicyBase, path: str | Path, extra: dict[str, Any] | None = None) -> Path:
    """Write `policy` to folder `path` (weights first, then config.json, each atomically)."""
    from safetensors.torch import save_file

    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().contiguous().cpu() for k, v in policy.state_dict().items()}
    tmp = path / ".model.safetensors.tmp"
    save_file(state, str(tmp))
    tmp.replace(path / "model.safetensors")
    config = {
        "format": CHECKPOINT_FORMAT,
        "format_version": CHECKPOINT_VERSION,
        "protege_version": __version__,
        "policy": policy.name,
        "policy_config": dataclasses.asdict(policy.config),
        "spec": policy.spec.to_dict(),
        "stats": policy.stats,
        **(extra or {}),
    }
    write_json(path / "config.json", config)
    return path


def read_checkpoint_config(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    if not path.exists():
        raise bad_input(path, None, "a checkpoint folder", "no such file or folder")
    cfg_path = path / "config.json" if path.is_dir() else path
    if not cfg_path.exists():
        raise bad_input(path, "config.json", "a checkpoint folder with config.json and model.safetensors",
                        "no config.json")
    try:
        cfg = json.loads(cfg_path.read_text())
    except json.JSONDecodeError as e:
        raise bad_input(cfg_path, None, "valid JSON", f"malformed JSON ({e})") from None
    if cfg.get("format") != CHECKPOINT_FORMAT:
        raise bad_input(cfg_path, "format", f"'{CHECKPOINT_FORMAT}'", repr(cfg.get("format")))
    for key in ("policy", "policy_config", "spec", "stats"):
        if key not in cfg:
            raise bad_input(cfg_path, key, f"a '{key}' entry", "it missing")
    if cfg["policy"] not in POLICIES:
        raise bad_input(cfg_path, "policy", f"one of {sorted(POLICIES)}", repr(cfg["policy"]))
    return cfg


def load_checkpoint(path: str | Path, map_location: str = "cpu") -> PolicyBase:
    """Rebuild the policy from config.json and load its weights from safetensors (no pickle)."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    path = Path(path)
    cfg = read_checkpoint_config(path)
    spec = Spec.from_dict(cfg["spec"])
    config_cls = POLICIES[cfg["policy"]][0]
    # a field added to a head after a checkpoint was saved takes the value the checkpoint was trained
    # with (the config's PREDATING, e.g. diffusion's "epsilon" prediction), not today's default
    fields = {**getattr(config_cls, "PREDATING", {}), **cfg["policy_config"]}
    try:
        config = config_cls(**fields)
    except (TypeError, ValueError) as e:
        raise bad_input(path / "config.json", "policy_config", f"a valid {config_cls.__name__}", str(e)) from None
    policy = make_policy(cfg["policy"], config, spec, cfg["stats"])
    weights = path / "model.safetensors"
    if not weights.exists():
        raise bad_input(path, "model.safetensors", "the weights file", "no such file")
    try:
        state = load_file(str(weights), device=map_location)
    except (SafetensorError, OSError, ValueError) as e:
        raise bad_input(weights, None, "a readable safetensors file", f"corrupt data ({e})") from None
    try:
        policy.load_state_dict(state, strict=True)
    except RuntimeError as e:
        first = str(e).splitlines()[0]
        raise bad_input(weights, None, "weights matching config.json", first) from None
    policy.checkpoint_config = cfg  # type: ignore[attr-defined]
    return policy.eval()


class PolicyActor:
    """A policy as an Actor: numpy observation dict in, env-unit numpy action out, batch of one."""

    def __init__(self, policy: PolicyBase):
        self.policy = policy.eval()
        self.name = f"policy:{policy.name}"

    def reset(self) -> None:
        self.policy.reset()

    @torch.inference_mode()
    def act(self, obs: dict[str, np.ndarray]) -> np.ndarray:
        batch = {k: torch.as_tensor(np.asarray(obs[k]), dtype=torch.float32)[None] for k in self.policy.obs_keys}
        return self.policy.select_action(batch)[0].numpy()


def load_actor(path: str | Path, task_spec: Spec | None = None, task_name: str = "the task") -> PolicyActor:
    """Load a checkpoint as an Actor, refusing it if its spec does not fit `task_spec`."""
    policy = load_checkpoint(path)
    if task_spec is not None:
        check_compatible(policy.spec, task_spec, f"checkpoint {path}", task_name)
    return PolicyActor(policy)


class CheckpointActorFactory:
    """A picklable factory (for worker processes) that loads a checkpoint as an Actor."""

    def __init__(self, path: str | Path):
        self.path = str(path)

    def __call__(self) -> PolicyActor:
        return load_actor(self.path)


