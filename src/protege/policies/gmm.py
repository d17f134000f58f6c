"""`gmm`: a mixture density network (K Gaussian components with diagonal scales per predicted step).

An MLP maps the observation history to, for each of H steps, mixture logits (K), component means (K, A)
and scales (K, A) (softplus + a floor, so no component collapses to a spike). Trained by the negative
log-likelihood of the normalised demonstrated actions, where a demonstrated action at the action spec's
bound counts as censored: the expert asked for at least that much and the env clipped it, so its
likelihood is the component's mass beyond the bound, not a density at it (issue 14: on `pendulum`, whose
swing-up torque sits at +-2 for much of the swing, the plain density let components collapse onto the
bounds and the policy picked the wrong sign; executed actions are clipped to the bounds). At execution
it takes the most likely mode (the mean of the component with the largest weight), or draws a component by
its weight and takes its mean (the default: it commits to one of the demonstrated modes without adding
noise within it), or samples the full mixture. Where demonstrations disagree (go left / go right), the components split between the
modes instead of averaging them.

Sampling is a pure tensor function of a standard-normal `noise` (B, H, 1 + A): the first channel picks
the component (through the normal CDF), the rest perturbs within it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
import torch.nn.functional as F

from protege.data.windows import Batch
from protege.policies.base import PolicyBase
from protege.policies.common import masked_step_mean, require, sample_categorical
from protege.policies.encoders import EncoderConfig
from protege.policies.encoders.conditioning import ConditioningConfig
from protege.policies.execution import ExecutionSettings, check_chunk_config, chunk_settings
from protege.policies.nets import mlp
from protege.specs import Spec

SAMPLE_MODES = ("mode", "component", "full")


@dataclass
class GMMConfig:
    # what a checkpoint saved before a field existed was trained with (see checkpoint.load_checkpoint)
    PREDATING: ClassVar[dict[str, Any]] = {"censor_bounds": False}

    components: int = 5
    """Mixture components K."""
    hidden_dims: tuple[int, ...] = (256, 256)
    """Width of each hidden layer of the MLP."""
    horizon: int = 1
    """Predicted steps H (1 = single-step; > 1 predicts a chunk of independent per-step mixtures)."""
    n_obs: int = 1
    """Observation history length."""
    execution: str = "receding"
    """Execution strategy for H > 1: "receding" or "ensemble" (temporal ensembling)."""
    n_action_steps: int = 1
    """Actions executed per chunk with receding horizon."""
    ensemble_m: float = 0.01
    """Temporal-ensembling weight decay m: weight exp(-m*i), i = 0 for the oldest chunk."""
    sample: str = "mode"
    """At execution: "mode" = mean of the most likely component; "component" = draw a component by its
    weight and take its mean (picks a mode without adding noise inside it; the default before issue 14);
    "full" = draw from the mixture. "mode" succeeds more: metaworld/basketball 86% -> 94% with the same
    weights (training seed 0), pendulum 100/95/100% -> 100/100/100%; "component" reproduces how often the
    demonstrator took each mode, which "mode" does not (it takes the likelier one)."""
    min_std: float = 0.1
    """Floor on each component's scale, in normalised action units ([-1, 1] range). Near 0, the likelihood
    rewards components that collapse onto actions the expert repeats exactly (0 at rest, the torque
    limit) and leaves the rest to a wide catch-all component, so the picked mean is poor: on `pendulum`
    (with censored bounds, 3 training seeds) 0.1 gave 100/95/100% success; 0.01 gave 70/45/55%."""
    censor_bounds: bool = True
    """Treat demonstrated actions at the action spec's bounds as censored (likelihood = the mass beyond
    the bound); component means are then unbounded and executed actions clipped to the bounds. False:
    every action is a density point and means are tanh-squashed into the data range (checkpoints saved
    before this field)."""
    hold_draw: bool = True
    """When sampling at execution, draw the number that picks the component once per episode (at the first
    step after `reset()`) and reuse it at every step. Where the mixture's weights change smoothly with the
    state, the same number keeps picking the same component, so the policy stays in the mode it chose
    instead of re-deciding left or right at every step (which zig-zags between the modes)."""

    def __post_init__(self) -> None:
        self.hidden_dims = tuple(int(h) for h in self.hidden_dims)
        check_chunk_config(self, "gmm")
        require(self.components >= 1, "gmm", "components", ">= 1", self.components)
        require(self.sample in SAMPLE_MODES, "gmm", "sample", f"one of {SAMPLE_MODES}", self.sample)
        require(self.min_std > 0, "gmm", "min_std", "> 0", self.min_std)


class GMMPolicy(PolicyBase):
    name = "gmm"

    def __init__(self, config: GMMConfig, spec: Spec, stats: dict | None = None,
                 encoder: EncoderConfig | None = None,
                 conditioning: ConditioningConfig | None = None):
        super().__init__(config, spec, stats, n_obs=config.n_obs, horizon=config.horizon, encoder=encoder,
                         conditioning=conditioning)
        K, A, H = config.components, self.action_dim, config.horizon
        self.net = mlp(self.obs_dim * config.n_obs, config.hidden_dims, H * K * (1 + 2 * A))
        # the action spec's bounds in env units (+-inf where there is none); not saved: they come from the spec
        low = spec.action.low if spec.action.low is not None else [-math.inf] * A
        high = spec.action.high if spec.action.high is not None else [math.inf] * A
        self.register_buffer("action_low", torch.tensor(low, dtype=torch.float32).reshape(A), persistent=False)
        self.register_buffer("action_high", torch.tensor(high, dtype=torch.float32).reshape(A), persistent=False)

    def execution_settings(self) -> ExecutionSettings:
        """The config's strategy; when sampling, every prediction draws (H, 1 + A) normals, and with
        `hold_draw` channel 0 (the component pick) is drawn once per episode."""
        if self.config.sample == "mode":
            return chunk_settings(self.config)
        return chunk_settings(self.config, noise_shape=self.noise_shape(1)[1:],
                              held=(0,) if self.config.hold_draw else ())

    def _mixture(self, feats: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(B, n_obs, D) -> logits (B, H, K), means (B, H, K, A), stds (B, H, K, A), normalised units."""
        K, A, H = self.config.components, self.action_dim, self.horizon
        out = self.net(feats.flatten(1)).view(-1, H, K, 1 + 2 * A)
        logits = out[..., 0]
        means = out[..., 1:1 + A] if self.config.censor_bounds else torch.tanh(out[..., 1:1 + A])
        stds = F.softplus(out[..., 1 + A:]) + self.config.min_std
        return logits, means, stds

    def _bounds(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The action bounds (A,) in normalised units: the spec's with `censor_bounds`, else the data range."""
        if not self.config.censor_bounds:
            return -torch.ones_like(self.action_low), torch.ones_like(self.action_high)
        return self.action_normalizer(self.action_low), self.action_normalizer(self.action_high)

    def compute_loss(self, batch: Batch) -> tuple[torch.Tensor, dict[str, float]]:
        """Negative log-likelihood of the normalised target actions under the mixture, per step; a target at
        a bound (with `censor_bounds`) scores the component's mass beyond it."""
        logits, means, stds = self._mixture(self.obs_features(batch.obs))
        x = self.action_normalizer(batch.action)[:, :, None]  # (B, H, 1, A)
        log_dim = -0.5 * ((x - means) / stds) ** 2 - stds.log() - 0.5 * math.log(2 * math.pi)
        if self.config.censor_bounds:
            low, high = self._bounds()
            tol = 1e-4  # normalised units: float rounding of an action stored at the bound
            above = torch.special.log_ndtr((means - high) / stds)  # log P(u >= high)
            below = torch.special.log_ndtr((low - means) / stds)  # log P(u <= low)
            log_dim = torch.where(x >= high - tol, above, torch.where(x <= low + tol, below, log_dim))
        log_comp = log_dim.sum(-1)
        log_p = torch.logsumexp(torch.log_softmax(logits, -1) + log_comp, -1)  # (B, H)
        loss = masked_step_mean(-log_p, batch.action_pad, batch.weight)
        return loss, {"nll": float(loss.detach())}

    def noise_shape(self, batch_size: int) -> tuple[int, ...]:
        return (batch_size, self.horizon, 1 + self.action_dim)

    @torch.no_grad()
    def predict_chunk(self, obs: dict[str, torch.Tensor], noise: torch.Tensor | None = None,
                      generator: torch.Generator | None = None) -> torch.Tensor:
        """obs key -> (B, n_obs, ...) raw -> (B, H, A) env units. When sampling, noise (B, H, 1 + A) standard
        normal (drawn with `generator` when not given); with sample="mode" noise is unused."""
        logits, means, stds = self._mixture(self.obs_features(obs))
        if self.config.sample != "mode":
            noise = self._noise(noise, logits.shape[0], generator, logits.device)
            k = sample_categorical(logits, noise[..., 0])
            pick = k[..., None, None].expand(*k.shape, 1, self.action_dim)
            action = means.gather(2, pick)[:, :, 0]
            if self.config.sample == "full":
                action = action + stds.gather(2, pick)[:, :, 0] * noise[..., 1:]
        else:
            pick = logits.argmax(-1)[..., None, None].expand(*logits.shape[:2], 1, self.action_dim)
            action = means.gather(2, pick)[:, :, 0]
        if self.config.censor_bounds:  # the spec's bounds, in env units: one op (the map is increasing)
            return torch.clamp(self.action_normalizer.inverse(action), self.action_low, self.action_high)
        if self.config.sample == "full":  # checkpoints from before censor_bounds: the data range
            action = action.clamp(-1, 1)
        return self.action_normalizer.inverse(action)
