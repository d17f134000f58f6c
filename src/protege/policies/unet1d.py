"""A small conditional 1-D temporal U-Net: the denoiser of the `diffusion` and `flow` heads.

Input: a noisy action chunk x (B, H, A), a time/step value t (B,) and a condition vector (B, C) (the
flattened observation-history features). Output: (B, H, A) (noise for DDPM, velocity for flow matching).
Convolutions run over the H time steps with actions as channels; each residual block is conditioned by
FiLM (per-channel scale and shift from the time embedding and the condition), as in Diffusion Policy.

The condition first goes through a small MLP (`cond_dims`, issue 14): FiLM makes each block's scale and
shift a *linear* function of its input, so without the MLP the observation reaches the actions only through
three linear maps, each followed by a GroupNorm that removes part of what they carried. On `pendulum`
(whose expert's torque is a sign-switching function of the pole's energy) that denoiser stayed at 0%
success while an MLP reached 100% on the same data; with a 2 x 256 MLP in front of FiLM, 100%
(docs/benchmarks/heads.md, "Root causes (issue 14)"). `cond_dims=()` keeps the raw condition (checkpoints
saved before the field existed).

Sized for state-based tasks on a CPU, where a batch-1 forward pass costs per operation, not per FLOP:
two levels (64, 128 channels), one residual block per level and no separate middle blocks (the deepest
level's block is the bottleneck), and every block's FiLM parameters come from one linear layer. Samplers
call `film(t, cond)` once for all their steps and `denoise(x, film)` per step, so the conditioning
network does not run again inside the loop. It deliberately has no attention and no image encoder.
"""

from __future__ import annotations

from typing import Any, Sequence

import torch
from torch import nn

from protege.policies.common import require, sinusoidal_embedding
from protege.policies.nets import mlp


def _groups(channels: int) -> int:
    return 8 if channels % 8 == 0 else 1


class ConvBlock(nn.Sequential):
    def __init__(self, c_in: int, c_out: int, kernel: int):
        super().__init__(nn.Conv1d(c_in, c_out, kernel, padding=kernel // 2), nn.GroupNorm(_groups(c_out), c_out),
                         nn.Mish())


class FiLMResBlock(nn.Module):
    """conv -> FiLM -> conv, plus a (1x1 conv) residual path. x (B, C_in, H) -> (B, C_out, H)."""

    def __init__(self, c_in: int, c_out: int, kernel: int):
        super().__init__()
        self.c_out = c_out
        self.conv1, self.conv2 = ConvBlock(c_in, c_out, kernel), ConvBlock(c_out, c_out, kernel)
        self.residual = nn.Conv1d(c_in, c_out, 1) if c_in != c_out else nn.Identity()

    def forward(self, x: torch.Tensor, scale: torch.Tensor, shift: torch.Tensor) -> torch.Tensor:
        return self.conv2(self.conv1(x) * scale + shift) + self.residual(x)


class ConditionalUnet1D(nn.Module):
    def __init__(self, action_dim: int, cond_dim: int, down_dims: Sequence[int] = (64, 128), kernel: int = 5,
                 time_dim: int = 64, cond_dims: Sequence[int] = ()):
        """cond_dims: hidden widths of the MLP that encodes the condition (B, cond_dim) before FiLM; its output
        has the last width. () = the condition enters FiLM as it is."""
        super().__init__()
        self.time_dim = time_dim
        # Identity when cond_dims is (): older checkpoints keep their tensor names and shapes
        self.cond_encoder = mlp(cond_dim, cond_dims, cond_dims[-1]) if cond_dims else nn.Identity()
        cond_out = cond_dims[-1] if cond_dims else cond_dim
        self.time_mlp = nn.Sequential(nn.Linear(time_dim, 2 * time_dim), nn.Mish(), nn.Linear(2 * time_dim, time_dim))
        dims = [action_dim, *down_dims]
        self.down = nn.ModuleList()
        for i, (a, b) in enumerate(zip(dims[:-1], dims[1:])):
            last = i == len(down_dims) - 1
            self.down.append(nn.ModuleList([FiLMResBlock(a, b, kernel),
                                            nn.Identity() if last else nn.Conv1d(b, b, 3, stride=2, padding=1)]))
        self.up = nn.ModuleList()
        for a, b in zip(reversed(down_dims[1:]), reversed(down_dims[:-1])):
            self.up.append(nn.ModuleList([FiLMResBlock(2 * a, b, kernel), nn.ConvTranspose1d(b, b, 4, 2, 1)]))
        self.blocks = [blk for blk, _ in self.down] + [blk for blk, _ in self.up]
        self.film_sizes = [2 * blk.c_out for blk in self.blocks]
        self.film_net = nn.Sequential(nn.Mish(), nn.Linear(time_dim + cond_out, sum(self.film_sizes)))
        self.final = nn.Sequential(ConvBlock(down_dims[0], down_dims[0], kernel), nn.Conv1d(down_dims[0], action_dim, 1))

    def film(self, t: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        """t (B,) or (S, B) (a sampler's S steps at once) and cond (B, C) -> every block's FiLM parameters
        (*t.shape, sum of 2 * channels). The condition is encoded once and shared by every row of t."""
        temb = self.time_mlp(sinusoidal_embedding(t.reshape(-1), self.time_dim)).reshape(*t.shape, -1)
        c = self.cond_encoder(cond)
        return self.film_net(torch.cat([temb, c.expand(*t.shape, c.shape[-1])], dim=-1))

    def denoise(self, x: torch.Tensor, film: torch.Tensor) -> torch.Tensor:
        """x (B, H, A), film (B, F) from `film` -> (B, H, A)."""
        params = iter(film[:, :, None].split(self.film_sizes, dim=1))
        h = x.transpose(1, 2)
        skips = []
        for block, down in self.down:
            scale, shift = next(params).chunk(2, dim=1)
            h = block(h, 1 + scale, shift)
            skips.append(h)
            h = down(h)
        for block, up in self.up:  # deepest skip first; the first level's skip is not needed (as in DP)
            scale, shift = next(params).chunk(2, dim=1)
            h = up(block(torch.cat([h, skips.pop()], 1), 1 + scale, shift))
        return self.final(h).transpose(1, 2)

    def forward(self, x: torch.Tensor, t: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        """x (B, H, A), t (B,), cond (B, C) -> (B, H, A). H must be divisible by 2**(levels - 1)."""
        return self.denoise(x, self.film(t, cond))


def check_denoiser_config(config: Any, head: str) -> None:
    """Validate what a head built on this U-Net shares: `down_dims` and `cond_dims` (made tuples), a
    `horizon` the down-sampling levels divide, and an `ema_decay` in [0, 1)."""
    config.down_dims = tuple(int(d) for d in config.down_dims)
    config.cond_dims = tuple(int(d) for d in config.cond_dims)
    require(all(d >= 1 for d in config.cond_dims), head, "cond_dims", "positive widths (or () for none)",
            config.cond_dims)
    levels = 2 ** (len(config.down_dims) - 1)
    require(config.horizon % levels == 0, head, "horizon",
            f"a multiple of {levels} for {len(config.down_dims)} U-Net levels", config.horizon)
    require(0 <= config.ema_decay < 1, head, "ema_decay", "in [0, 1)", config.ema_decay)
