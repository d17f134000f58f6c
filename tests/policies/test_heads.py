"""Every head behind one interface: shape contract, exact save/load round trip, execution state."""

import numpy as np
import pytest
import torch

from protege.checkpoint import load_checkpoint, save_checkpoint
from protege.data import Dataset
from protege.data.stats import compute_stats
from protege.data.windows import EpisodeDataset
from protege.errors import ProtegeError
from protege.policies import POLICIES, make_policy
from protege.specs import ArraySpec, Spec

HEADS = ["mlp", "gmm", "discrete", "chunked", "act", "diffusion", "flow"]
SAMPLING = ["gmm", "discrete", "act", "diffusion", "flow"]
SPEC = Spec({"state": ArraySpec((5,))}, ArraySpec((3,), low=[-2.0] * 3, high=[2.0] * 3))


@pytest.fixture(scope="module")
def episodes():
    from protege.data import Episode

    rng = np.random.default_rng(0)
    return [Episode(observations={"state": rng.normal(size=(12, 5)).astype(np.float32)},
                    actions=rng.uniform(-2, 2, size=(12, 3)).astype(np.float32), success=True, info={"seed": i})
            for i in range(4)]


def _policy(name, episodes, **config):
    torch.manual_seed(0)
    cls = POLICIES[name][0]
    return make_policy(name, cls(**config) if config else None, SPEC, compute_stats(episodes))


def test_all_heads_are_registered():
    assert set(HEADS) <= set(POLICIES)


@pytest.mark.parametrize("name", HEADS)
def test_shape_contract(name, episodes):
    policy = _policy(name, episodes)
    data = EpisodeDataset(episodes, n_obs=policy.n_obs, horizon=policy.horizon)
    batch = data.batch(torch.arange(6))
    loss, metrics = policy.compute_loss(batch)
    assert loss.ndim == 0 and torch.isfinite(loss) and metrics
    loss.backward()
    assert any(p.grad is not None for p in policy.parameters())
    policy.eval()
    chunk = policy.predict_chunk(batch.obs)
    assert chunk.shape == (6, policy.horizon, 3)
    assert torch.isfinite(chunk).all()
    action = policy.select_action({"state": batch.obs["state"][:, -1]})
    assert action.shape == (6, 3)


@pytest.mark.parametrize("name", SAMPLING)
def test_noise_makes_sampling_a_pure_function(name, episodes):
    sample_flag = {"gmm": {"sample": "full"}, "discrete": {"sample": True}, "act": {"sample_latent": True}}
    policy = _policy(name, episodes, **sample_flag.get(name, {})).eval()
    obs = {"state": torch.randn(2, policy.n_obs, 5)}
    noise = torch.randn(policy.noise_shape(2))
    a, b = policy.predict_chunk(obs, noise=noise), policy.predict_chunk(obs, noise=noise)
    assert torch.equal(a, b)
    g1, g2 = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    assert torch.equal(policy.predict_chunk(obs, generator=g1), policy.predict_chunk(obs, generator=g2))
    assert not torch.equal(a, policy.predict_chunk(obs, noise=torch.randn(policy.noise_shape(2)) + 3))


@pytest.mark.parametrize("name", HEADS)
def test_save_load_round_trip_reproduces_actions(name, episodes, tmp_path):
    policy = _policy(name, episodes)
    policy.fit_data(torch.as_tensor(np.concatenate([e.actions for e in episodes])))
    policy.eval()
    save_checkpoint(policy, tmp_path / "ck")
    loaded = load_checkpoint(tmp_path / "ck")
    obs_seq = [{"state": torch.as_tensor(episodes[0].observations["state"][t:t + 1])} for t in range(10)]

    def rollout(p):
        torch.manual_seed(7)  # the same noise stream for sampling heads
        p.reset()
        return torch.cat([p.select_action(o) for o in obs_seq])

    assert torch.equal(rollout(policy), rollout(loaded))


@pytest.mark.parametrize("name", ["chunked", "act", "diffusion"])
def test_reset_clears_execution_state(name, episodes):
    # act's and diffusion's defaults execute one action per chunk, leaving the queue empty after a step:
    # test act's ensemble and diffusion with two steps per chunk
    policy = _policy(name, episodes, **{"act": {"execution": "ensemble"}, "diffusion": {"n_action_steps": 2}}.get(
        name, {})).eval()
    obs = {"state": torch.randn(1, 5)}
    policy.select_action(obs)
    assert len(policy.executor) > 0 and len(policy.controller._history) > 0
    policy.reset()
    assert len(policy.executor) == 0 and len(policy.controller._history) == 0


@pytest.mark.parametrize("execution", ["receding", "ensemble"])
def test_every_chunking_head_takes_either_strategy(execution, episodes):
    for name in ["chunked", "act", "diffusion", "flow", "gmm", "discrete"]:
        policy = _policy(name, episodes, horizon=4, n_action_steps=2, execution=execution).eval()
        assert policy.horizon == 4
        for _ in range(3):
            assert policy.select_action({"state": torch.randn(1, 5)}).shape == (1, 3)


def test_quantile_bins_follow_the_data(episodes):
    policy = _policy("discrete", episodes, binning="quantile", bins=8)
    actions = torch.as_tensor(np.concatenate([e.actions for e in episodes]))
    policy.fit_data(actions)
    x = policy.action_normalizer(actions).clamp(-1, 1)
    counts = torch.stack([torch.bincount(policy._bin_index(x)[:, d], minlength=8) for d in range(3)])
    assert counts.min() >= 4 and counts.max() <= 8  # 48 actions in 8 quantile bins: about 6 each


def test_bad_config_is_refused():
    from protege.policies.diffusion import DiffusionConfig
    from protege.policies.gmm import GMMConfig

    with pytest.raises(ProtegeError, match="n_action_steps"):
        GMMConfig(horizon=4, n_action_steps=5)
    with pytest.raises(ProtegeError, match="multiple of 2"):
        DiffusionConfig(horizon=7, n_action_steps=2)
    with pytest.raises(ProtegeError, match="execution"):
        POLICIES["act"][0](execution="sometimes")


def test_datasets_give_padded_windows_excluded_from_the_loss(episodes):
    from protege.policies.common import masked_step_mean

    data = EpisodeDataset(episodes, n_obs=2, horizon=4)
    batch = data.batch(torch.tensor([11]))  # the last step of the first episode
    assert batch.action_pad.tolist() == [[False, True, True, True]]
    per_step = torch.tensor([[1.0, 100.0, 100.0, 100.0]])
    assert float(masked_step_mean(per_step, batch.action_pad, batch.weight)) == pytest.approx(1.0)


def test_rebuild_controller_takes_a_changed_execution_field(episodes):
    policy = _policy("diffusion", episodes, horizon=4, n_action_steps=2).eval()
    obs = {"state": torch.randn(1, 5)}
    policy.select_action(obs)
    assert len(policy.executor) == 1  # 2 actions queued per prediction, one executed
    policy.config.n_action_steps = 4
    policy.rebuild_controller()
    policy.select_action(obs)
    assert len(policy.executor) == 3  # the new setting: 4 queued, one executed
