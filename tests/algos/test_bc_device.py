"""train_bc's device, precision and data path: `auto` trains on the CPU here and records it, a GPU asked
for where there is none is a one-line error, and decoding cameras ahead on worker threads trains exactly the
network the synchronous loop trains."""

import hashlib
import json

import numpy as np
import pytest
import torch

from protege.algos.bc import TrainConfig, _amp_dtype, train_bc
from protege.checkpoint import load_checkpoint
from protege.data import Dataset, Episode
from protege.errors import ProtegeError
from protege.specs import ArraySpec, Spec

SPEC = Spec({"state": ArraySpec((3,))}, ArraySpec((2,)))


def _state_dataset(n=4):
    rng = np.random.default_rng(0)
    eps = [Episode(observations={"state": rng.normal(size=(15, 3)).astype(np.float32)},
                   actions=rng.uniform(-1, 1, size=(15, 2)).astype(np.float32)) for _ in range(n)]
    return Dataset(eps, SPEC)


def _camera_dataset(n=4):
    rng = np.random.default_rng(1)
    eps = [Episode(observations={"state": rng.normal(size=(15, 3)).astype(np.float32),
                                 "cam": rng.integers(0, 256, size=(15, 8, 8, 3), dtype=np.uint8)},
                   actions=rng.uniform(-1, 1, size=(15, 2)).astype(np.float32)) for _ in range(n)]
    return Dataset(eps, Spec({"state": ArraySpec((3,)), "cam": ArraySpec((8, 8, 3), dtype="uint8")}, ArraySpec((2,))))


def _small(**kw):
    return TrainConfig(**{"steps": 20, "batch_size": 8, "eval_every": 10, "threads": 1, "val_fraction": 0.25, **kw})


def _weights(path):
    return hashlib.sha256((path / "model.safetensors").read_bytes()).hexdigest()


@pytest.mark.skipif(torch.cuda.is_available(), reason="a machine without a GPU")
def test_auto_trains_on_the_cpu_in_fp32_and_records_it(tmp_path):
    assert TrainConfig().device == "auto"
    result = train_bc(_state_dataset(), "mlp", {"hidden_dims": [8]}, _small(), out=tmp_path / "ck")
    assert (result.device, result.precision) == ("cpu", "fp32")
    train = json.loads((tmp_path / "ck" / "config.json").read_text())["train"]
    assert (train["device"], train["precision"]) == ("cpu", "fp32")
    assert _amp_dtype(torch.device("cpu"), "bf16") is None  # mixed precision only on a GPU


@pytest.mark.skipif(torch.cuda.is_available(), reason="a machine without a GPU")
def test_cuda_without_a_gpu_is_a_one_line_error(tmp_path):
    with pytest.raises(ProtegeError) as e:
        train_bc(_state_dataset(), "mlp", None, _small(device="cuda"), out=tmp_path / "ck")
    msg = str(e.value)
    assert "\n" not in msg and "field 'device'" in msg and "a CUDA GPU for 'cuda'" in msg and "none on this machine" in msg
    assert not (tmp_path / "ck").exists()


@pytest.mark.skipif(torch.cuda.is_available(), reason="a machine without a GPU")
def test_cli_device_cuda_without_a_gpu_is_one_line(tmp_path, capsys):
    from protege.cli import main
    from protege.data.native import save_dataset

    save_dataset(_state_dataset(2), tmp_path / "data")
    rc = main(["train", "--data", str(tmp_path / "data"), "--out", str(tmp_path / "ck"), "--steps", "2",
               "--device", "cuda", "--threads", "1"])
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert rc != 0 and len(err) == 1 and "a CUDA GPU for 'cuda'" in err[0], err


def test_bad_settings_are_refused_by_the_config():
    for kw, match in (({"device": "tpu"}, "field 'device'"), ({"device": "cuda:x"}, "field 'device'"),
                      ({"precision": "fp8"}, "field 'precision'"), ({"workers": -1}, "field 'workers'"),
                      ({"prefetch": 0}, "field 'prefetch'")):
        with pytest.raises(ProtegeError, match=match):
            TrainConfig(**kw)
    assert _amp_dtype(torch.device("cuda"), "fp16") == torch.float16
    assert _amp_dtype(torch.device("cuda"), "fp32") is None


def test_decoding_ahead_on_workers_trains_the_synchronous_network_and_records_the_wait(tmp_path):
    ds = _camera_dataset()
    sync = train_bc(ds, "mlp", {"hidden_dims": [8]}, _small(workers=0), out=tmp_path / "sync")
    ahead = train_bc(ds, "mlp", {"hidden_dims": [8]}, _small(workers=2, prefetch=3), out=tmp_path / "ahead")
    assert _weights(tmp_path / "sync") == _weights(tmp_path / "ahead")
    assert [h["val_loss"] for h in sync.history] == [h["val_loss"] for h in ahead.history]
    for r in (sync, ahead):
        assert 0 < r.data_wait_fraction < 1
        assert all(0 <= h["data_wait"] < 1 for h in r.history)
    import threading
    assert not [t for t in threading.enumerate() if t.name.startswith("protege-loader")]


def test_state_only_training_is_unchanged_by_the_loader_settings(tmp_path):
    ds = _state_dataset()
    train_bc(ds, "mlp", {"hidden_dims": [8]}, _small(workers=0, prefetch=1), out=tmp_path / "a")
    train_bc(ds, "mlp", {"hidden_dims": [8]}, _small(workers=3, prefetch=4), out=tmp_path / "b")
    assert _weights(tmp_path / "a") == _weights(tmp_path / "b")


def test_an_error_in_training_ends_the_decoding_threads(tmp_path, monkeypatch):
    import threading

    from protege.policies.mlp import MLPPolicy

    calls = []

    def failing(self, batch):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return original(self, batch)

    original = MLPPolicy.compute_loss
    monkeypatch.setattr(MLPPolicy, "compute_loss", failing)
    with pytest.raises(KeyboardInterrupt):
        train_bc(_camera_dataset(), "mlp", {"hidden_dims": [8]}, _small(workers=2), out=tmp_path / "ck")
    assert not [t for t in threading.enumerate() if t.name.startswith("protege-loader")]


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a GPU")
@pytest.mark.parametrize("precision", ["auto", "fp16"])
def test_gpu_mixed_precision_trains_and_the_checkpoint_loads_on_the_cpu(tmp_path, precision):
    result = train_bc(_camera_dataset(), "mlp", {"hidden_dims": [16]}, _small(steps=60, precision=precision),
                      out=tmp_path / "ck")
    assert result.device.startswith("cuda") and result.precision in ("bf16", "fp16")
    assert result.history[-1]["train_loss"] < result.history[0]["train_loss"] * 1.5
    policy = load_checkpoint(tmp_path / "ck", map_location="cpu")
    assert all(p.device.type == "cpu" for p in policy.parameters())
    obs = {"state": torch.zeros(1, 3), "cam": torch.zeros(1, 8, 8, 3, dtype=torch.uint8)}
    assert torch.isfinite(policy.select_action(obs)).all()
