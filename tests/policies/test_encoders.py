"""The observation encoder seam: crop/augment (training vs execution), spatial softmax, both backbones,
and the state path left exactly as it was."""

import numpy as np
import pytest
import torch

from protege.data.normalizer import Normalizer
from protege.data.observation import flatten_observation
from protege.errors import ProtegeError
from protege.policies.encoders import EncoderConfig, ImageEncoder, ObservationEncoder, SpatialSoftmax, random_crop
from protege.policies.encoders.image import center_crop, color_jitter
from protege.specs import ArraySpec, Spec

SPEC = Spec({"state": ArraySpec((3,)), "front": ArraySpec((32, 32, 3), "uint8"),
             "wrist": ArraySpec((24, 24, 3), "uint8"), "goal": ArraySpec((2,))},
            ArraySpec((2,), low=[-1.0] * 2, high=[1.0] * 2))
STATS = {"observation.state": {"mean": [1.0, 2.0, 3.0], "std": [2.0, 2.0, 2.0], "min": [0] * 3, "max": [5] * 3},
         "observation.goal": {"mean": [0.5, -0.5], "std": [0.1, 0.2], "min": [0] * 2, "max": [1] * 2}}


def _obs(B=4, n_obs=2, seed=0):
    g = torch.Generator().manual_seed(seed)
    return {"state": torch.randn(B, n_obs, 3, generator=g), "goal": torch.randn(B, n_obs, 2, generator=g),
            "front": torch.randint(0, 256, (B, n_obs, 32, 32, 3), generator=g, dtype=torch.uint8),
            "wrist": torch.randint(0, 256, (B, n_obs, 24, 24, 3), generator=g, dtype=torch.uint8)}


def _coords():
    """Frames whose pixel (r, c) holds r in channel 0 and c in channel 1: a crop's values say where it came from."""
    r, c = torch.meshgrid(torch.arange(20), torch.arange(20), indexing="ij")
    return torch.stack([r, c, torch.zeros_like(r)], -1).to(torch.uint8)[None].expand(64, -1, -1, -1)


# --- crop and augmentation --------------------------------------------------------------------
def test_random_crop_takes_whole_windows_at_varied_offsets():
    frames = _coords()
    out = random_crop(frames, 16, 12, torch.Generator().manual_seed(0))
    assert out.shape == (64, 16, 12, 3) and out.dtype == torch.uint8
    top, left = out[:, 0, 0, 0].long(), out[:, 0, 0, 1].long()
    assert ((0 <= top) & (top <= 4)).all() and ((0 <= left) & (left <= 8)).all()
    for i in range(64):  # each sample is one contiguous window of its frame
        assert torch.equal(out[i], frames[i, top[i]:top[i] + 16, left[i]:left[i] + 12])
    assert len(set(zip(top.tolist(), left.tolist()))) > 10  # offsets vary per frame


def test_image_encoder_random_crop_in_training_centre_crop_in_eval():
    torch.manual_seed(0)
    enc = ImageEncoder("small", (20, 20, 3), 8, crop=0.8)
    assert enc.crop_hw == (16, 16)
    frames = _coords()[:8]
    enc.eval()
    centred = enc.preprocess(frames)
    expected = center_crop(frames, 16, 16).permute(0, 3, 1, 2).float() / 255 * 2 - 1
    assert torch.equal(centred, expected)
    assert torch.equal(expected[:, 0, 0, 0], torch.full((8,), 2 / 255 * 2 - 1))  # window starts at row 2
    assert torch.equal(enc(frames), enc(frames))  # execution is deterministic
    enc.train()
    a, b = enc.preprocess(frames), enc.preprocess(frames)
    assert a.shape == centred.shape and not torch.equal(a, b)
    assert not torch.equal(enc(frames), enc(frames))


def test_crop_one_keeps_the_whole_frame():
    enc = ImageEncoder("small", (20, 20, 3), 8, crop=1.0).train()
    frames = _coords()[:4]
    assert torch.equal(enc.preprocess(frames), frames.permute(0, 3, 1, 2).float() / 255 * 2 - 1)


def test_color_jitter_only_while_training():
    torch.manual_seed(0)
    plain = ImageEncoder("small", (20, 20, 3), 8, crop=1.0, jitter=0.0)
    jittered = ImageEncoder("small", (20, 20, 3), 8, crop=1.0, jitter=0.5)
    jittered.load_state_dict(plain.state_dict())
    frames = torch.randint(0, 256, (6, 20, 20, 3), dtype=torch.uint8)
    plain.eval(), jittered.eval()
    assert torch.equal(plain(frames), jittered(frames))
    plain.train(), jittered.train()
    assert torch.equal(plain.preprocess(frames), plain.preprocess(frames))  # crop 1.0 and no jitter: no randomness
    x = jittered.preprocess(frames)
    assert not torch.equal(x, plain.preprocess(frames))
    assert x.min() >= -1 and x.max() <= 1
    # brightness and contrast factors stay within [1 - a, 1 + a]: mean brightness moves by at most ~a
    y = color_jitter(torch.full((200, 3, 4, 4), 0.5), 0.2)
    assert 0.5 * 0.8 - 1e-6 <= float(y.min()) and float(y.max()) <= 0.5 * 1.2 + 1e-6
    assert float(y.std()) > 0.02


def test_frames_as_float_give_the_same_features_as_uint8():
    """The controller and exported runners may hand frames over as float32 holding 0..255."""
    enc = ImageEncoder("small", (20, 20, 3), 8).eval()
    frames = torch.randint(0, 256, (3, 20, 20, 3), dtype=torch.uint8)
    assert torch.equal(enc(frames), enc(frames.float()))


# --- spatial softmax and backbones ---------------------------------------------------------------
def test_spatial_softmax_finds_a_bright_pixel():
    ss = SpatialSoftmax(1, 1)
    with torch.no_grad():
        ss.keypoints.weight.fill_(1.0)
        ss.keypoints.bias.zero_()
    maps = torch.zeros(3, 1, 9, 5)
    where = [(0, 0), (8, 4), (4, 1)]
    for i, (r, c) in enumerate(where):
        maps[i, 0, r, c] = 100.0
    xy = ss(maps)
    expected = torch.tensor([[-1 + 2 * c / 4, -1 + 2 * r / 8] for r, c in where])
    torch.testing.assert_close(xy, expected, atol=1e-4, rtol=0)


@pytest.mark.parametrize("backbone", ["small", "resnet18"])
def test_backbones_map_frames_to_features(backbone):
    torch.manual_seed(0)
    enc = ImageEncoder(backbone, (32, 32, 3), 16, crop=0.9).eval()
    frames = torch.randint(0, 256, (2, 32, 32, 3), dtype=torch.uint8)
    out = enc(frames)
    assert out.shape == (2, 16) and torch.isfinite(out).all()
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in enc.modules())
    n_params = sum(p.numel() for p in enc.parameters())
    assert (n_params < 200_000) if backbone == "small" else (10_000_000 < n_params < 12_000_000)


# --- the observation encoder -----------------------------------------------------------------------
def test_observation_encoder_concatenates_state_then_cameras():
    torch.manual_seed(0)
    enc = ObservationEncoder(SPEC, STATS, EncoderConfig(feature_dim=16)).eval()
    assert enc.keys == ["state", "front", "wrist", "goal"]
    assert enc.camera_keys == ["front", "wrist"] and enc.out_dim == 5 + 2 * 16
    obs = _obs()
    out = enc(obs)
    assert out.shape == (4, 2, 37)
    state = Normalizer(5, "mean_std", {"mean": [1, 2, 3, .5, -.5], "std": [2, 2, 2, .1, .2]})(
        flatten_observation(obs, ["state", "goal"], batch_dims=2))
    assert torch.equal(out[..., :5], state)
    front = enc.camera_encoder("front")(obs["front"].flatten(0, 1)).unflatten(0, (4, 2))
    assert torch.equal(out[..., 5:21], front)
    # each step of the history is encoded on its own
    assert torch.equal(enc({k: v[:, 1:] for k, v in obs.items()}), out[:, 1:])


def test_state_only_spec_reads_exactly_the_normalised_state():
    spec = Spec({"state": ArraySpec((3,))}, SPEC.action)
    enc = ObservationEncoder(spec, {"observation.state": STATS["observation.state"]}, EncoderConfig())
    obs = {"state": torch.randn(2, 1, 3)}
    assert enc.out_dim == 3 and not list(enc.cameras)
    assert torch.equal(enc(obs), (obs["state"] - torch.tensor([1.0, 2, 3])) / 2)


def test_encoder_none_ignores_cameras():
    enc = ObservationEncoder(SPEC, STATS, EncoderConfig(name="none"))
    assert enc.keys == ["state", "goal"] and enc.out_dim == 5 and not list(enc.parameters())


def test_shared_encoder_serves_every_camera():
    spec = Spec({"a": ArraySpec((24, 24, 3), "uint8"), "b": ArraySpec((24, 24, 3), "uint8")}, SPEC.action)
    shared = ObservationEncoder(spec, None, EncoderConfig(share_cameras=True, feature_dim=8))
    apart = ObservationEncoder(spec, None, EncoderConfig(feature_dim=8))
    assert len(shared.cameras) == 1 and len(apart.cameras) == 2 and shared.out_dim == apart.out_dim == 16
    frames = torch.randint(0, 256, (2, 1, 24, 24, 3), dtype=torch.uint8)
    out = shared.eval()({"a": frames, "b": frames})
    assert torch.equal(out[..., :8], out[..., 8:])
    with pytest.raises(ProtegeError, match="share_cameras"):
        ObservationEncoder(SPEC, STATS, EncoderConfig(share_cameras=True))


@pytest.mark.parametrize("field, value", [("name", "vit"), ("crop", 0.0), ("crop", 1.5), ("color_jitter", -0.1),
                                          ("feature_dim", 0)])
def test_bad_encoder_config_is_one_line(field, value):
    with pytest.raises(ProtegeError, match=f"encoder config: field '{field}'") as e:
        EncoderConfig(**{field: value})
    assert "\n" not in str(e.value)


def test_gradients_reach_every_camera():
    enc = ObservationEncoder(SPEC, STATS, EncoderConfig(feature_dim=8)).train()
    enc(_obs()).square().sum().backward()
    for name, p in enc.named_parameters():
        assert p.grad is not None and float(p.grad.abs().sum()) > 0, name


def test_dotted_camera_names():
    """LeRobot keys carry dots, which module names cannot."""
    spec = Spec({"observation.images.top": ArraySpec((16, 16, 3), "uint8")}, SPEC.action)
    enc = ObservationEncoder(spec, None, EncoderConfig(feature_dim=4)).eval()
    out = enc({"observation.images.top": torch.zeros(1, 1, 16, 16, 3, dtype=torch.uint8)})
    assert out.shape == (1, 1, 4) and np.isfinite(out.detach().numpy()).all()
