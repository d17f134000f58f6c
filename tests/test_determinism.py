"""Same seed, same thread count, same machine -> the same checkpoint, byte for byte (docs/DESIGN.md).

Training sets torch's thread count itself (`TrainConfig.threads`, 0 = the library default) and records
the count it used, because a float sum split over another number of threads trains another network.
"""

import json

import pytest
import torch

from protege import runtime
from protege.algos.bc import TrainConfig, train_bc
from protege.data import Dataset
from protege.errors import ProtegeError
from protege.policies import POLICIES
from protege.specs import ArraySpec, Spec

# small enough to train in seconds; dropout and latent sampling stay on, so the seeded RNG streams matter
HEADS = {
    "mlp": {"hidden_dims": (32, 32)},
    "act": {"d_model": 16, "n_heads": 2, "ff_dim": 32, "encoder_layers": 1, "decoder_layers": 1, "vae_layers": 1,
            "horizon": 4, "n_action_steps": 2, "latent_dim": 2},
    "diffusion": {"down_dims": (8, 16), "horizon": 4, "n_action_steps": 2, "n_obs": 1, "train_steps": 20,
                  "inference_steps": 2},
}
TIMING_FIELDS = ("wall_seconds", "samples_per_second")  # none are written today; ignored if they ever are


@pytest.fixture
def dataset(make_episode):
    return Dataset([make_episode(T=24, seed=i) for i in range(6)], Spec({"state": ArraySpec((3,))}, ArraySpec((2,))))


def _train(dataset, head, out, threads):
    cfg = POLICIES[head][0](**HEADS[head])
    train_bc(dataset, head, cfg, TrainConfig(steps=30, batch_size=32, eval_every=10, warmup_steps=5, seed=7,
                                             threads=threads), out=out)
    config = json.loads((out / "config.json").read_text())
    return (out / "model.safetensors").read_bytes(), {k: v for k, v in config.items() if k not in TIMING_FIELDS}


# two threads only for mlp: on a busy 2-core machine a 2-thread run of the bigger heads is slow to no purpose
@pytest.mark.parametrize(("head", "threads"), [("mlp", 1), ("mlp", 2), ("act", 1), ("diffusion", 1)])
def test_same_seed_twice_gives_a_byte_identical_checkpoint(tmp_path, dataset, head, threads):
    weights_a, config_a = _train(dataset, head, tmp_path / "a", threads)
    weights_b, config_b = _train(dataset, head, tmp_path / "b", threads)
    assert weights_a == weights_b
    assert config_a == config_b


def test_the_thread_count_is_applied_and_recorded(tmp_path, dataset, monkeypatch):
    monkeypatch.setattr(runtime, "_chosen", None)  # nothing remembered: 0 means the library default
    train_bc(dataset, "mlp", None, TrainConfig(steps=5, eval_every=5, threads=1), out=tmp_path / "one")
    assert torch.get_num_threads() == 1
    assert json.loads((tmp_path / "one/config.json").read_text())["train"]["threads"] == 1

    monkeypatch.setattr(runtime, "_chosen", None)
    monkeypatch.setattr(runtime, "default_threads", lambda: 2)
    train_bc(dataset, "mlp", None, TrainConfig(steps=5, eval_every=5), out=tmp_path / "default")
    assert torch.get_num_threads() == 2
    assert json.loads((tmp_path / "default/config.json").read_text())["train"]["threads"] == 2  # the count used


def test_a_negative_thread_count_is_refused():
    with pytest.raises(ProtegeError, match=r"field 'threads': expected >= 0"):
        TrainConfig(threads=-1)
