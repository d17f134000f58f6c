"""Running an exported policy file: what a robot computer needs (onnxruntime, or libtorch for TorchScript).

Imports neither torch (unless the file is TorchScript) nor anything of training or simulation.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from protege.errors import bad_input

META_KEY = "protege.json"
NOISE_NORMAL, NOISE_UNIFORM = "noise.normal", "noise.uniform"


class ExportedModel:
    """An exported file, run by onnxruntime or TorchScript: `run(obs (1, n_obs, ...) by key, noise) -> (1, H, A)`.
    Camera inputs are uint8 frames (1, n_obs, H, W, C); float frames holding 0..255 are cast to them."""

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

    def run(self, obs: dict[str, np.ndarray], noise: list[np.ndarray]) -> np.ndarray:
        # cameras go in as uint8 frames (the graph crops and scales them), the rest as float32; files
        # exported before cameras have no "obs_dtypes" (every input float32)
        dtypes = self.meta.get("obs_dtypes") or {}
        arrays = [np.asarray(obs[k], dtypes.get(k, "float32")) for k in self.meta["obs_keys"]] + list(noise)
        if self.kind == "onnx":
            return self._session.run(None, dict(zip(self.meta["inputs"], arrays)))[0]
        import torch

        with torch.no_grad():
            return self._module(*(torch.from_numpy(a) for a in arrays)).numpy()


def load_exported(path: str | Path, threads: int = 1) -> ExportedModel:
    return ExportedModel(path, threads)
