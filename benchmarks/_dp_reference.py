"""A Diffusion-Policy-sized denoiser, for latency comparisons only (issue 14).

The layout of Diffusion Policy's 1-D conditional U-Net (Chi et al., RSS 2023) as its paper and code
describe it, written here from that description: at every resolution two residual blocks, each of two
Conv1d(kernel 5) + GroupNorm(8) + Mish layers with a FiLM (per-channel scale and shift) from the
condition, a stride-2 convolution between resolutions, two residual blocks in the middle, the mirror
path up with skip connections and transposed convolutions, and a final conv block. The condition is the
sinusoidal diffusion-step embedding through a 2-layer MLP, concatenated with the flattened observation
history. With down_dims (256, 512, 1024), Diffusion Policy's default, it has 66.3M parameters on a 39-D
state and 4-D actions (the count matches the layout's arithmetic); (128, 256, 512), the default here,
18.2M: the size nearest the 16M-parameter reference the issue names.

`sample(cond, steps)` runs the deterministic sampler loop (one network call per step, as protege's
DDIM-style sampler does), so its cost is `steps` forward passes plus negligible arithmetic.
"""

from __future__ import annotations

import math

import torch
from torch import nn


def _conv_block(c_in: int, c_out: int, kernel: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv1d(c_in, c_out, kernel, padding=kernel // 2), nn.GroupNorm(8, c_out), nn.Mish())


class _ResBlock(nn.Module):
    def __init__(self, c_in: int, c_out: int, cond_dim: int, kernel: int):
        super().__init__()
        self.first, self.second = _conv_block(c_in, c_out, kernel), _conv_block(c_out, c_out, kernel)
        self.film = nn.Sequential(nn.Mish(), nn.Linear(cond_dim, 2 * c_out))
        self.skip = nn.Conv1d(c_in, c_out, 1) if c_in != c_out else nn.Identity()

    def forward(self, x: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        scale, shift = self.film(cond)[:, :, None].chunk(2, dim=1)
        return self.second(self.first(x) * scale + shift) + self.skip(x)


class ReferenceUnet1D(nn.Module):
    def __init__(self, action_dim: int, obs_cond_dim: int, down_dims=(128, 256, 512), kernel: int = 5,
                 step_dim: int = 256):
        super().__init__()
        self.step_dim = step_dim
        self.step_mlp = nn.Sequential(nn.Linear(step_dim, 4 * step_dim), nn.Mish(), nn.Linear(4 * step_dim, step_dim))
        cond = step_dim + obs_cond_dim
        dims = [action_dim, *down_dims]
        self.down = nn.ModuleList()
        for i, (a, b) in enumerate(zip(dims[:-1], dims[1:])):
            last = i == len(down_dims) - 1
            self.down.append(nn.ModuleList([_ResBlock(a, b, cond, kernel), _ResBlock(b, b, cond, kernel),
                                            nn.Identity() if last else nn.Conv1d(b, b, 3, 2, 1)]))
        mid = down_dims[-1]
        self.mid = nn.ModuleList([_ResBlock(mid, mid, cond, kernel), _ResBlock(mid, mid, cond, kernel)])
        self.up = nn.ModuleList()
        for a, b in zip(reversed(down_dims[1:]), reversed(down_dims[:-1])):
            self.up.append(nn.ModuleList([_ResBlock(2 * a, b, cond, kernel), _ResBlock(b, b, cond, kernel),
                                          nn.ConvTranspose1d(b, b, 4, 2, 1)]))
        self.final = nn.Sequential(_conv_block(down_dims[0], down_dims[0], kernel), nn.Conv1d(down_dims[0], action_dim, 1))

    def _step_embedding(self, t: torch.Tensor) -> torch.Tensor:
        half = self.step_dim // 2
        freq = torch.exp(-math.log(10000.0) * torch.arange(half, dtype=torch.float32) / (half - 1))
        angle = t.float()[:, None] * freq[None]
        return self.step_mlp(torch.cat([angle.sin(), angle.cos()], dim=-1))

    def forward(self, x: torch.Tensor, t: torch.Tensor, obs_cond: torch.Tensor) -> torch.Tensor:
        """x (B, H, A) noisy chunk, t (B,) step, obs_cond (B, C) -> (B, H, A)."""
        cond = torch.cat([self._step_embedding(t), obs_cond], dim=-1)
        h, skips = x.transpose(1, 2), []
        for first, second, down in self.down:
            h = second(first(h, cond), cond)
            skips.append(h)
            h = down(h)
        for block in self.mid:
            h = block(h, cond)
        for first, second, up in self.up:
            h = second(first(torch.cat([h, skips.pop()], dim=1), cond), cond)
            h = up(h)
        return self.final(h).transpose(1, 2)

    @torch.no_grad()
    def sample(self, obs_cond: torch.Tensor, horizon: int, action_dim: int, steps: int) -> torch.Tensor:
        """Deterministic sampler: `steps` network calls from Gaussian noise, x0 predicted and re-noised."""
        alphas = torch.cos(torch.linspace(0, 1, steps + 1)[:-1].flip(0) * math.pi / 2).clamp(1e-4, 1) ** 2
        x = torch.randn(obs_cond.shape[0], horizon, action_dim)
        for i in range(steps):
            a = alphas[i]
            eps = self(x, torch.full((x.shape[0],), steps - 1 - i), obs_cond)
            x0 = (x - (1 - a).sqrt() * eps) / a.sqrt()
            a_next = alphas[i + 1] if i + 1 < steps else torch.tensor(1.0)
            x = a_next.sqrt() * x0 + (1 - a_next).sqrt() * eps
        return x


def parameter_count(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())
