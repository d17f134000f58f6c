"""Behaviour: on a two-mode toy dataset, distributional heads sample both modes; MSE lands between.

Every episode's observations are pure noise (no cue) and its actions are all +0.8 or all -0.8 on the first
dimension, half the episodes each. A regression head can only predict the mean (about 0); a head that
models the distribution must put its samples near both +0.8 and -0.8. Small configs and a few hundred
steps keep this fast; the seed is fixed.
"""

import numpy as np
import pytest
import torch

from protege.algos.bc import TrainConfig, train_bc
from protege.data import Dataset, Episode
from protege.specs import ArraySpec, Spec

SPEC = Spec({"state": ArraySpec((2,))}, ArraySpec((2,), low=[-1.0, -1.0], high=[1.0, 1.0]))
SMALL = {
    "mlp": {"hidden_dims": (32, 32)},
    "chunked": {"hidden_dims": (32, 32), "horizon": 2, "n_action_steps": 1},
    "gmm": {"hidden_dims": (32, 32), "sample": "full"},
    "discrete": {"hidden_dims": (32, 32), "bins": 21, "sample": True},
    "act": {"d_model": 16, "n_heads": 2, "ff_dim": 32, "encoder_layers": 1, "decoder_layers": 1, "vae_layers": 1,
            "horizon": 2, "n_action_steps": 1, "latent_dim": 2, "kl_weight": 1.0, "dropout": 0.0,
            "sample_latent": True},
    "diffusion": {"down_dims": (16, 32), "horizon": 2, "n_action_steps": 1, "n_obs": 1, "train_steps": 50,
                  "ema_decay": 0.9},
    "flow": {"down_dims": (16, 32), "horizon": 2, "n_action_steps": 1, "n_obs": 1, "ema_decay": 0.9},
}
STEPS = {"mlp": 200, "chunked": 200, "gmm": 300, "discrete": 300, "act": 400, "diffusion": 400, "flow": 400}


@pytest.fixture(scope="module")
def two_mode_data():
    rng = np.random.default_rng(0)
    eps = []
    for i in range(40):
        sign = 1.0 if i % 2 == 0 else -1.0
        act = np.zeros((10, 2), np.float32)
        act[:, 0] = 0.8 * sign
        act[:, 1] = rng.uniform(-0.1, 0.1, size=10)
        eps.append(Episode(observations={"state": rng.normal(size=(10, 2)).astype(np.float32)}, actions=act,
                           success=True, info={"seed": i}))
    # the demonstrated range is [-0.8, 0.8]: add one step per side at +-1 so the modes sit inside it
    eps[0].actions[0, 0], eps[1].actions[0, 0] = 1.0, -1.0
    return Dataset(eps, SPEC)


def _first_dims(name, data, n=200):
    from protege.policies import POLICIES

    cfg = POLICIES[name][0](**SMALL[name])
    policy = train_bc(data, name, cfg, TrainConfig(steps=STEPS[name], batch_size=64, eval_every=STEPS[name],
                                                   val_fraction=0.0, warmup_steps=20, lr=3e-3, seed=0)).policy
    torch.manual_seed(1)
    obs = {"state": torch.randn(n, policy.n_obs, 2)}
    return policy.predict_chunk(obs)[:, 0, 0].numpy()


@pytest.mark.parametrize("name", ["mlp", "chunked"])
def test_regression_heads_average_the_modes(name, two_mode_data):
    a = _first_dims(name, two_mode_data)
    # measured: 0.995-1.0 between for mlp and chunked over training seeds 0-4 x threads 1 and 2
    assert np.mean(np.abs(a) < 0.4) > 0.8, np.histogram(a, bins=8, range=(-1, 1))


# gmm and discrete train in seconds; the transformer and the U-Net heads take far longer on a shared 2-core
# CPU, so they run with `-m slow` (they passed there: see the issue note)
@pytest.mark.parametrize("name", ["gmm", "discrete",
                                  pytest.param("act", marks=pytest.mark.slow),
                                  pytest.param("diffusion", marks=pytest.mark.slow),
                                  pytest.param("flow", marks=pytest.mark.slow)])
def test_distributional_heads_sample_both_modes(name, two_mode_data):
    a = _first_dims(name, two_mode_data)
    near_plus, near_minus = np.mean(np.abs(a - 0.8) < 0.3), np.mean(np.abs(a + 0.8) < 0.3)
    # measured (gmm, discrete): each mode 0.465-0.535, between <= 0.01, over training seeds 0-4 x threads 1 and 2
    assert near_plus > 0.25 and near_minus > 0.25, (near_plus, near_minus, np.histogram(a, bins=8, range=(-1, 1)))
    assert np.mean(np.abs(a) < 0.4) < 0.2  # few samples in between, where MSE lands
