"""Natural policy gradient (Kakade, 2002; as used by DAPG): the gradient preconditioned by the inverse
Fisher information, solved by conjugate gradient, and scaled so the step moves the policy by a fixed KL.

The interface every policy optimiser here shares is `PolicyOptimizer.update(policy, batch, demos)` (`types.py`): the
on-policy samples with their (already normalised) advantages, and optionally DAPG's demonstration term,
whose samples enter the gradient with a per-sample weight in place of an advantage. `ppo.py` is the other
implementation. The Fisher matrix is never formed: `fisher_vector_product` differentiates the KL twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import torch

from protege.algos.rl.types import DemoTerm, PolicyBatch
from protege.policies.common import require
from protege.policies.gaussian import GaussianPolicy


@dataclass
class NPGConfig:
    kl_step: float = 0.05
    """Trust region: each step moves the policy by this mean KL divergence (normalised step)."""
    cg_iters: int = 10
    """Conjugate-gradient iterations for the natural gradient."""
    damping: float = 1e-4
    """Added to the Fisher diagonal for a well-conditioned solve."""
    fisher_samples: int = 4096
    """On-policy samples (a random subset) used in Fisher-vector products; 0 = all."""
    max_backtracks: int = 10
    """Halvings of the step allowed while its measured KL exceeds 1.5 x kl_step."""

    def __post_init__(self) -> None:
        require(self.kl_step > 0, "npg", "kl_step", "> 0", self.kl_step)
        require(self.cg_iters >= 1, "npg", "cg_iters", ">= 1", self.cg_iters)
        require(self.damping >= 0, "npg", "damping", ">= 0", self.damping)
        require(self.fisher_samples >= 0, "npg", "fisher_samples", ">= 0", self.fisher_samples)
        require(self.max_backtracks >= 0, "npg", "max_backtracks", ">= 0", self.max_backtracks)


# --- flat-parameter helpers ------------------------------------------------------------------------
def flat_grad(y: torch.Tensor, params: list[torch.Tensor], create_graph: bool = False,
              retain_graph: bool | None = None) -> torch.Tensor:
    grads = torch.autograd.grad(y, params, create_graph=create_graph, retain_graph=retain_graph, allow_unused=True)
    return torch.cat([(g if g is not None else torch.zeros_like(p)).reshape(-1) for g, p in zip(grads, params)])


def get_flat(params: list[torch.Tensor]) -> torch.Tensor:
    return torch.cat([p.detach().reshape(-1) for p in params])


def set_flat(params: list[torch.Tensor], flat: torch.Tensor) -> None:
    i = 0
    with torch.no_grad():
        for p in params:
            p.copy_(flat[i:i + p.numel()].view_as(p))
            i += p.numel()


def conjugate_gradient(Avp: Callable[[torch.Tensor], torch.Tensor], b: torch.Tensor, iters: int,
                       tol: float = 1e-10) -> torch.Tensor:
    """Solve A x = b for symmetric positive-definite A given only products A v."""
    x = torch.zeros_like(b)
    r = b.clone()
    p = b.clone()
    rr = r @ r
    for _ in range(iters):
        if rr < tol:
            break
        Ap = Avp(p)
        alpha = rr / (p @ Ap)
        x += alpha * p
        r -= alpha * Ap
        rr_new = r @ r
        p = r + (rr_new / rr) * p
        rr = rr_new
    return x


def mean_kl(policy: GaussianPolicy, feats: torch.Tensor, old_mean: torch.Tensor, old_log_std: torch.Tensor) -> torch.Tensor:
    """Mean over samples of KL(pi_old || pi) for diagonal Gaussians; old_* are (N, A) and (A,) constants."""
    mean, log_std = policy.mean_log_std(feats)
    var_ratio = torch.exp(2 * (old_log_std - log_std))
    kl = log_std - old_log_std + 0.5 * (var_ratio + ((old_mean - mean) ** 2) * torch.exp(-2 * log_std)) - 0.5
    return kl.sum(-1).mean()


def fisher_vector_product(policy: GaussianPolicy, feats: torch.Tensor, damping: float = 0.0
                          ) -> Callable[[torch.Tensor], torch.Tensor]:
    """v -> (F + damping I) v, F the Fisher of pi at its current parameters on `feats`: the Hessian of the
    mean KL from the current policy, taken at the current policy (first derivative there is zero)."""
    params = [p for p in policy.parameters() if p.requires_grad]
    with torch.no_grad():
        old_mean, old_log_std = policy.mean_log_std(feats)
    grad_kl = flat_grad(mean_kl(policy, feats, old_mean, old_log_std), params, create_graph=True)

    def fvp(v: torch.Tensor) -> torch.Tensor:
        return flat_grad(grad_kl @ v, params, retain_graph=True).detach() + damping * v

    return fvp


def policy_gradient(policy: GaussianPolicy, batch: PolicyBatch, demos: DemoTerm | None) -> torch.Tensor:
    """DAPG's augmented gradient (plain policy gradient when `demos` is None), flat:
    [sum_pi grad log pi(a|s) A(s,a) + sum_demo grad log pi(a|s) w] / (N + M)."""
    params = [p for p in policy.parameters() if p.requires_grad]
    total = (policy.log_prob(batch.feats, batch.actions) * batch.advantages).sum()
    n = batch.feats.shape[0]
    if demos is not None and demos.weight != 0:
        total = total + demos.weight * policy.log_prob(demos.feats, demos.actions).sum()
        n += demos.feats.shape[0]
    return flat_grad(total / n, params)


class NPG:
    """Natural policy gradient with a normalised (fixed-KL) step."""

    def __init__(self, config: NPGConfig | None = None, seed: int = 0):
        self.config = config or NPGConfig()
        self.generator = torch.Generator().manual_seed(seed)

    def update(self, policy: GaussianPolicy, batch: PolicyBatch, demos: DemoTerm | None) -> dict[str, float]:
        cfg = self.config
        params = [p for p in policy.parameters() if p.requires_grad]
        g = policy_gradient(policy, batch, demos)
        feats = batch.feats
        if 0 < cfg.fisher_samples < feats.shape[0]:
            feats = feats[torch.randperm(feats.shape[0], generator=self.generator)[:cfg.fisher_samples]]
        with torch.no_grad():
            old_mean_all, old_log_std = policy.mean_log_std(batch.feats)
        fvp = fisher_vector_product(policy, feats, cfg.damping)
        step_dir = conjugate_gradient(fvp, g, cfg.cg_iters)
        shs = float(g @ step_dir)
        alpha = (2 * cfg.kl_step / max(shs, 1e-20)) ** 0.5
        before = get_flat(params)
        # The step is sized by a quadratic model of the KL; where that model is poor (e.g. a small std),
        # halve it until the measured KL is within 1.5x the trust region.
        for _ in range(cfg.max_backtracks + 1):
            set_flat(params, before + alpha * step_dir)
            with torch.no_grad():
                kl = float(mean_kl(policy, batch.feats, old_mean_all, old_log_std))
            if kl <= 1.5 * cfg.kl_step:
                break
            alpha *= 0.5
        with torch.no_grad():
            ratio = torch.exp(policy.log_prob(batch.feats, batch.actions) - batch.old_log_prob)
            surr_gain = float((ratio * batch.advantages).mean() - batch.advantages.mean())
        return {"kl": kl, "step_size": alpha, "grad_norm": float(g.norm()), "surrogate_gain": surr_gain}

    def state_dict(self) -> dict[str, Any]:
        return {"generator": self.generator.get_state()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.generator.set_state(state["generator"])
