"""The value baseline: an MLP V(s, t/horizon) fitted by regression to lambda-returns each iteration.

Inputs are the policy's normalised observation features plus the fraction of the episode elapsed (episodes
are cut at a fixed horizon, so the same state is worth less near the end). Targets are standardised with
statistics kept as buffers, so Meta-World's returns in the thousands and pendulum's in the hundreds fit
with the same learning rate.
"""

from __future__ import annotations

import torch
from torch import nn

from protege.policies.nets import mlp


class ValueFunction(nn.Module):
    def __init__(self, obs_dim: int, hidden_dims: tuple[int, ...] = (128, 128)):
        super().__init__()
        self.net = mlp(obs_dim + 1, hidden_dims, 1, layer_norm=False, activation=nn.Tanh)
        self.register_buffer("target_mean", torch.zeros(()))
        self.register_buffer("target_std", torch.ones(()))

    def forward(self, feats: torch.Tensor, time_frac: torch.Tensor) -> torch.Tensor:
        """(B, D) normalised features, (B,) elapsed fraction in [0, 1] -> (B,) value in reward units."""
        z = self.net(torch.cat([feats, time_frac[:, None]], dim=-1))[:, 0]
        return z * self.target_std + self.target_mean

    def fit(self, feats: torch.Tensor, time_frac: torch.Tensor, targets: torch.Tensor, epochs: int,
            batch_size: int, lr: float, generator: torch.Generator) -> float:
        """Regress on (B,) targets for `epochs` passes of minibatches; returns the final mean squared error
        in standardised units (a value near 1 means the baseline explains little)."""
        with torch.no_grad():
            # Re-centre the output scale, keeping the current predictions unchanged.
            old_mean, old_std = self.target_mean.clone(), self.target_std.clone()
            self.target_mean.copy_(targets.mean())
            self.target_std.copy_(targets.std().clamp(min=1e-3))
            last = self.net[-1]
            last.weight.mul_(old_std / self.target_std)
            last.bias.mul_(old_std / self.target_std).add_((old_mean - self.target_mean) / self.target_std)
        z_target = (targets - self.target_mean) / self.target_std
        x = torch.cat([feats, time_frac[:, None]], dim=-1)
        opt = torch.optim.Adam(self.net.parameters(), lr=lr)
        n = x.shape[0]
        for _ in range(epochs):
            order = torch.randperm(n, generator=generator)
            for i in range(0, n, batch_size):
                idx = order[i:i + batch_size]
                loss = ((self.net(x[idx])[:, 0] - z_target[idx]) ** 2).mean()
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
        with torch.no_grad():
            return float(((self.net(x)[:, 0] - z_target) ** 2).mean())
