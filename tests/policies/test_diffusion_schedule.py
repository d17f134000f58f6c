"""DDIM's step spacing: well conditioned, and a checkpoint's own spacing is what it samples with."""

import math

import torch

from protege.policies import make_policy
from protege.policies.diffusion import DiffusionConfig
from protege.specs import ArraySpec, Spec

SPEC = Spec({"state": ArraySpec((3,))}, ArraySpec((2,), low=[-1.0, -1.0], high=[1.0, 1.0]))


def test_ddim_uses_leading_spacing_and_a_well_conditioned_first_step():
    policy = make_policy("diffusion", DiffusionConfig(train_steps=100, inference_steps=10), SPEC, None)
    assert policy.ddim_steps.tolist() == [90, 80, 70, 60, 50, 40, 30, 20, 10, 0]
    first = policy._ddim_coefficients()[0]
    # the first x0 estimate divides by sqrt(alpha-bar): at step 99 that is ~5e-4 (rounding x2000), here > 0.1
    assert first[0] > 0.1 and math.isclose(first[0], float(policy.alphas_cumprod[90]) ** 0.5)
    assert policy._ddim_coefficients()[-1][2:] == (1.0, 0.0)  # the last step lands on the clean chunk


def test_coefficients_follow_the_loaded_spacing():
    policy = make_policy("diffusion", DiffusionConfig(), SPEC, None)
    state = policy.state_dict()
    state["ddim_steps"] = torch.linspace(99, 0, 10).round().long()  # what earlier checkpoints stored
    policy.load_state_dict(state)
    coeffs = policy._ddim_coefficients()
    assert math.isclose(coeffs[0][0], float(policy.alphas_cumprod[99]) ** 0.5)
    assert math.isclose(coeffs[1][0], float(policy.alphas_cumprod[88]) ** 0.5)


def test_both_prediction_targets_train_and_sample():
    from protege.data.stats import compute_stats
    from protege.data.windows import EpisodeDataset
    from protege.data import Episode
    import numpy as np

    rng = np.random.default_rng(0)
    eps = [Episode(observations={"state": rng.normal(size=(20, 3)).astype(np.float32)},
                   actions=rng.uniform(-1, 1, size=(20, 2)).astype(np.float32), success=True, info={"seed": i})
           for i in range(3)]
    for prediction in ("sample", "epsilon"):
        policy = make_policy("diffusion", DiffusionConfig(prediction=prediction), SPEC, compute_stats(eps))
        batch = EpisodeDataset(eps, n_obs=policy.n_obs, horizon=policy.horizon).batch(torch.arange(4))
        loss, metrics = policy.compute_loss(batch)
        assert torch.isfinite(loss) and "denoise_mse" in metrics
        chunk = policy.eval().predict_chunk(batch.obs)
        assert chunk.shape == (4, 16, 2) and chunk.abs().max() <= 1.0 + 1e-6


def test_a_checkpoint_from_before_the_prediction_field_loads_as_epsilon(tmp_path):
    import json

    from protege.checkpoint import load_checkpoint, save_checkpoint

    save_checkpoint(make_policy("diffusion", DiffusionConfig(prediction="epsilon"), SPEC, None), tmp_path / "ck")
    cfg_path = tmp_path / "ck" / "config.json"
    cfg = json.loads(cfg_path.read_text())
    del cfg["policy_config"]["prediction"]  # as saved before the field existed
    cfg_path.write_text(json.dumps(cfg))
    assert load_checkpoint(tmp_path / "ck").config.prediction == "epsilon"
    assert DiffusionConfig().prediction == "sample"
