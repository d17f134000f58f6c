import torch

from protege.data import Batch
from protege.policies import MLPConfig, make_policy
from protege.specs import ArraySpec, Spec


def test_obs_noise_only_perturbs_training():
    spec = Spec({"state": ArraySpec((3,))}, ArraySpec((2,)))
    torch.manual_seed(0)
    policy = make_policy("mlp", MLPConfig(hidden_dims=(16,), obs_noise=1.0), spec)
    batch = Batch({"state": torch.randn(8, 1, 3)}, torch.rand(8, 1, 2) * 2 - 1, torch.zeros(8, 1, dtype=torch.bool),
                  torch.ones(8))
    policy.train()
    assert policy.compute_loss(batch)[0] != policy.compute_loss(batch)[0]
    policy.eval()
    assert policy.compute_loss(batch)[0] == policy.compute_loss(batch)[0]
