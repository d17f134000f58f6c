"""PPO (Schulman et al., 2017) behind the same `update(policy, batch, demos)` interface as NPG.

The clipped surrogate is maximised by a few epochs of Adam over minibatches of the iteration's samples.
With DAPG's demonstration term, each minibatch also adds w * log pi(a_demo | s_demo) over a demonstration
minibatch, scaled by M / N so the two sums keep the relative weight they have in DAPG's augmented gradient.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from protege.algos.rl.types import DemoTerm, PolicyBatch
from protege.policies.common import require
from protege.policies.gaussian import GaussianPolicy


@dataclass
class PPOConfig:
    lr: float = 3e-4
    """Adam learning rate."""
    epochs: int = 10
    """Passes over the iteration's samples."""
    minibatch_size: int = 1024
    """On-policy samples per gradient step."""
    clip: float = 0.2
    """Probability-ratio clip range."""
    max_grad_norm: float = 0.5
    """Gradient norm clip."""
    target_kl: float = 0.05
    """Stop the epochs early once the mean KL from the sampling policy exceeds this (0 = never)."""

    def __post_init__(self) -> None:
        require(self.lr > 0, "ppo", "lr", "> 0", self.lr)
        require(self.epochs >= 1, "ppo", "epochs", ">= 1", self.epochs)
        require(self.minibatch_size >= 1, "ppo", "minibatch_size", ">= 1", self.minibatch_size)
        require(0 < self.clip < 1, "ppo", "clip", "a value in (0, 1)", self.clip)


class PPO:
    def __init__(self, config: PPOConfig | None = None, seed: int = 0):
        self.config = config or PPOConfig()
        self.generator = torch.Generator().manual_seed(seed)
        self.opt: torch.optim.Adam | None = None
        self._opt_state: dict[str, Any] | None = None

    def _optimizer(self, policy: GaussianPolicy) -> torch.optim.Adam:
        if self.opt is None:
            self.opt = torch.optim.Adam(policy.parameters(), lr=self.config.lr)
            if self._opt_state is not None:
                self.opt.load_state_dict(self._opt_state)
        return self.opt

    def update(self, policy: GaussianPolicy, batch: PolicyBatch, demos: DemoTerm | None) -> dict[str, float]:
        cfg = self.config
        opt = self._optimizer(policy)
        n = batch.feats.shape[0]
        use_demos = demos is not None and demos.weight != 0
        m = demos.feats.shape[0] if use_demos else 0
        clipped = kl = 0.0
        steps = 0
        for _ in range(cfg.epochs):
            order = torch.randperm(n, generator=self.generator)
            for i in range(0, n, cfg.minibatch_size):
                idx = order[i:i + cfg.minibatch_size]
                logp = policy.log_prob(batch.feats[idx], batch.actions[idx])
                log_ratio = logp - batch.old_log_prob[idx]
                ratio = torch.exp(log_ratio)
                adv = batch.advantages[idx]
                surr = torch.minimum(ratio * adv, ratio.clamp(1 - cfg.clip, 1 + cfg.clip) * adv).mean()
                loss = -surr
                if use_demos:
                    k = max(1, round(len(idx) * m / n))
                    didx = torch.randint(m, (k,), generator=self.generator)
                    loss = loss - (m / n) * demos.weight * policy.log_prob(demos.feats[didx], demos.actions[didx]).mean()
                opt.zero_grad(set_to_none=True)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(policy.parameters(), cfg.max_grad_norm)
                opt.step()
                with torch.no_grad():
                    clipped += float(((ratio - 1).abs() > cfg.clip).float().mean())
                    kl = float(((ratio - 1) - log_ratio).mean())  # low-variance KL estimate
                steps += 1
            if cfg.target_kl > 0 and kl > cfg.target_kl:
                break
        return {"kl": kl, "clip_fraction": clipped / max(steps, 1), "grad_steps": float(steps)}

    def state_dict(self) -> dict[str, Any]:
        state: dict[str, Any] = {"generator": self.generator.get_state()}
        if self.opt is not None:
            state["adam"] = self.opt.state_dict()
        elif self._opt_state is not None:
            state["adam"] = self._opt_state
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.generator.set_state(state["generator"])
        self._opt_state = state.get("adam")
        self.opt = None
