import numpy as np
import pytest
import torch

from protege.checkpoint import PolicyActor, load_actor, load_checkpoint, save_checkpoint
from protege.data import compute_stats
from protege.errors import ProtegeError
from protege.policies import MLPConfig, make_policy
from protege.specs import ArraySpec, Spec

SPEC = Spec({"state": ArraySpec((3,))}, ArraySpec((2,), low=[-1, -1], high=[1, 1]))


@pytest.fixture
def policy(make_episode):
    torch.manual_seed(0)
    stats = compute_stats([make_episode(T=20, seed=i) for i in range(3)])
    return make_policy("mlp", MLPConfig(hidden_dims=(32, 32), n_obs=2), SPEC, stats)


def test_round_trip_reproduces_actions_exactly(tmp_path, policy):
    save_checkpoint(policy, tmp_path / "ck")
    loaded = load_checkpoint(tmp_path / "ck")
    obs = [{"state": np.random.default_rng(i).normal(size=3).astype(np.float32)} for i in range(5)]
    a, b = PolicyActor(policy), PolicyActor(loaded)
    a.reset(), b.reset()
    for o in obs:
        np.testing.assert_array_equal(a.act(o), b.act(o))


def test_normalisation_lives_in_the_weights(tmp_path, policy):
    save_checkpoint(policy, tmp_path / "ck")
    loaded = load_checkpoint(tmp_path / "ck")
    torch.testing.assert_close(loaded.obs_normalizer.shift, policy.obs_normalizer.shift)
    assert not torch.allclose(loaded.obs_normalizer.shift, torch.zeros(3))


def test_spec_mismatch_names_both_specs(tmp_path, policy):
    save_checkpoint(policy, tmp_path / "ck")
    other = Spec({"state": ArraySpec((39,))}, ArraySpec((4,)))
    with pytest.raises(ProtegeError, match=r"does not fit task X: expected observation \{state: float32\[3\]\}, "
                                           r"action float32\[2\], found observation \{state: float32\[39\]\}"):
        load_actor(tmp_path / "ck", other, "task X")


def test_corrupt_weights_are_named(tmp_path, policy):
    save_checkpoint(policy, tmp_path / "ck")
    (tmp_path / "ck" / "model.safetensors").write_bytes(b"garbage")
    with pytest.raises(ProtegeError, match=r"model\.safetensors: expected a readable safetensors file"):
        load_checkpoint(tmp_path / "ck")


def test_missing_checkpoint(tmp_path):
    with pytest.raises(ProtegeError, match="expected a checkpoint folder, found no such file"):
        load_checkpoint(tmp_path / "none")
