"""Image encoder layers, written without torchvision: crop/augment, a small CNN, a ResNet-18 with
GroupNorm, and spatial-softmax keypoints.

An `ImageEncoder` maps raw camera frames (N, H, W, C), uint8 (or float holding 0..255), to features
(N, feature_dim). Everything a camera needs between the robot and the head lives inside it, so a
checkpoint or an exported graph takes frames exactly as a camera gives them:

- crop: a random crop of `crop` x the image side per frame while training (`module.training`), the centre
  crop otherwise (evaluation, deployment, export);
- colour jitter (training only): per-frame brightness and contrast factors in [1 - j, 1 + j];
- /255 and a fixed affine map to [-1, 1] (no statistics: no pretrained weights to match);
- a backbone ("small": 4 conv layers sized for CPU training; "resnet18": ResNet-18 with GroupNorm in
  place of BatchNorm, the Diffusion Policy / robomimic recipe) without its pooling and classifier;
- spatial softmax: 1x1 conv to K keypoint maps, softmax over the pixels, expected (x, y) of each -> (N, 2K);
- a linear layer to `feature_dim`.

BatchNorm is avoided on purpose: batch statistics differ between training and batch-1 execution, and
interact badly with the EMA weights the sampling heads execute.
It deliberately holds no pretrained weights and no resizing: frames arrive at the size the checkpoint
records (a mismatch is refused before they get here).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


def crop_size(side: int, crop: float) -> int:
    """Pixels kept along a side of `side` pixels for crop fraction `crop` (at least 1)."""
    return max(1, min(side, int(round(side * crop))))


def random_crop(x: torch.Tensor, h: int, w: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """(N, H, W, C) -> (N, h, w, C): an independent random window per frame, by one gather (no loop)."""
    N, H, W = x.shape[:3]
    oy = torch.randint(0, H - h + 1, (N,), device=x.device, generator=generator)
    ox = torch.randint(0, W - w + 1, (N,), device=x.device, generator=generator)
    rows = (oy[:, None] + torch.arange(h, device=x.device))[:, :, None]  # N, h, 1
    cols = (ox[:, None] + torch.arange(w, device=x.device))[:, None, :]  # N, 1, w
    return x[torch.arange(N, device=x.device)[:, None, None], rows, cols]


def center_crop(x: torch.Tensor, h: int, w: int) -> torch.Tensor:
    """(N, H, W, C) -> (N, h, w, C): the centre window (static slicing, so it exports)."""
    H, W = x.shape[1], x.shape[2]
    top, left = (H - h) // 2, (W - w) // 2
    return x[:, top:top + h, left:left + w]


def color_jitter(x: torch.Tensor, amount: float) -> torch.Tensor:
    """(N, C, H, W) in [0, 1] -> the same with brightness and contrast each scaled by a per-frame factor
    drawn uniformly from [1 - amount, 1 + amount], clipped back to [0, 1]."""
    N = x.shape[0]
    brightness = 1 + amount * (2 * torch.rand(N, 1, 1, 1, device=x.device) - 1)
    contrast = 1 + amount * (2 * torch.rand(N, 1, 1, 1, device=x.device) - 1)
    x = x * brightness
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    return ((x - mean) * contrast + mean).clamp(0.0, 1.0)


def group_norm(channels: int) -> nn.GroupNorm:
    """GroupNorm with groups of 16 channels (as Diffusion Policy's ResNet), at least one group."""
    return nn.GroupNorm(max(1, channels // 16), channels)


class SpatialSoftmax(nn.Module):
    """(N, C, h, w) feature maps -> (N, 2K) expected (x, y) in [-1, 1] of K learned keypoint maps."""

    def __init__(self, channels: int, keypoints: int):
        super().__init__()
        self.keypoints = nn.Conv2d(channels, keypoints, kernel_size=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        maps = self.keypoints(x)
        N, K, h, w = maps.shape
        attention = torch.softmax(maps.reshape(N, K, h * w), dim=-1)
        # pixel-centre coordinates in [-1, 1]; built from the static sizes, so a traced graph holds constants
        ys = _centred_grid(h, attention)
        xs = _centred_grid(w, attention)
        grid = torch.stack([xs.repeat(h), ys.repeat_interleave(w)], dim=-1)  # (h*w, 2): x, y
        return (attention @ grid).reshape(N, 2 * K)


def _centred_grid(n: int, like: torch.Tensor) -> torch.Tensor:
    """n evenly spaced values from -1 to 1 (0 when n = 1), dtype and device of `like` (arange, not
    linspace: ONNX export turns linspace into doubles)."""
    step = 2.0 / (n - 1) if n > 1 else 0.0
    return torch.arange(n, device=like.device, dtype=like.dtype) * step - (1.0 if n > 1 else 0.0)


def small_cnn(in_channels: int) -> tuple[nn.Sequential, int]:
    """Four 3x3 convolutions (two of stride 2), GroupNorm and ReLU: 76x76 -> 64 maps of 19x19.
    About 0.1M parameters; returns (network, output channels)."""
    widths, strides = (32, 32, 64, 64), (2, 1, 2, 1)
    layers: list[nn.Module] = []
    c = in_channels
    for width, stride in zip(widths, strides):
        layers += [nn.Conv2d(c, width, 3, stride=stride, padding=1), nn.GroupNorm(8, width), nn.ReLU()]
        c = width
    return nn.Sequential(*layers), c


class BasicBlock(nn.Module):
    """ResNet's two-3x3-conv residual block, GroupNorm in place of BatchNorm."""

    def __init__(self, in_channels: int, channels: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, channels, 3, stride=stride, padding=1, bias=False)
        self.norm1 = group_norm(channels)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.norm2 = group_norm(channels)
        self.down = None
        if stride != 1 or in_channels != channels:
            self.down = nn.Sequential(nn.Conv2d(in_channels, channels, 1, stride=stride, bias=False),
                                      group_norm(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.norm1(self.conv1(x)))
        out = self.norm2(self.conv2(out))
        return F.relu(out + (x if self.down is None else self.down(x)))


def resnet18(in_channels: int) -> tuple[nn.Sequential, int]:
    """ResNet-18 (He et al. 2016) up to its last stage, GroupNorm throughout, randomly initialised:
    76x76 -> 512 maps of 3x3. About 11M parameters; returns (network, output channels)."""
    layers: list[nn.Module] = [nn.Conv2d(in_channels, 64, 7, stride=2, padding=3, bias=False), group_norm(64),
                               nn.ReLU(), nn.MaxPool2d(3, stride=2, padding=1)]
    c = 64
    for channels, stride in ((64, 1), (128, 2), (256, 2), (512, 2)):
        layers += [BasicBlock(c, channels, stride), BasicBlock(channels, channels, 1)]
        c = channels
    return nn.Sequential(*layers), c


BACKBONES = {"small": small_cnn, "resnet18": resnet18}
KEYPOINTS = 32  # spatial-softmax keypoints per camera (robomimic's and Diffusion Policy's choice)


class ImageEncoder(nn.Module):
    """Camera frames (N, H, W, C) uint8 (or float 0..255) -> (N, feature_dim) features.

    backbone: "small" or "resnet18"; crop: fraction of each side kept (random at training, centred
    otherwise; 1.0 = no crop); jitter: colour-jitter amplitude at training (0 = off).
    """

    def __init__(self, backbone: str, image_shape: tuple[int, int, int], feature_dim: int, crop: float = 1.0,
                 jitter: float = 0.0):
        super().__init__()
        H, W, C = image_shape
        self.crop_hw = (crop_size(H, crop), crop_size(W, crop))
        self.jitter = float(jitter)
        self.backbone, channels = BACKBONES[backbone](C)
        self.pool = SpatialSoftmax(channels, KEYPOINTS)
        self.out = nn.Linear(2 * KEYPOINTS, feature_dim)

    def preprocess(self, frames: torch.Tensor) -> torch.Tensor:
        """(N, H, W, C) raw -> (N, C, h, w) float in [-1, 1], cropped (and jittered when training)."""
        h, w = self.crop_hw
        if self.training:
            x = random_crop(frames, h, w)
        else:
            x = center_crop(frames, h, w)
        x = x.permute(0, 3, 1, 2).float() / 255.0
        if self.training and self.jitter > 0:
            x = color_jitter(x, self.jitter)
        return x * 2.0 - 1.0

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        return self.out(self.pool(self.backbone(self.preprocess(frames))))
