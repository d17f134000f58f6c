"""`diffusion`: denoising diffusion over action chunks (Diffusion Policy, state-based).

Training (DDPM): add noise at a random step k of a `train_steps`-step cosine schedule to the normalised
chunk and regress the clean chunk (or, with `prediction="epsilon"`, the noise) with a conditional 1-D
U-Net (policies/unet1d.py) that sees the flattened observation history. Sampling (DDIM, deterministic,
eta = 0): start from Gaussian noise and take `inference_steps` evenly spaced denoising steps ("leading"
spacing: 90, 80, ..., 0 of 100). An EMA of the denoiser's weights (updated after every optimiser step
through the training loop's `after_optimizer_step` hook) is what acts and what validation scores.

The only randomness at execution is the initial noise (B, H, A), which `predict_chunk` accepts as
`noise` so an exported graph can take it as an input.
"""

from __future__ import annotations

import math
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


@dataclass
class DiffusionConfig:
    # what a checkpoint saved before a field existed was trained with (see checkpoint.load_checkpoint)
    PREDATING: ClassVar[dict[str, Any]] = {"prediction": "epsilon", "cond_dims": ()}

    horizon: int = 16
    """Actions per predicted chunk (H); must be divisible by 2**(len(down_dims) - 1)."""
    n_obs: int = 2
    """Observation history length the denoiser is conditioned on."""
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
    train_steps: int = 100
    """Diffusion steps of the training (DDPM) noise schedule."""
    inference_steps: int = 10
    """DDIM denoising steps at execution (fewer = faster, coarser)."""
    ema_decay: float = 0.995
    """Decay of the exponential moving average of the denoiser's weights (0 = no averaging)."""
    prediction: str = "sample"
    """What the denoiser regresses: "sample" (the clean chunk) or "epsilon" (the added noise, as in DDPM).
    "sample" is the default: on `bimodal` with 5,000 steps it reached 96% and 98% success (two training
    seeds) where "epsilon" reached 64-76%, its chunks often ignoring where the robot was."""

    def __post_init__(self) -> None:
        check_chunk_config(self, "diffusion")
        check_denoiser_config(self, "diffusion")
        require(self.prediction in ("epsilon", "sample"), "diffusion", "prediction", "epsilon or sample",
                self.prediction)
        require(1 <= self.inference_steps <= self.train_steps, "diffusion", "inference_steps",
                f"in [1, train_steps={self.train_steps}]", self.inference_steps)


def cosine_alphas_cumprod(steps: int, s: float = 0.008) -> torch.Tensor:
    """alpha-bar_k for k = 0 .. steps-1 of the squared-cosine schedule (Nichol & Dhariwal), betas <= 0.999."""
    f = lambda t: math.cos((t / steps + s) / (1 + s) * math.pi / 2) ** 2  # noqa: E731
    betas = torch.tensor([min(1 - f(i + 1) / f(i), 0.999) for i in range(steps)], dtype=torch.float64)
    return torch.cumprod(1 - betas, 0).float()


class DiffusionPolicy(PolicyBase):
    name = "diffusion"

    def __init__(self, config: DiffusionConfig, spec: Spec, stats: dict | None = None,
                 encoder: EncoderConfig | None = None,
                 conditioning: ConditioningConfig | None = None):
        super().__init__(config, spec, stats, n_obs=config.n_obs, horizon=config.horizon, encoder=encoder,
                         conditioning=conditioning)
        self.net = ConditionalUnet1D(self.action_dim, self.obs_dim * config.n_obs, config.down_dims, config.kernel_size,
                                     cond_dims=config.cond_dims)
        self.ema = EMA(self.net, config.ema_decay)
        self.track_camera_ema(config.ema_decay)  # the image encoders act from their EMA too
        self.register_buffer("alphas_cumprod", cosine_alphas_cumprod(config.train_steps))
        # DDIM visits every (train_steps // inference_steps)-th step, from (inference_steps - 1) * stride down
        # to 0 ("leading" spacing, as diffusers' DDIM scheduler does). It does not start at the last step:
        # there the cosine schedule leaves sqrt(alpha-bar) ~ 5e-4, and the first x0 estimate divides by it,
        # blowing float32 rounding up ~2000x (exported graphs then disagree with PyTorch by ~1e-4); at the
        # 90th of 100 steps the factor is ~7.
        stride = max(config.train_steps // config.inference_steps, 1)
        ks = (torch.arange(config.inference_steps - 1, -1, -1) * stride).clamp_max(config.train_steps - 1)
        self.register_buffer("ddim_steps", ks)
        self._ddim_cache: tuple[tuple[int, ...], list[tuple[float, ...]]] | None = None

    # --- training ----------------------------------------------------------------------------
    def execution_settings(self) -> ExecutionSettings:
        """The config's strategy; every prediction draws its starting noise (H, A)."""
        return chunk_settings(self.config, noise_shape=self.noise_shape(1)[1:])

    def compute_loss(self, batch: Batch) -> tuple[torch.Tensor, dict[str, float]]:
        """Noise-prediction MSE on the normalised chunk, padding steps left out."""
        cond = self.obs_features(batch.obs).flatten(1)
        x0 = self.action_normalizer(batch.action)
        B = x0.shape[0]
        k = torch.randint(0, self.config.train_steps, (B,), device=x0.device)
        eps = torch.randn_like(x0)
        ab = self.alphas_cumprod[k][:, None, None]
        xk = ab.sqrt() * x0 + (1 - ab).sqrt() * eps
        net = self.net if self.training else self.ema.model  # validation scores the weights that act
        target = eps if self.config.prediction == "epsilon" else x0
        per_step = ((net(xk, k.float(), cond) - target) ** 2).mean(-1)
        loss = masked_step_mean(per_step, batch.action_pad, batch.weight)
        return loss, {"denoise_mse": float(loss.detach())}

    def after_optimizer_step(self) -> None:
        self.ema.update(self.net)
        self.update_camera_ema()

    # --- sampling ----------------------------------------------------------------------------
    def noise_shape(self, batch_size: int) -> tuple[int, ...]:
        return (batch_size, self.horizon, self.action_dim)

    def _ddim_coefficients(self) -> list[tuple[float, float, float, float]]:
        """Per DDIM step: sqrt(ab), sqrt(1 - ab), and the same at the next step, as Python floats (the sampling
        loop then runs no indexing ops). Derived from the `ddim_steps` buffer, so a checkpoint saved with
        another spacing samples exactly as it did when it was saved."""
        key = tuple(int(k) for k in self.ddim_steps)
        if self._ddim_cache is None or self._ddim_cache[0] != key:
            ab = [float(self.alphas_cumprod[k]) for k in key] + [1.0]
            coeffs = [(ab[i] ** 0.5, (1 - ab[i]) ** 0.5, ab[i + 1] ** 0.5, (1 - ab[i + 1]) ** 0.5)
                      for i in range(len(key))]
            self._ddim_cache = (key, coeffs)
        return self._ddim_cache[1]

    def _sample(self, cond: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        """DDIM (eta = 0) from noise (B, H, A) to a normalised chunk, clipped to [-1, 1]."""
        x, net, B = noise, self.ema.model, noise.shape[0]
        ddim = self._ddim_coefficients()
        S = len(ddim)
        # the conditioning of every step at once: (S, B, F)
        film = net.film(self.ddim_steps.float()[:, None].expand(S, B), cond)
        for i, (s_ab, s_1mab, s_ab_prev, s_1mab_prev) in enumerate(ddim):
            out = net.denoise(x, film[i])
            x0 = (out if self.config.prediction == "sample" else (x - s_1mab * out) / s_ab).clamp(-1, 1)
            eps = (x - s_ab * x0) / s_1mab  # consistent with the clipped x0
            x = s_ab_prev * x0 + s_1mab_prev * eps
        return x.clamp(-1, 1)

    @torch.no_grad()
    def predict_chunk(self, obs: dict[str, torch.Tensor], noise: torch.Tensor | None = None,
                      generator: torch.Generator | None = None) -> torch.Tensor:
        """obs key -> (B, n_obs, ...) raw -> (B, H, A) env units. noise: (B, H, A) standard normal (drawn
        with `generator` when not given)."""
        cond = self.obs_features(obs).flatten(1)
        noise = self._noise(noise, cond.shape[0], generator, cond.device)
        return self.action_normalizer.inverse(self._sample(cond, noise))
