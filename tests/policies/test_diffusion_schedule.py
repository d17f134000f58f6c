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
