"""gmm's held component draw (`sample="component"`, not the default): one draw per episode keeps the policy in
the mode it picked."""

import torch

from protege.policies import make_policy
from protege.policies.gmm import GMMConfig
from protege.specs import ArraySpec, Spec

SPEC = Spec({"state": ArraySpec((2,))}, ArraySpec((1,), low=[-1.0], high=[1.0]))


def _uniform_mixture(hold: bool):
    """Five components with equal weights and distinct means, whatever the observation."""
    torch.manual_seed(0)
    policy = make_policy("gmm", GMMConfig(components=5, hidden_dims=(8,), sample="component", hold_draw=hold), SPEC,
                         None).eval()
    last = policy.net[-1]
    with torch.no_grad():
        last.weight.zero_()
        bias = last.bias.view(5, 3)  # per component: logit, mean, scale
        bias[:, 0] = 0.0
        bias[:, 1] = torch.linspace(-1.5, 1.5, 5)
    return policy


def _episode(policy, steps=30):
    obs = {"state": torch.zeros(1, 2)}
    policy.reset()
    return {round(float(policy.select_action(obs)), 4) for _ in range(steps)}


def test_held_draw_stays_in_one_component_for_the_episode():
    policy = _uniform_mixture(hold=True)
    torch.manual_seed(1)
    picked = [_episode(policy) for _ in range(20)]
    assert all(len(p) == 1 for p in picked)  # one component for the whole episode
    assert len(set().union(*picked)) >= 3  # but a fresh draw after each reset


def test_without_holding_every_step_draws_again():
    policy = _uniform_mixture(hold=False)
    torch.manual_seed(1)
    assert len(_episode(policy)) >= 3
