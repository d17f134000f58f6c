"""Checkpoints: a folder with `config.json` and `model.safetensors`, written as one atomic folder;
loading never unpickles and never tracebacks on a damaged or hand-edited folder.

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
from protege.data.atomic import carry_over, existing_folder, staged_folder, write_json
from protege.errors import bad_input
from protege.policies import POLICIES, PolicyBase, make_policy
from protege.policies.encoders import EncoderConfig, camera_keys
from protege.policies.encoders.conditioning import CONDITION_KEY, ConditioningConfig
from protege.specs import Spec, check_compatible

CHECKPOINT_FORMAT = "protege-checkpoint"
CHECKPOINT_VERSION = 1
CONFIG, WEIGHTS = "config.json", "model.safetensors"


def save_checkpoint(policy: PolicyBase, path: str | Path, extra: dict[str, Any] | None = None) -> Path:
    """Write `policy` to folder `path` as one atomic folder.

    Both files are written into a staging folder beside `path`, which then replaces `path` by renames
    (`data/atomic.py`), so a kill at any moment leaves the previous checkpoint or the new one, never a
    folder with weights and no config.json. Other files a user kept in the folder are carried over.
    """
    from safetensors.torch import save_file

    path = Path(path)
    state = {k: v.detach().contiguous().cpu() for k, v in policy.state_dict().items()}
    config = {
        "format": CHECKPOINT_FORMAT,
        "format_version": CHECKPOINT_VERSION,
        "protege_version": __version__,
        "policy": policy.name,
        "policy_config": dataclasses.asdict(policy.config),
        "spec": policy.spec.to_dict(),
        "stats": policy.stats,
        **({"encoder": encoder_record(policy)} if policy.encoder_config is not None else {}),
        # the task/instruction vocabulary: what the checkpoint can be asked to do
        **({"conditioning": dataclasses.asdict(policy.conditioning)} if policy.conditioning is not None else {}),
        **(extra or {}),
    }
    if path.exists() and not path.is_dir():
        raise bad_input(path, None, "a checkpoint folder (or a new path)", "a file")
    with staged_folder(path) as stage:
        save_file(state, str(stage / WEIGHTS))
        write_json(stage / CONFIG, config)
        carry_over(path, stage, skip=(WEIGHTS, CONFIG))
    return path


def encoder_record(policy: PolicyBase) -> dict[str, Any]:
    """config.json's "encoder" entry of a policy whose spec has cameras: the `EncoderConfig` fields plus,
    per camera it reads, the frame shape (H, W, C) and the centre-crop size (h, w) it executes with."""
    cameras = {k: {"shape": list(policy.spec.observation[k].shape),
                   "crop": list(policy.obs_encoder.camera_encoder(k).crop_hw)} for k in policy.camera_keys}
    return {**dataclasses.asdict(policy.encoder_config), "cameras": cameras}


def _encoder_config(cfg: dict[str, Any], spec: Spec, cfg_path: Path) -> EncoderConfig | None:
    """The `EncoderConfig` a checkpoint was trained with. A checkpoint with cameras in its spec but no
    "encoder" entry predates camera encoders: its policy read the state only (`name="none"`)."""
    cameras = camera_keys(spec)
    if not cameras:
        return None
    record = cfg.get("encoder")
    if record is None:
        return EncoderConfig(name="none")
    if not isinstance(record, dict):
        raise bad_input(cfg_path, "encoder", "an object of encoder config fields", type(record).__name__)
    fields = {k: v for k, v in record.items() if k != "cameras"}
    try:
        encoder = EncoderConfig(**fields)
    except (TypeError, ValueError) as e:
        raise bad_input(cfg_path, "encoder", "a valid EncoderConfig", str(e)) from None
    recorded = record.get("cameras")
    if recorded is not None:
        read = cameras if encoder.name != "none" else []
        expected = {k: list(spec.observation[k].shape) for k in read}
        found = {k: v.get("shape") if isinstance(v, dict) else v for k, v in recorded.items()} \
            if isinstance(recorded, dict) else recorded
        if found != expected:
            raise bad_input(cfg_path, "encoder.cameras", f"the spec's cameras {expected}", repr(found))
    return encoder


def _conditioning_config(cfg: dict[str, Any], cfg_path: Path) -> ConditioningConfig | None:
    """The task/instruction conditioning a checkpoint was trained with (None: a single-task policy)."""
    record = cfg.get("conditioning")
    if record is None:
        return None
    if not isinstance(record, dict):
        raise bad_input(cfg_path, "conditioning", "an object of conditioning config fields", type(record).__name__)
    try:  # a checkpoint from before word dropout was trained without it (a warm start keeps that)
        return ConditioningConfig(**{"word_dropout": 0.0, **record})
    except (TypeError, ValueError) as e:
        raise bad_input(cfg_path, "conditioning", "a valid ConditioningConfig", str(e)) from None


def member_folder(folder: str | Path, i: int) -> Path:
    """Where member i of an ensemble saved at `folder` lives (`protege.algos.ensemble`)."""
    return Path(folder) / f"member_{i}"


def ensemble_members(folder: str | Path) -> list[Path] | None:
    """The member checkpoints of an ensemble saved at `folder` (member_0, member_1, ... each with a
    config.json, in order), or None when `folder` is a single checkpoint or no ensemble."""
    if (Path(folder) / CONFIG).exists() or not (member_folder(folder, 0) / CONFIG).exists():
        return None
    members: list[Path] = []
    while (member_folder(folder, len(members)) / CONFIG).exists():
        members.append(member_folder(folder, len(members)))
    return members


def read_checkpoint_config(path: str | Path) -> dict[str, Any]:
    """config.json of checkpoint `path`, with every field a policy is rebuilt from checked for type."""
    path = existing_folder(path)
    if not path.exists():
        raise bad_input(path, None, "a checkpoint folder", "no such file or folder")
    cfg_path = path / CONFIG if path.is_dir() else path
    members = ensemble_members(path) if path.is_dir() else None
    if members is not None:  # `protege eval` acts with an ensemble; everything else takes one policy
        raise bad_input(path, None, "one checkpoint (config.json and model.safetensors)",
                        f"an ensemble of {len(members)} members (pass one, e.g. {members[0]}; "
                        f"`protege eval` runs the whole ensemble)")
    if not cfg_path.exists():
        raise bad_input(path, CONFIG, "a checkpoint folder with config.json and model.safetensors",
                        "no config.json")
    try:
        cfg = json.loads(cfg_path.read_text())
    except json.JSONDecodeError as e:
        raise bad_input(cfg_path, None, "valid JSON", f"malformed JSON ({e})") from None
    except (OSError, UnicodeDecodeError) as e:
        raise bad_input(cfg_path, None, "a readable JSON file", f"{type(e).__name__}: {e}") from None
    if not isinstance(cfg, dict):
        raise bad_input(cfg_path, None, "a JSON object", type(cfg).__name__)
    if cfg.get("format") != CHECKPOINT_FORMAT:
        raise bad_input(cfg_path, "format", f"'{CHECKPOINT_FORMAT}'", repr(cfg.get("format")))
    for key in ("policy", "policy_config", "spec", "stats"):
        if key not in cfg:
            raise bad_input(cfg_path, key, f"a '{key}' entry", "it missing")
    if not isinstance(cfg["policy"], str) or cfg["policy"] not in POLICIES:
        raise bad_input(cfg_path, "policy", f"one of {sorted(POLICIES)}", repr(cfg["policy"]))
    if not isinstance(cfg["policy_config"], dict):
        raise bad_input(cfg_path, "policy_config", "an object of config fields", type(cfg["policy_config"]).__name__)
    return cfg


def _check_stats(stats: Any, spec: Spec, cfg_path: Path) -> None:
    """The normalisation statistics the policy is built from: one list per field, sized like the spec."""
    if stats is None:
        return
    if not isinstance(stats, dict):
        raise bad_input(cfg_path, "stats", "an object of key -> {mean, std, min, max}", type(stats).__name__)
    wanted = {f"observation.{k}": (v.size, ("mean", "std", "min", "max"))
              for k, v in spec.observation.items() if len(v.shape) <= 1}
    wanted["action"] = (spec.action.size, ("min", "max"))
    for key, (size, fields) in wanted.items():
        entry = stats.get(key)
        if not isinstance(entry, dict):
            found = "it missing" if entry is None else type(entry).__name__
            raise bad_input(cfg_path, f"stats.{key}", "an object with " + ", ".join(fields), found)
        for name in fields:
            value = entry.get(name)
            ok = isinstance(value, list) and len(value) == size and all(
                isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)
            if not ok:
                found = "it missing" if value is None else (
                    f"{len(value)} values" if isinstance(value, list) else type(value).__name__)
                raise bad_input(cfg_path, f"stats.{key}.{name}", f"a list of {size} numbers", found)


def _weight_shapes(weights: Path) -> dict[str, tuple[int, ...]]:
    """Tensor name -> shape from the safetensors header, without reading the tensors."""
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(weights), framework="pt") as f:
            return {k: tuple(f.get_slice(k).get_shape()) for k in f.keys()}
    except (SafetensorError, OSError, ValueError) as e:
        raise bad_input(weights, None, "a readable safetensors file", f"corrupt data ({e})") from None


def _check_weights_fit(skeleton: PolicyBase, shapes: dict[str, tuple[int, ...]], weights: Path) -> None:
    """Compare the module config.json describes (built without memory) with the weights file, tensor by
    tensor, before any real allocation: an absurd config (hidden_dims of 10**9) or an observation size
    that disagrees with the weights is named here instead of allocating or failing inside torch."""
    expected = {k: tuple(v.shape) for k, v in skeleton.state_dict().items()}
    for name, shape in expected.items():
        if name not in shapes:
            raise bad_input(weights, name, f"a tensor of shape {list(shape)} (as config.json describes)",
                            "no such tensor")
        if shapes[name] != shape:
            raise bad_input(weights, name, f"shape {list(shape)} (as config.json describes)",
                            f"shape {list(shapes[name])}")
    extra = sorted(set(shapes) - set(expected))
    if extra:
        raise bad_input(weights, extra[0], "only tensors config.json describes",
                        f"{len(extra)} more (e.g. shape {list(shapes[extra[0]])})")


def load_checkpoint(path: str | Path, map_location: str = "cpu") -> PolicyBase:
    """Rebuild the policy from config.json and load its weights from safetensors (no pickle).

    Every step that could fail on a damaged or hand-edited checkpoint fails in one line naming the file
    and field: config types first, then the module described by the config is built on the "meta" device
    (no memory) and its tensor shapes are compared with the weights file's header, and only then is the
    policy built and the weights read.
    """
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    path = existing_folder(path)
    cfg = read_checkpoint_config(path)
    cfg_path = path / CONFIG
    spec = Spec.from_dict(cfg["spec"], cfg_path)
    _check_stats(cfg["stats"], spec, cfg_path)
    config_cls = POLICIES[cfg["policy"]][0]
    # a field added to a head after a checkpoint was saved takes the value the checkpoint was trained
    # with (the config's PREDATING, e.g. diffusion's "epsilon" prediction), not today's default
    fields = {**getattr(config_cls, "PREDATING", {}), **cfg["policy_config"]}
    try:
        config = config_cls(**fields)
    except (TypeError, ValueError) as e:
        raise bad_input(cfg_path, "policy_config", f"a valid {config_cls.__name__}", str(e)) from None
    encoder = _encoder_config(cfg, spec, cfg_path)
    conditioning = _conditioning_config(cfg, cfg_path)
    weights = path / WEIGHTS
    if not weights.exists():
        raise bad_input(path, WEIGHTS, "the weights file", "no such file")
    shapes = _weight_shapes(weights)
    try:
        with torch.device("meta"):
            skeleton = make_policy(cfg["policy"], config, spec, cfg["stats"], encoder, conditioning)
    except (TypeError, ValueError, KeyError, IndexError, RuntimeError) as e:
        raise bad_input(cfg_path, "policy_config", f"a config {cfg['policy']} can be built from",
                        f"{type(e).__name__}: {e}") from None
    _check_weights_fit(skeleton, shapes, weights)
    policy = make_policy(cfg["policy"], config, spec, cfg["stats"], encoder, conditioning)
    try:
        state = load_file(str(weights), device=map_location)
    except (SafetensorError, OSError, ValueError) as e:
        raise bad_input(weights, None, "a readable safetensors file", f"corrupt data ({e})") from None
    policy.load_state_dict(state, strict=True)  # names and shapes were checked above
    policy.checkpoint_config = cfg  # type: ignore[attr-defined]
    return policy.eval()


class PolicyActor:
    """A policy as an Actor: numpy observation dict in, env-unit numpy action out, batch of one.

    task / instruction: what a conditioned policy is asked to do (a trained task name, or an instruction);
    refused in one line when the policy does not know the task. An unconditioned policy ignores both.
    """

    def __init__(self, policy: PolicyBase, task: str | None = None, instruction: str | None = None,
                 who: str = "policy"):
        self.policy = policy.eval()
        self.name = f"policy:{policy.name}"
        self.condition = policy.condition_input(task, instruction, who)

    def reset(self) -> None:
        self.policy.reset()

    @torch.inference_mode()
    def act(self, obs: dict[str, np.ndarray]) -> np.ndarray:
        if self.condition is not None:
            obs = {**obs, CONDITION_KEY: self.condition.array}
        batch = {k: obs_tensor(obs[k])[None] for k in self.policy.obs_keys}
        return self.policy.select_action(batch)[0].numpy()


def obs_tensor(value: Any) -> torch.Tensor:
    """One raw observation as a tensor: camera frames stay uint8 (4x less to copy), integer ids (a task
    condition) int64, the rest float32."""
    arr = np.asarray(value)
    if arr.dtype == np.uint8 or arr.dtype == np.int64:
        return torch.as_tensor(arr)
    return torch.as_tensor(arr.astype(np.float32, copy=False))


def load_actor(path: str | Path, task_spec: Spec | None = None, task_name: str = "the task",
               task: str | None = None, instruction: str | None = None) -> PolicyActor:
    """Load a checkpoint as an Actor, refusing it if its spec does not fit `task_spec`.
    task / instruction: what a conditioned checkpoint is asked to do (see `PolicyActor`)."""
    policy = load_checkpoint(path)
    if task_spec is not None:
        check_compatible(policy.spec, task_spec, f"checkpoint {path}", task_name)
    return PolicyActor(policy, task, instruction, who=f"checkpoint {path}")


class CheckpointActorFactory:
    """A picklable factory (for worker processes) that loads a checkpoint as an Actor (conditioned on
    `task` / `instruction` where the checkpoint is)."""

    def __init__(self, path: str | Path, task: str | None = None, instruction: str | None = None):
        self.path = str(path)
        self.task, self.instruction = task, instruction

    def __call__(self) -> PolicyActor:
        return load_actor(self.path, task=self.task, instruction=self.instruction)
