"""The DAPG authors' trained Adroit policies (hand_dapg, Rajeswaran et al. 2018) as Actors.

hand_dapg released its NPG/DAPG policies as pickles of mjrl objects; `../shared/adroit/` holds them
converted (without unpickling) to `<task>.safetensors` + `<task>.json`. This module reads that pair and
runs the network in numpy, float32 as mjrl did:

    x = (obs - in_shift) / (in_scale + eps);  x = tanh(x W0^T + b0);  x = tanh(x W1^T + b1)
    mean = (x W2^T + b2) * out_scale + out_shift

The Actor returns the mean action (the authors' evaluation mode) clipped to [-1, 1], which the Adroit
envs would clip to anyway. It deliberately does not sample from the policy's Gaussian (`log_std` is read
and kept only so the file is fully checked): exploration noise on recorded demonstrations is `record
--noise`'s job. Nothing here imports torch or a simulator.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from protege.errors import ProtegeError, bad_input

FORMAT = "hand_dapg-gaussian-mlp/1"
ACTIVATIONS = {"tanh": np.tanh, None: None}


class HandDapgExpert:
    """One hand_dapg policy read from `<prefix>.json` + `<prefix>.safetensors`, acting on `obs[key]`.

    prefix: path without extension, e.g. `../shared/adroit/experts/door` (a `.json` or `.safetensors`
    suffix is accepted and dropped). obs[key]: (obs_dim,) -> action (act_dim,) float32 in [-1, 1].
    """

    def __init__(self, prefix: str | Path, key: str = "state", low: Any = -1.0, high: Any = 1.0):
        prefix = Path(prefix)
        if prefix.suffix in (".json", ".safetensors"):
            prefix = prefix.with_suffix("")
        self.prefix, self.key = prefix, key
        self.low, self.high = low, high  # `act` clips to these (the Adroit hands' [-1, 1]; None = no clipping)
        json_path, weights_path = prefix.with_suffix(".json"), prefix.with_suffix(".safetensors")
        for p in (json_path, weights_path):
            if not p.is_file():
                raise bad_input(p, None, "a hand_dapg expert file (converted to .json + .safetensors)",
                                "no such file")
        try:
            self.meta: dict[str, Any] = json.loads(json_path.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise bad_input(json_path, None, "valid JSON", f"{type(e).__name__}: {e}") from None
        if not isinstance(self.meta, dict) or self.meta.get("format") != FORMAT:
            found = self.meta.get("format") if isinstance(self.meta, dict) else type(self.meta).__name__
            raise bad_input(json_path, "format", repr(FORMAT), repr(found))
        tensors = _read_weights(weights_path)
        layers = self.meta.get("layers")
        if not isinstance(layers, list) or not layers:
            raise bad_input(json_path, "layers", "a non-empty list of layers", repr(layers))
        self.layers: list[tuple[np.ndarray, np.ndarray, Any]] = []
        for i, layer in enumerate(layers):
            act = layer.get("activation") if isinstance(layer, dict) else "?"
            if act not in ACTIVATIONS:
                raise bad_input(json_path, f"layers[{i}].activation", f"one of {list(ACTIVATIONS)}", repr(act))
            w = _tensor(tensors, layer.get("weight"), weights_path, ndim=2)
            b = _tensor(tensors, layer.get("bias"), weights_path, ndim=1)
            if b.shape[0] != w.shape[0] or (self.layers and w.shape[1] != self.layers[-1][0].shape[0]):
                raise bad_input(weights_path, layer.get("weight"), "shapes that chain layer to layer",
                                f"weight {w.shape}, bias {b.shape}")
            self.layers.append((w, b, ACTIVATIONS[act]))
        self.obs_dim, self.act_dim = self.layers[0][0].shape[1], self.layers[-1][0].shape[0]
        self.in_shift = _tensor(tensors, "in_shift", weights_path, shape=(self.obs_dim,))
        self.in_scale = _tensor(tensors, "in_scale", weights_path, shape=(self.obs_dim,))
        self.out_shift = _tensor(tensors, "out_shift", weights_path, shape=(self.act_dim,))
        self.out_scale = _tensor(tensors, "out_scale", weights_path, shape=(self.act_dim,))
        self.log_std = _tensor(tensors, "log_std", weights_path, shape=(self.act_dim,))
        self.eps = np.float32(self.meta.get("in_scale_eps", 1e-8))
        self.name = f"hand_dapg:{self.meta.get('task', prefix.name)}"

    def reset(self) -> None:
        pass

    def mean(self, state: np.ndarray) -> np.ndarray:
        """The policy's mean action for states (..., obs_dim) -> (..., act_dim), float32, not clipped."""
        x = np.asarray(state, np.float32)
        if x.shape[-1] != self.obs_dim:
            raise bad_input(self.name, f"observation '{self.key}'", f"{self.obs_dim} values", f"shape {x.shape}")
        x = (x - self.in_shift) / (self.in_scale + self.eps)
        for w, b, fn in self.layers:
            x = x @ w.T + b
            if fn is not None:
                x = fn(x)
        return (x * self.out_scale + self.out_shift).astype(np.float32)

    def act(self, obs: dict[str, np.ndarray]) -> np.ndarray:
        mean = self.mean(obs[self.key])
        return mean if self.low is None else np.clip(mean, self.low, self.high).astype(np.float32)


def _read_weights(path: Path) -> dict[str, np.ndarray]:
    from safetensors import SafetensorError
    from safetensors.numpy import load_file

    try:
        return load_file(str(path))
    except (SafetensorError, OSError, ValueError) as e:
        raise bad_input(path, None, "a safetensors file", f"{type(e).__name__}: {e}") from None


def _tensor(tensors: dict[str, np.ndarray], name: Any, path: Path, ndim: int | None = None,
            shape: tuple[int, ...] | None = None) -> np.ndarray:
    if name not in tensors:
        raise bad_input(path, str(name), "a tensor of that name", f"tensors {sorted(tensors)}")
    t = np.asarray(tensors[name], np.float32)
    if (ndim is not None and t.ndim != ndim) or (shape is not None and t.shape != shape):
        raise bad_input(path, str(name), f"shape {shape}" if shape else f"{ndim}-D", f"shape {t.shape}")
    if not np.isfinite(t).all():
        raise bad_input(path, str(name), "finite values", "NaN or inf")
    return t


def check_expert_matches(expert: HandDapgExpert, obs_dim: int, act_dim: int, task: str) -> None:
    """Refuse, in one line, an expert whose sizes are not the task's."""
    if (expert.obs_dim, expert.act_dim) != (obs_dim, act_dim):
        raise ProtegeError(f"{expert.prefix}.json: expected an expert for {task} ({obs_dim} observations -> "
                           f"{act_dim} actions), found {expert.obs_dim} -> {expert.act_dim}")
