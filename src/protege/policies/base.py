"""The small base every policy shares: normalisation inside the model, observation history, execution.

A policy is an `nn.Module` built from (config, spec, stats). Its statistics are buffers, so a checkpoint
acts on raw env observations and returns env-unit actions. Concrete policies implement
`compute_loss(batch)` and `_predict_normalized(obs_features)`; this base turns that into

- `predict_chunk(obs)`: obs key -> (B, n_obs, ...) raw  ->  (B, H, A) env units;
- `select_action(obs)`: obs key -> (B, ...) raw for the current step  ->  (B, A) env units, through the
  one controller (`protege.controller`: history, queue or temporal ensemble, noise and held draws) that
  `protege deploy` runs too, with the settings `execution_settings()` states from the config;
- `reset()`: clears the controller's episode state.

Observations enter through one `policies.encoders.ObservationEncoder` (the state normaliser and one image
encoder per camera), so a head never knows whether it sees a state or a camera: it sizes itself from
`obs_dim` and reads `obs_features`. A conditioned policy (`conditioning`, see
`policies.encoders.conditioning`) reads one more key, `condition`, fused into those features by the
encoder; `condition_input(task, instruction)` gives what to feed it.

It deliberately knows nothing about training loops, datasets on disk or simulators.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from protege.controller import Controller, ExecutionSettings, Strategy
from protege.data.normalizer import Normalizer
from protege.policies.common import EMA
from protege.policies.encoders import EncoderConfig, ObservationEncoder
from protege.policies.encoders import camera_keys as spec_cameras
from protege.policies.encoders.conditioning import ConditionInput, ConditioningConfig, condition_input
from protege.specs import Spec


class PolicyBase(nn.Module):
    name: ClassVar[str] = ""

    def __init__(self, config: Any, spec: Spec, stats: dict | None, n_obs: int = 1, horizon: int = 1,
                 encoder: EncoderConfig | None = None, conditioning: ConditioningConfig | None = None):
        """encoder: how camera keys are read (`EncoderConfig`; None = the default `EncoderConfig()`, and
        `EncoderConfig(name="none")` ignores cameras). A spec without cameras never builds an image encoder.
        conditioning: the task/instruction conditioning and its vocabulary (None = a single-task policy)."""
        super().__init__()
        self.config, self.spec = config, spec
        self.n_obs, self.horizon = int(n_obs), int(horizon)
        cameras = spec_cameras(spec)
        if cameras and encoder is None:
            encoder = EncoderConfig()
        # per-pixel statistics of camera keys are never used (frames are scaled inside the encoder)
        self.stats = stats if stats is None else {k: v for k, v in stats.items()
                                                  if k.removeprefix("observation.") not in cameras}
        encoder_module = ObservationEncoder(spec, self.stats, encoder, conditioning)
        self.conditioning = encoder_module.conditioning  # what the checkpoint records (None: unconditioned)
        self.encoder_config = encoder if cameras else None  # what the checkpoint records
        self.obs_keys = encoder_module.keys
        self.obs_dim = encoder_module.out_dim
        self.action_dim = spec.action_dim
        # The encoder's parts are registered here under their historical names (state-only checkpoints keep
        # their tensor names: `obs_normalizer.*`); the encoder itself is held unregistered.
        self.obs_normalizer = encoder_module.normalizer
        if encoder_module.camera_keys:
            self.image_encoders = encoder_module.cameras
        if encoder_module.fusion is not None:
            self.condition_fusion = encoder_module.fusion
        self._obs_encoder = (encoder_module,)
        self.ema_cameras: EMA | None = None  # see `track_camera_ema`
        self.ema_fusion: EMA | None = None
        self.action_normalizer = Normalizer(self.action_dim, "min_max")
        if stats is not None:
            self.action_normalizer.set_stats(stats["action"])
        self._controller: Controller | None = None  # built on first use, from `execution_settings()`

    @property
    def obs_encoder(self) -> ObservationEncoder:
        """The observation encoder (state normaliser + one image encoder per camera)."""
        return self._obs_encoder[0]

    @property
    def camera_keys(self) -> list[str]:
        """Observation keys read as camera frames (empty for a state-only policy)."""
        return self.obs_encoder.camera_keys

    # --- observations -------------------------------------------------------------------------
    def obs_features(self, obs: dict[str, torch.Tensor]) -> torch.Tensor:
        """obs key -> (B, n_obs, *shape) raw  ->  (B, n_obs, obs_dim) features: the normalised state
        vector, then each camera's image features (`policies.encoders.ObservationEncoder`). Out of training
        mode, a head that keeps an EMA of its image encoders (`track_camera_ema`) encodes with the EMA."""
        ema = self.ema_cameras.model if self.ema_cameras is not None and not self.training else None
        fusion = self.ema_fusion.model if self.ema_fusion is not None and not self.training else None
        return self.obs_encoder(obs, cameras=ema, fusion=fusion)

    def track_camera_ema(self, decay: float) -> None:
        """Keep an EMA of the image encoders beside a head's EMA denoiser, so the weights that act are
        averaged end to end (as in Diffusion Policy); `update_camera_ema` after each step. No-op without cameras."""
        if self.camera_keys:
            self.ema_cameras = EMA(self.image_encoders, decay)
        if self.conditioning is not None:  # the task embedding acts from its EMA too
            self.ema_fusion = EMA(self.condition_fusion, decay)

    def update_camera_ema(self) -> None:
        if self.ema_cameras is not None:
            self.ema_cameras.update(self.image_encoders)
        if self.ema_fusion is not None:
            self.ema_fusion.update(self.condition_fusion)

    # --- conditioning ---------------------------------------------------------------------------
    def condition_input(self, task: str | None = None, instruction: str | None = None,
                        who: str = "policy") -> ConditionInput | None:
        """What to feed under the `condition` key for `task` (a trained task name) or `instruction`;
        None for an unconditioned policy (which ignores both). An unknown task is refused in one line."""
        if self.conditioning is None:
            return None
        return condition_input(self.conditioning, task, instruction, who)

    # --- to implement -------------------------------------------------------------------------
    def compute_loss(self, batch: Any) -> tuple[torch.Tensor, dict[str, float]]:
        raise NotImplementedError

    # --- training hooks (no-ops unless a head needs them) ---------------------------------------
    def fit_data(self, actions: torch.Tensor) -> None:
        """Data-dependent set-up from the training actions (N, A), env units, before the first step
        (e.g. the discrete head's quantile bins)."""

    def after_optimizer_step(self) -> None:
        """Called after every optimiser step (e.g. to update an EMA of the weights)."""

    def _predict_normalized(self, feats: torch.Tensor) -> torch.Tensor:
        """(B, n_obs, obs_dim) normalised features -> (B, H, A) actions in normalised units ([-1, 1])."""
        raise NotImplementedError

    # --- acting -------------------------------------------------------------------------------
    @torch.no_grad()
    def predict_chunk(self, obs: dict[str, torch.Tensor]) -> torch.Tensor:
        """obs key -> (B, n_obs, ...) raw  ->  (B, H, A) env units."""
        return self.action_normalizer.inverse(self._predict_normalized(self.obs_features(obs)))

    def _noise(self, noise: torch.Tensor | None, batch_size: int, generator: torch.Generator | None,
               device: torch.device) -> torch.Tensor:
        """A sampling head's standard-normal draws: `noise` when given, else drawn (shape `noise_shape(B)`)."""
        if noise is not None:
            return noise
        return torch.randn(self.noise_shape(batch_size), generator=generator, device=device)

    # --- execution: the one controller ----------------------------------------------------------
    def execution_settings(self) -> ExecutionSettings:
        """How this head executes. Here: a new prediction every step, its first action, no noise; chunking
        and sampling heads state theirs from their config (`policies.execution.chunk_settings`)."""
        return ExecutionSettings(n_obs=self.n_obs, horizon=self.horizon)

    def predict_numpy(self, history: dict[str, np.ndarray], noise: np.ndarray | None) -> np.ndarray:
        """The controller's `predict`: history key -> (B, n_obs, ...) raw numpy, noise (B, *noise_shape) or
        None -> (B, H, A) numpy env units."""
        device = self.action_normalizer.shift.device
        obs = {k: torch.from_numpy(v).to(device) for k, v in history.items()}
        if noise is None:
            return self.predict_chunk(obs).cpu().numpy()
        return self.predict_chunk(obs, noise=torch.from_numpy(noise).to(device)).cpu().numpy()

    @property
    def controller(self) -> Controller:
        """The controller `select_action` runs; noise from torch's global generator (which evaluation seeds
        per episode)."""
        if self._controller is None:
            self._controller = Controller(self.execution_settings(), self.predict_numpy, self.obs_keys,
                                          normal=_global_normal)
        return self._controller

    @property
    def executor(self) -> Strategy:
        """The execution strategy (queue or temporal ensemble) of the controller."""
        return self.controller.strategy

    @executor.setter
    def executor(self, strategy: Strategy) -> None:  # e.g. an ablation trying another strategy
        self.controller.strategy = strategy

    def reset(self) -> None:
        if self._controller is not None:
            self._controller.reset()

    def rebuild_controller(self) -> None:
        """Drop the controller, so the next step builds one from `execution_settings()`: after changing an
        execution field of a trained head's config (n_action_steps, execution, sample ...)."""
        self._controller = None

    @torch.no_grad()
    def select_action(self, obs: dict[str, torch.Tensor]) -> torch.Tensor:
        """obs key -> (B, ...) raw, current step  ->  (B, A) env units to execute now."""
        raw = {k: obs[k].detach().cpu().numpy() for k in self.obs_keys}
        return torch.from_numpy(self.controller.act(raw))


def _global_normal(shape: tuple[int, ...]) -> np.ndarray:
    """Standard-normal draws (float32) from torch's global generator."""
    return torch.randn(shape).numpy()

