"""Export a policy to ONNX or TorchScript with normalisation inside the graph, and check parity.

The exported graph takes raw observations, one input per observation key shaped (1, n_obs, *shape)
(the history, oldest first; a camera as uint8 frames (1, n_obs, H, W, C), cropped and scaled inside the
graph by the policy's image encoder), plus `noise.normal` / `noise.uniform` flat inputs when the head samples
(see `noise.py`), and returns the action chunk (1, H, A) in env units. A task- or instruction-conditioned
policy takes one more input, `obs.condition` (1, n_obs, ...): the task's index in its vocabulary (int64),
the instruction's word ids (int64, (max_tokens,) per step) or a frozen text encoder's vector (float32);
the vocabulary travels in the metadata (`conditioning`), so the runner maps a task name or an instruction
to that input as PyTorch does (`ExportedModel.condition_input`). A robot computer then needs only
onnxruntime (or libtorch) and the file: the spec, noise sizes and the execution settings (history length,
chunk size, receding horizon or temporal ensemble, n_action_steps, m, the noise shape and its held
channels: `protege.controller.ExecutionSettings`) travel in the file's metadata (`protege.json`), so
`protege deploy` executes the file exactly as `protege eval` executes the checkpoint.

Parity: the same observations and the same noise go through PyTorch and the exported model; the report
gives the largest absolute difference over all action values. A conditioned policy is checked on every
task of its vocabulary (each sample once per task, conditioned as `condition_input(task=...)` gives),
and the report gives the largest difference per task too.
"""

from __future__ import annotations

import json
import math
import os
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from protege import __version__
from protege.checkpoint import encoder_record
from protege.deploy.exported import META_KEY, NOISE_NORMAL, NOISE_UNIFORM, load_exported
from protege.deploy.noise import NoiseFeed
from protege.errors import ProtegeError, bad_input
from protege.vocabulary import CONDITION_KEY, condition_dtype

FORMATS = ("onnx", "torchscript")


class ExportGraph(nn.Module):
    """Raw observations (+ noise) -> (1, H, A) env-unit chunk, via the policy's own `predict_chunk`."""

    def __init__(self, policy: nn.Module, keys: list[str], n_normal: int, n_uniform: int):
        super().__init__()
        self.policy, self.keys = policy, keys
        self.n_normal, self.n_uniform = n_normal, n_uniform

    def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
        obs = dict(zip(self.keys, inputs[:len(self.keys)]))
        rest = list(inputs[len(self.keys):])
        normal = rest.pop(0) if self.n_normal else None
        uniform = rest.pop(0) if self.n_uniform else None
        with NoiseFeed(normal, uniform):
            return self.policy.predict_chunk(obs)


@dataclass
class ExportReport:
    path: str
    format: str
    policy: str
    horizon: int
    n_obs: int
    noise_normal: int
    noise_uniform: int
    parity_samples: int
    max_abs_diff: float
    """Largest |PyTorch - export| over all action values of all parity samples, env units."""
    ulp_sensitivity: float
    """Largest change of PyTorch's own output when every input moves by one float32 ulp: how strongly the
    head amplifies rounding. An export difference of this order is rounding, not a wrong graph."""
    size_bytes: int
    condition: str | None = None
    """What the graph is conditioned on ("task", "instruction", "embedding"), None for a single-task policy."""
    per_task_max_abs_diff: dict[str, float] = field(default_factory=dict)
    """A conditioned policy: the largest |PyTorch - export| with each task's condition, env units."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _sample_obs(policy: nn.Module, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Plausible raw observations (1, n_obs, *shape): the training statistics' mean +- 1 std for state
    vectors (in spec order, as the normaliser reads them), uniformly random uint8 frames for cameras."""
    out = {}
    offset = 0
    shift = policy.obs_normalizer.shift.numpy()
    scale = policy.obs_normalizer.scale.numpy()
    cameras = set(getattr(policy, "camera_keys", []))
    for k in policy.obs_keys:
        if k == CONDITION_KEY:  # not an observation: see `_conditions`
            continue
        shape = policy.spec.observation[k].shape
        if k in cameras:
            out[k] = rng.integers(0, 256, (1, policy.n_obs, *shape), dtype=np.uint8)
            continue
        size = int(np.prod(shape)) if shape else 1
        mean, std = shift[offset:offset + size], scale[offset:offset + size]
        offset += size
        x = mean + std * rng.standard_normal((1, policy.n_obs, size))
        out[k] = x.reshape(1, policy.n_obs, *shape).astype(np.float32)
    return out


def _conditions(policy: nn.Module) -> dict[str, np.ndarray]:
    """Task name -> the condition input (1, n_obs, ...) a conditioned policy reads for it (every task of its
    vocabulary, as `condition_input(task=...)` gives it); {} for a single-task policy."""
    if getattr(policy, "conditioning", None) is None:
        return {}
    out = {}
    for task in policy.conditioning.tasks:
        one = policy.condition_input(task=task, who="export").array.astype(condition_dtype(policy.conditioning))
        out[task] = np.broadcast_to(one, (1, policy.n_obs, *one.shape)).copy()
    return out


def _with_condition(policy: nn.Module, obs: dict[str, np.ndarray],
                    condition: np.ndarray | None) -> dict[str, np.ndarray]:
    """obs plus the condition, in the policy's input order (the graph's)."""
    full = {**obs, CONDITION_KEY: condition} if condition is not None else obs
    return {k: full[k] for k in policy.obs_keys}


def _nudge(x: torch.Tensor) -> torch.Tensor:
    """Every value one float32 ulp up; camera frames (integers) are left as they are."""
    if not x.is_floating_point():
        return x
    return torch.from_numpy(np.nextafter(x.numpy(), np.float32(np.inf)))


def metadata(policy: nn.Module, n_normal: int, n_uniform: int, fmt: str) -> dict[str, Any]:
    cfg = getattr(policy, "checkpoint_config", {})
    conditioning = getattr(policy, "conditioning", None)
    dtypes = {k: "uint8" if k in getattr(policy, "camera_keys", []) else "float32" for k in policy.obs_keys}
    if conditioning is not None:
        dtypes[CONDITION_KEY] = condition_dtype(conditioning)
    return {"format": f"protege-{fmt}", "protege_version": __version__, "policy": policy.name,
            "spec": policy.spec.to_dict(), "obs_keys": list(policy.obs_keys), "n_obs": policy.n_obs,
            "obs_dtypes": dtypes,
            **({"conditioning": asdict(conditioning)} if conditioning is not None else {}),
            "encoder": cfg.get("encoder") or (encoder_record(policy) if getattr(policy, "encoder_config", None)
                                              else None),
            "horizon": policy.horizon, "noise": {NOISE_NORMAL: n_normal, NOISE_UNIFORM: n_uniform},
            "inputs": [f"obs.{k}" for k in policy.obs_keys] + [n for n, c in ((NOISE_NORMAL, n_normal),
                                                                              (NOISE_UNIFORM, n_uniform)) if c],
            "output": "action_chunk", "execution": policy.execution_settings().to_dict(),
            "checkpoint_policy_config": cfg.get("policy_config")}


def export_policy(policy: nn.Module, out: str | Path, fmt: str = "onnx", parity_samples: int = 16,
                  seed: int = 0) -> ExportReport:
    """Write `policy` as `fmt` to `out` (atomically) and check it against PyTorch on `parity_samples` inputs."""
    if fmt not in FORMATS:
        raise bad_input(None, "format", f"one of {', '.join(FORMATS)}", f"'{fmt}'")
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    policy = policy.eval()
    policy.reset()
    rng = np.random.default_rng(seed)
    conditions = _conditions(policy)  # task -> condition input; {} for a single-task policy
    first = next(iter(conditions.values()), None)
    example = {k: torch.from_numpy(v) for k, v in _with_condition(policy, _sample_obs(policy, rng), first).items()}
    with torch.no_grad(), NoiseFeed() as count:  # dry run: how much noise one call draws
        policy.predict_chunk(example)
    settings = policy.execution_settings()
    expected = math.prod(settings.noise_shape) if settings.noise_shape is not None else 0
    if (count.n_normal, count.n_uniform) != (expected, 0):  # the controller feeds exactly noise_shape normals
        raise ProtegeError(f"export: {policy.name} draws {count.n_normal} normal + {count.n_uniform} uniform values "
                           f"per prediction; its execution settings declare {expected} normal")
    graph = ExportGraph(policy, list(policy.obs_keys), count.n_normal, count.n_uniform).eval()

    def noise_inputs(r: np.random.Generator) -> list[np.ndarray]:
        extra = []
        if count.n_normal:
            extra.append(r.standard_normal(count.n_normal).astype(np.float32))
        if count.n_uniform:
            extra.append(r.uniform(size=count.n_uniform).astype(np.float32))
        return extra

    args = tuple(example.values()) + tuple(torch.from_numpy(a) for a in noise_inputs(rng))
    meta = metadata(policy, count.n_normal, count.n_uniform, fmt)
    tmp = out.with_name(f".{out.name}.tmp")
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # tracer warnings about Python ints are expected here
        if fmt == "onnx":
            import onnx

            torch.onnx.export(graph, args, str(tmp), dynamo=False, input_names=meta["inputs"],
                              output_names=["action_chunk"], opset_version=17)
            model = onnx.load(str(tmp))
            entry = model.metadata_props.add()
            entry.key, entry.value = META_KEY, json.dumps(meta)
            onnx.save(model, str(tmp))
        else:
            traced = torch.jit.trace(graph, args, check_trace=False)
            torch.jit.save(traced, str(tmp), _extra_files={META_KEY: json.dumps(meta)})
    os.replace(tmp, out)

    # --- parity: same observations and noise through both ---------------------------------------
    runner = load_exported(out)
    worst = floor = 0.0
    per_task = {task: 0.0 for task in conditions}
    for _ in range(parity_samples):
        plain = _sample_obs(policy, rng)
        noise = noise_inputs(rng)
        # a conditioned policy: the same observations and noise once with each task's condition
        for task, condition in (conditions.items() if conditions else [(None, None)]):
            obs = _with_condition(policy, plain, condition)
            inputs = [torch.from_numpy(v) for v in obs.values()] + [torch.from_numpy(n) for n in noise]
            with torch.no_grad():
                ref = graph(*inputs).numpy()
                nudged = graph(*(_nudge(x) for x in inputs)).numpy()
            got = runner.run(obs, noise)
            diff = float(np.max(np.abs(ref - got)))
            worst = max(worst, diff)
            floor = max(floor, float(np.max(np.abs(ref - nudged))))
            if task is not None:
                per_task[task] = max(per_task[task], diff)
    conditioning = getattr(policy, "conditioning", None)
    return ExportReport(path=str(out), format=fmt, policy=policy.name, horizon=policy.horizon, n_obs=policy.n_obs,
                        noise_normal=count.n_normal, noise_uniform=count.n_uniform, parity_samples=parity_samples,
                        max_abs_diff=worst, ulp_sensitivity=floor, size_bytes=out.stat().st_size,
                        condition=None if conditioning is None else conditioning.kind, per_task_max_abs_diff=per_task)
