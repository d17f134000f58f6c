"""Running an exported policy file: what a robot computer needs (onnxruntime, or libtorch for TorchScript).

Imports neither torch (unless the file is TorchScript) nor anything of training or simulation. A task- or
instruction-conditioned export carries its vocabulary in its metadata; `condition_input` maps a task name
or an instruction to the graph's `obs.condition` input with the PyTorch path's own function
(`protege.vocabulary.condition_input`): the same one-line refusal of an unknown task, the same report of
an unseen instruction.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from protege.errors import ProtegeError, bad_input
from protege.vocabulary import CONDITION_KEY, ConditionInput, ConditioningConfig, condition_input

META_KEY = "protege.json"
NOISE_NORMAL, NOISE_UNIFORM = "noise.normal", "noise.uniform"


class ExportedModel:
    """An exported file, run by onnxruntime or TorchScript: `run(obs (1, n_obs, ...) by key, noise) -> (1, H, A)`.
    Camera inputs are uint8 frames (1, n_obs, H, W, C); float frames holding 0..255 are cast to them.
    A conditioned file (`conditioning` not None) also reads obs["condition"] (1, n_obs, ...), the stacked
    `condition_input(task, instruction).array`."""

    def __init__(self, path: str | Path, threads: int = 1):
        self.path = Path(path)
        if not self.path.exists():
            raise bad_input(self.path, None, "an exported model file", "no such file")
        self.kind = "torchscript" if self.path.suffix in (".pt", ".ts", ".torchscript") else "onnx"
        if self.kind == "onnx":
            import onnxruntime as ort

            opts = ort.SessionOptions()
            opts.intra_op_num_threads = threads
            opts.inter_op_num_threads = 1
            try:
                self._session = ort.InferenceSession(str(self.path), opts, providers=["CPUExecutionProvider"])
            except Exception as e:  # onnxruntime raises its own exception types
                raise bad_input(self.path, None, "a readable ONNX model", f"{type(e).__name__}: {e}") from None
            props = self._session.get_modelmeta().custom_metadata_map
            raw = props.get(META_KEY)
        else:
            import torch

            files = {META_KEY: ""}
            self._module = torch.jit.load(str(self.path), _extra_files=files)
            raw = files[META_KEY] or None
        if not raw:
            raise bad_input(self.path, META_KEY, "protege metadata (export with `protege export`)", "none")
        self.meta = json.loads(raw)
        record = self.meta.get("conditioning")
        try:
            self.conditioning = ConditioningConfig(**record) if record is not None else None
        except (TypeError, ValueError) as e:
            raise bad_input(self.path, f"{META_KEY}.conditioning", "a valid ConditioningConfig", str(e)) from None

    @property
    def observation_keys(self) -> list[str]:
        """The robot's observation keys the graph reads (its inputs less the condition)."""
        return [k for k in self.meta["obs_keys"] if k != CONDITION_KEY]

    def condition_input(self, task: str | None = None, instruction: str | None = None) -> ConditionInput | None:
        """What to feed under `condition` for `task` (a trained task name) or `instruction`, from the vocabulary
        in the file; None for a single-task export (which ignores both). An unknown task is refused in one line;
        an instruction the policy never saw is accepted (kinds "instruction", "embedding") and marked unseen."""
        if self.conditioning is None:
            return None
        return condition_input(self.conditioning, task, instruction, who=f"model {self.path}")

    def run(self, obs: dict[str, np.ndarray], noise: list[np.ndarray]) -> np.ndarray:
        # cameras go in as uint8 frames (the graph crops and scales them), the rest as float32; files
        # exported before cameras have no "obs_dtypes" (every input float32)
        dtypes = self.meta.get("obs_dtypes") or {}
        if self.conditioning is not None and CONDITION_KEY not in obs:
            raise ProtegeError(f"model {self.path}: expected obs['{CONDITION_KEY}'] (the policy is conditioned on "
                               f"{self.conditioning.kind}s: condition_input(task=...) gives it), found none")
        arrays = [np.asarray(obs[k], dtypes.get(k, "float32")) for k in self.meta["obs_keys"]] + list(noise)
        if self.kind == "onnx":
            return self._session.run(None, dict(zip(self.meta["inputs"], arrays)))[0]
        import torch

        with torch.no_grad():
            return self._module(*(torch.from_numpy(a) for a in arrays)).numpy()


def load_exported(path: str | Path, threads: int = 1) -> ExportedModel:
    return ExportedModel(path, threads)
