"""NPG: conjugate gradient, the Fisher-vector product against an explicit Fisher, and learning on pendulum."""

import numpy as np
import torch

from protege.algos.rl import RLConfig, rl_from_scratch
from protege.algos.rl.npg import NPGConfig, conjugate_gradient, fisher_vector_product
from protege.envs import get_task
from protege.policies import make_policy
from protege.policies.gaussian import GaussianConfig
from protege.specs import ArraySpec, Spec


def test_conjugate_gradient_solves_a_known_system():
    rng = np.random.default_rng(0)
    M = rng.normal(size=(8, 8))
    A = torch.tensor(M @ M.T + 8 * np.eye(8), dtype=torch.float64)
    x_true = torch.tensor(rng.normal(size=8), dtype=torch.float64)
    x = conjugate_gradient(lambda v: A @ v, A @ x_true, iters=20)
    assert torch.allclose(x, x_true, atol=1e-8)


def test_fisher_vector_product_matches_explicit_fisher():
    torch.manual_seed(0)
    spec = Spec({"state": ArraySpec((2,))}, ArraySpec((2,), low=[-1, -1], high=[1, 1]))
    policy = make_policy("gaussian", GaussianConfig(hidden_dims=(3,), init_log_std=-0.3), spec, None)
    with torch.no_grad():  # a non-trivial mean and unequal stds
        policy.mean_net[-1].weight.normal_()
        policy.log_std.copy_(torch.tensor([-0.3, 0.4]))
    feats = torch.randn(5, 2)
    params = list(policy.parameters())
    n = sum(p.numel() for p in params)
    # Explicit Fisher of a diagonal Gaussian: J_mu^T diag(1/sigma^2) J_mu per sample (mean parameters)
    # plus 2 on the log-std diagonal, averaged over samples.
    F = torch.zeros(n, n)
    inv_var = torch.exp(-2 * policy.log_std.detach())
    for i in range(feats.shape[0]):
        rows = []
        for a in range(2):
            g = torch.autograd.grad(policy.mean_net(feats[i:i + 1])[0, a], params, allow_unused=True)
            rows.append(torch.cat([(x if x is not None else torch.zeros_like(p)).reshape(-1) for x, p in zip(g, params)]))
        J = torch.stack(rows)  # (A, n)
        F += J.T @ torch.diag(inv_var) @ J
    F /= feats.shape[0]
    assert params[0] is policy.log_std  # a module's own parameters come before its submodules'
    F[:2, :2] += 2 * torch.eye(2)
    fvp = fisher_vector_product(policy, feats)
    for _ in range(3):
        v = torch.randn(n)
        assert torch.allclose(fvp(v), F @ v, rtol=1e-4, atol=1e-5)


def test_npg_improves_pendulum_return_from_a_poor_start(tmp_path):
    torch.set_num_threads(1)
    cfg = RLConfig(env_steps=24_000, episodes_per_iter=10, num_envs=10, gamma=0.99, gae_lambda=0.95, seed=0,
                   npg=NPGConfig(kl_step=0.05))
    result = rl_from_scratch(get_task("pendulum"), cfg, tmp_path / "run")
    returns = [r["mean_return"] for r in result.curve]
    assert len(returns) >= 10
    # From a near-zero-torque start (return ~ -1300) the return must rise clearly within 12 iterations.
    assert np.mean(returns[-3:]) > np.mean(returns[:2]) + 150, returns
    assert all(r["kl"] < 0.2 for r in result.curve)  # the trust region holds
