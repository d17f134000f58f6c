"""`flow`: conditional flow matching over action chunks.

Training: draw noise x0 ~ N(0, I) (B, H, A) and a time t ~ U(0, 1), form x_t = (1 - t) x0 + t x1 between
the noise and the normalised demonstrated chunk x1, and regress the constant velocity x1 - x0 with the
same conditional 1-D U-Net as `diffusion` (time fed as 1000 t). Sampling integrates dx/dt = v(x, t) from
noise at t = 0 to t = 1 with a few Euler or midpoint steps. An EMA of the weights acts, as in `diffusion`.

The only randomness at execution is the starting noise (B, H, A), accepted by `predict_chunk` as `noise`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import torch

from protege.data.windows import Batch
from protege.policies.base import PolicyBase
from protege.policies.common import EMA, masked_step_mean, require
from protege.policies.encoders import EncoderConfig
from protege.policies.encoders.conditioning import ConditioningConfig
from protege.policies.execution import ExecutionSettings, check_chunk_config, chunk_settings
from protege.policies.unet1d import ConditionalUnet1D, check_denoiser_config
from protege.specs import Spec

METHODS = ("euler", "midpoint")


@dataclass
class FlowConfig:
    # what a checkpoint saved before a field existed was trained with (see checkpoint.load_checkpoint)
    PREDATING: ClassVar[dict[str, Any]] = {"cond_dims": ()}

    horizon: int = 16
    """Actions per predicted chunk (H); must be divisible by 2**(len(down_dims) - 1)."""
    n_obs: int = 2
    """Observation history length the velocity field is conditioned on."""
    execution: str = "receding"
    """Execution strategy: "receding" (execute n_action_steps, then predict) or "ensemble" (temporal ensembling)."""
    n_action_steps: int = 1
    """Actions executed per chunk with receding horizon. 1 (predict at every step, as act): on
    metaworld/basketball 8 open-loop steps (the default before issue 14) missed the ball's grasp, 82% -> 92%
    (diffusion) and 78% -> 92% (flow) at training seed 0 with the same weights; 4 steps: 84% (diffusion);
    docs/benchmarks/heads.md, "Root causes"."""
    ensemble_m: float = 0.01
    """Temporal-ensembling weight decay m: weight exp(-m*i), i = 0 for the oldest chunk."""
    down_dims: tuple[int, ...] = (64, 128)
    """U-Net channels per level."""
    kernel_size: int = 5
    """Temporal convolution kernel size (steps)."""
    cond_dims: tuple[int, ...] = (256, 256)
    """Hidden widths of the MLP that encodes the observation history before it conditions the U-Net (FiLM);
    () = the raw features. On `pendulum` the raw features left the head at 0% success, this MLP at 100%."""
    steps: int = 5
    """Integration steps from noise (t = 0) to actions (t = 1)."""
    method: str = "euler"
    """Integrator: "euler" (one network call per step) or "midpoint" (two)."""
    ema_decay: float = 0.995
    """Decay of the exponential moving average of the weights (0 = no averaging)."""

    def __post_init__(self) -> None:
        check_chunk_config(self, "flow")
        check_denoiser_config(self, "flow")
        require(self.steps >= 1, "flow", "steps", ">= 1", self.steps)
        require(self.method in METHODS, "flow", "method", f"one of {METHODS}", self.method)


class FlowPolicy(PolicyBase):
    name = "flow"

    def __init__(self, config: FlowConfig, spec: Spec, stats: dict | None = None,
                 encoder: EncoderConfig | None = None,
                 conditioning: ConditioningConfig | None = None):
        super().__init__(config, spec, stats, n_obs=config.n_obs, horizon=config.horizon, encoder=encoder,
                         conditioning=conditioning)
        self.net = ConditionalUnet1D(self.action_dim, self.obs_dim * config.n_obs, config.down_dims, config.kernel_size,
                                     cond_dims=config.cond_dims)
        self.ema = EMA(self.net, config.ema_decay)
        self.track_camera_ema(config.ema_decay)  # the image encoders act from their EMA too

    def execution_settings(self) -> ExecutionSettings:
        """The config's strategy; every prediction draws its starting noise (H, A)."""
        return chunk_settings(self.config, noise_shape=self.noise_shape(1)[1:])

    def _velocity(self, net: torch.nn.Module, x: torch.Tensor, t: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        return net(x, 1000.0 * t, cond)  # the sinusoidal embedding is tuned for step-sized inputs

    def compute_loss(self, batch: Batch) -> tuple[torch.Tensor, dict[str, float]]:
        """Velocity-regression MSE on the normalised chunk, padding steps left out."""
        cond = self.obs_features(batch.obs).flatten(1)
        x1 = self.action_normalizer(batch.action)
        x0 = torch.randn_like(x1)
        t = torch.rand(x1.shape[0], device=x1.device)
        xt = (1 - t)[:, None, None] * x0 + t[:, None, None] * x1
        net = self.net if self.training else self.ema.model  # validation scores the weights that act
        per_step = ((self._velocity(net, xt, t, cond) - (x1 - x0)) ** 2).mean(-1)
        loss = masked_step_mean(per_step, batch.action_pad, batch.weight)
        return loss, {"velocity_mse": float(loss.detach())}

    def after_optimizer_step(self) -> None:
        self.ema.update(self.net)
        self.update_camera_ema()

    def noise_shape(self, batch_size: int) -> tuple[int, ...]:
        return (batch_size, self.horizon, self.action_dim)

    def _integrate(self, cond: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        x, net, n, B = noise, self.ema.model, self.config.steps, noise.shape[0]
        dt = 1.0 / n
        midpoint = self.config.method == "midpoint"
        # every evaluation time's conditioning at once: (n or 2n, B, F)
        times = torch.arange(2 * n if midpoint else n, device=x.device, dtype=torch.float32) * (dt / (2 if midpoint else 1))
        film = net.film(1000.0 * times[:, None].expand(-1, B), cond)
        for i in range(n):
            if midpoint:
                v = net.denoise(x, film[2 * i])
                v = net.denoise(x + 0.5 * dt * v, film[2 * i + 1])
            else:
                v = net.denoise(x, film[i])
            x = x + dt * v
        return x.clamp(-1, 1)

    @torch.no_grad()
    def predict_chunk(self, obs: dict[str, torch.Tensor], noise: torch.Tensor | None = None,
                      generator: torch.Generator | None = None) -> torch.Tensor:
        """obs key -> (B, n_obs, ...) raw -> (B, H, A) env units. noise: (B, H, A) standard normal (drawn
        with `generator` when not given)."""
        cond = self.obs_features(obs).flatten(1)
        noise = self._noise(noise, cond.shape[0], generator, cond.device)
        return self.action_normalizer.inverse(self._integrate(cond, noise))
