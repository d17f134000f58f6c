"""The observation encoder: raw observations by key -> one feature vector per step, for every head.

key -> (B, n_obs, ...) raw  ->  (B, n_obs, out_dim) features:

- vector keys (1-D float) are flattened, concatenated in spec order and normalised by the mean/std
  `Normalizer` (its statistics are buffers, so a checkpoint acts on raw observations);
- camera keys (uint8 (H, W, C), `protege.data.frames.is_image_spec`) each go through an `ImageEncoder`
  (one per camera, as robomimic, or one shared), which crops, augments and scales inside;
- features are concatenated: the normalised vector block first, then each camera's features in spec order.

A spec with no camera (or `EncoderConfig(name="none")`) gives exactly the normalised state vector the
heads have always read. A conditioned policy (`conditioning.ConditioningConfig`) also reads the key
`condition` (a task id, instruction words or a text embedding) and fuses its embedding into these
features last (concatenated, or FiLM), so every head is conditioned without code of its own. Heads never see which keys were cameras: they size themselves from `out_dim`.
It deliberately does not choose the history length or how heads combine steps.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from protege.data.frames import is_image_spec
from protege.data.normalizer import Normalizer
from protege.data.observation import flatten_observation
from protege.policies.common import require
from protege.policies.encoders.conditioning import CONDITION_KEY, ConditionFusion, ConditioningConfig
from protege.policies.encoders.image import BACKBONES, ImageEncoder
from protege.specs import Spec

ENCODERS = ("none", *BACKBONES)


@dataclass
class EncoderConfig:
    name: str = "small"
    """Image encoder: "small" (a 4-layer CNN with spatial softmax, sized for CPU training), "resnet18"
    (ResNet-18 with GroupNorm and spatial-softmax keypoints, randomly initialised: the Diffusion Policy /
    robomimic recipe), or "none" (ignore camera keys: a state-only policy on a dataset with cameras)."""
    crop: float = 0.9
    """Fraction of each image side kept: a random crop while training, the centre crop at execution
    (1.0 = no crop)."""
    color_jitter: float = 0.0
    """Brightness/contrast jitter amplitude while training: factors drawn from [1 - a, 1 + a] (0 = off)."""
    feature_dim: int = 64
    """Features per camera (the output width of each image encoder)."""
    share_cameras: bool = False
    """One encoder for every camera (their images must be the same size) instead of one per camera."""

    def __post_init__(self) -> None:
        require(self.name in ENCODERS, "encoder", "name", f"one of {list(ENCODERS)}", self.name)
        require(0 < self.crop <= 1, "encoder", "crop", "a fraction in (0, 1]", self.crop)
        require(0 <= self.color_jitter < 1, "encoder", "color_jitter", "a value in [0, 1)", self.color_jitter)
        require(self.feature_dim >= 1, "encoder", "feature_dim", ">= 1", self.feature_dim)


def vector_keys(spec: Spec) -> list[str]:
    """Observation keys the state normaliser reads: the 1-D (or scalar) arrays, in spec order."""
    return [k for k, v in spec.observation.items() if len(v.shape) <= 1]


def camera_keys(spec: Spec) -> list[str]:
    """Observation keys holding camera frames, in spec order."""
    return [k for k, v in spec.observation.items() if is_image_spec(v)]


def _module_key(key: str) -> str:
    return key.replace(".", "__")  # ModuleDict names cannot hold dots (LeRobot keys do)


class ObservationEncoder(nn.Module):
    """obs key -> (B, n_obs, ...) raw  ->  (B, n_obs, out_dim) features (see the module docstring).

    stats: the dataset statistics ({"observation.<key>": {mean, std, ...}}) or None (identity until a
    checkpoint's buffers are loaded); config: None reads no camera.
    """

    def __init__(self, spec: Spec, stats: dict | None, config: EncoderConfig | None,
                 conditioning: ConditioningConfig | None = None):
        """conditioning: fuse a task/instruction embedding into the features (None or kind "none": no)."""
        super().__init__()
        self.config = config
        self.vector_keys = vector_keys(spec)
        self.camera_keys = camera_keys(spec) if config is not None and config.name != "none" else []
        self.keys = [k for k in spec.observation if k in self.vector_keys or k in self.camera_keys]
        self.vector_dim = sum(spec.observation[k].size for k in self.vector_keys)
        self.normalizer = Normalizer(self.vector_dim, "mean_std")
        if stats is not None:
            self.normalizer.set_stats(_concat_stats(stats, self.vector_keys))
        self.cameras = nn.ModuleDict()
        if self.camera_keys:
            assert config is not None
            shapes = {k: spec.observation[k].shape for k in self.camera_keys}
            require(not config.share_cameras or len(set(shapes.values())) == 1, "encoder", "share_cameras",
                    "cameras of one image size", shapes)
            for k in self.camera_keys[:1] if config.share_cameras else self.camera_keys:
                self.cameras[_module_key(k)] = ImageEncoder(config.name, shapes[k], config.feature_dim,
                                                            config.crop, config.color_jitter)
        self.feature_dim = config.feature_dim if self.camera_keys else 0
        self.out_dim = self.vector_dim + len(self.camera_keys) * self.feature_dim
        self.conditioning = conditioning if conditioning is not None and conditioning.enabled else None
        self.fusion = ConditionFusion(self.conditioning, self.out_dim) if self.conditioning is not None else None
        if self.fusion is not None:
            self.keys = [*self.keys, CONDITION_KEY]
            self.out_dim = self.fusion.out_dim

    def camera_encoder(self, key: str, cameras: nn.ModuleDict | None = None) -> ImageEncoder:
        """The image encoder of camera `key`, taken from `cameras` (e.g. an EMA copy of `self.cameras`)."""
        cameras = self.cameras if cameras is None else cameras
        if self.config is not None and self.config.share_cameras:
            return cameras[_module_key(self.camera_keys[0])]
        return cameras[_module_key(key)]

    def forward(self, obs: dict[str, torch.Tensor], cameras: nn.ModuleDict | None = None,
                fusion: nn.Module | None = None) -> torch.Tensor:
        """cameras: image encoders to use instead of `self.cameras` (same layout), e.g. their EMA;
        fusion: likewise for the condition fusion."""
        parts = []
        if self.vector_keys or not self.camera_keys:
            parts.append(self.normalizer(flatten_observation(obs, self.vector_keys, batch_dims=2)))
        for k in self.camera_keys:
            frames = obs[k]  # B, n_obs, H, W, C
            feats = self.camera_encoder(k, cameras)(frames.flatten(0, 1))
            parts.append(feats.unflatten(0, frames.shape[:2]))
        feats = parts[0] if len(parts) == 1 else torch.cat(parts, dim=-1)
        if self.fusion is not None:
            feats = (fusion or self.fusion)(feats, obs[CONDITION_KEY])
        return feats


def _concat_stats(stats: dict, keys: list[str]) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {"mean": [], "std": [], "min": [], "max": []}
    for k in keys:
        s = stats[f"observation.{k}"]
        for field in out:
            out[field].extend(s[field])
    return out
