"""A LeRobot video dataset (H.264, and AV1 as LeRobot itself encodes) trains in place: from Python and from
`protege train`, with cameras included by default, decoding only the frames the batches ask for."""

import json
import subprocess

import numpy as np
import pytest

from protege.algos.bc import TrainConfig, train_bc
from protege.data import Episode, save_dataset
from protege.data.formats import convert, load_any
from protege.data.formats.lerobot import EpisodeFrames, LeRobotReader
from protege.data.windows import EpisodeDataset
from protege.policies import EncoderConfig, MLPConfig
from protege.specs import ArraySpec, Spec

S, T, N = 16, 24, 4  # frame side, steps per episode, episodes
CAM = "observation.images.cam"


def _square(t, seed):
    return (2 * t + 3 * seed) % (S - 5)


def _frames(n, seed):
    """Smooth frames (codecs keep them close) with a bright square that moves: each frame is distinct."""
    y, x = np.mgrid[:S, :S]
    out = np.empty((n, S, S, 3), np.uint8)
    for t in range(n):
        img = np.stack([x * 12 + 2 * t, y * 12, np.full_like(x, 40 + 20 * seed)], -1)
        c = _square(t, seed)
        img[c:c + 5, c:c + 5] = 255
        out[t] = np.clip(img, 0, 255)
    return out


@pytest.fixture(scope="module")
def native(tmp_path_factory):
    """Native episodes with a uint8 camera beside a 3-D state; the action is the square's position, which
    only the camera shows."""
    root = tmp_path_factory.mktemp("lerobot_video")
    rng = np.random.default_rng(0)
    eps = []
    for i in range(N):
        cam = _frames(T + 1, i)
        pos = _square(np.arange(T), i) / (S - 5) * 2 - 1
        eps.append(Episode(observations={"state": rng.normal(size=(T + 1, 3)).astype(np.float32), "cam": cam},
                           actions=np.stack([pos, -pos], -1).astype(np.float32), success=True, info={"seed": i}))
    spec = Spec({"state": ArraySpec((3,)), "cam": ArraySpec((S, S, 3), "uint8")}, ArraySpec((2,)), fps=10.0)
    save_dataset(eps, root / "native", spec=spec)
    return root, eps


@pytest.fixture(scope="module")
def h264(native):
    root, _ = native
    convert(root / "native", root / "lr", to_fmt="lerobot")
    info = json.loads((root / "lr/meta/info.json").read_text())
    assert info["features"][CAM]["dtype"] == "video" and info["features"][CAM]["info"]["video.codec"] == "h264"
    return root / "lr"


class _Spy:
    """Records what each batch asks of the cameras and what each decoder call is given."""

    def __init__(self, monkeypatch):
        self.asked: list[set] = []  # per batch: the (episode, frame) pairs its windows need
        self.calls: list[tuple[int, list[int]]] = []  # per decoder call: (LeRobot episode, frames)
        batch, frames = EpisodeDataset.batch, LeRobotReader.frames
        spy = self

        def spy_batch(ds, idx):
            steps = idx.cpu().numpy()  # mlp: one observation per sample, so the frames of these steps
            e = ds._episode_of[steps]  # the position in this (train or validation) subset
            lerobot = [ds.frames["cam"][int(p)].ref.index for p in e]
            spy.asked.append({(a, int(b)) for a, b in zip(lerobot, steps - ds._episode_start[e])})
            return batch(ds, idx)

        def spy_frames(reader, key, episode, indices=None):
            spy.calls.append((episode, [int(i) for i in indices]))
            return frames(reader, key, episode, indices)

        monkeypatch.setattr(EpisodeDataset, "batch", spy_batch)
        monkeypatch.setattr(LeRobotReader, "frames", spy_frames)


def _train(ds, out=None, steps=12):
    return train_bc(ds, "mlp", MLPConfig(hidden_dims=(32, 32)),
                    TrainConfig(steps=steps, batch_size=8, eval_every=steps), out=out,
                    encoder=EncoderConfig(name="small", feature_dim=16))


def test_h264_dataset_trains_in_place_decoding_only_the_frames_batches_ask_for(h264, native, monkeypatch, tmp_path):
    _, eps = native
    # A gap of one frame already earns its own seek: each decoded frame is then one some batch asked for.
    monkeypatch.setattr(EpisodeFrames, "max_gap_pixels", 1)
    spy = _Spy(monkeypatch)
    ds = load_any(h264, obs_keys=["cam", "state"])
    cams = [e.observations["cam"] for e in ds.episodes]
    assert all(isinstance(c, EpisodeFrames) and c.decoded_frames == 0 for c in cams)  # loading decodes nothing
    result = _train(ds, tmp_path / "ckpt")
    assert np.isfinite(result.best_val_loss)
    cfg = json.loads((tmp_path / "ckpt/config.json").read_text())
    assert cfg["encoder"]["name"] == "small" and cfg["spec"]["observation"]["cam"]["shape"] == [S, S, 3]

    asked = set().union(*spy.asked)
    decoded = {(e, i) for e, idx in spy.calls for i in idx}
    assert decoded == asked  # the decoder was given exactly the frames the batches needed
    # each batch decodes each of its frames once; nothing else (no whole episode, no final frame)
    assert sum(c.decoded_frames for c in cams) == sum(len(a) for a in spy.asked) < len(spy.asked) * N * T
    assert len(asked) < N * T  # some frames no batch asked for were never decoded
    # the frames the batches saw are the recorded ones (up to the codec's error), not a neighbour's
    got = cams[2][[5, 6]].astype(int)
    want = eps[2].observations["cam"][[5, 6]].astype(int)
    assert np.abs(got - want).mean(axis=(1, 2, 3)).max() < 10 < np.abs(got[0] - want[1]).mean()


def test_frames_close_together_share_one_decoder_call_far_apart_do_not(h264, monkeypatch):
    spy = _Spy(monkeypatch)
    cam = load_any(h264, obs_keys=["cam"]).episodes[1].observations["cam"]
    cam[[3, 9, 3, 1]]  # default gap: a 16x16 episode is decoded in one call, from frame 1 to 9
    assert spy.calls == [(1, [1, 3, 9])] and cam.decoded_frames == 9
    monkeypatch.setattr(EpisodeFrames, "max_gap_pixels", 4 * S * S)  # seek past gaps wider than 4 frames
    cam[[20, 2, 4, 10]]
    assert spy.calls[1:] == [(1, [2, 4]), (1, [10]), (1, [20])] and cam.decoded_frames == 9 + 3 + 1 + 1


def test_protege_train_on_a_lerobot_video_dataset_sees_its_cameras(h264, tmp_path, capsys):
    from protege.cli import main

    args = ["train", "--data", str(h264), "--steps", "6", "--batch-size", "8", "--eval-every", "6",
            "--mlp.hidden-dims", "16", "--encoder-feature-dim", "8"]
    assert main([*args, "--out", str(tmp_path / "all")]) == 0, capsys.readouterr().err
    cfg = json.loads((tmp_path / "all/config.json").read_text())
    assert list(cfg["spec"]["observation"]) == ["state", "cam"]  # cameras included by default
    assert cfg["encoder"]["name"] == "small" and "cam" in cfg["encoder"]["cameras"]
    assert main([*args, "--out", str(tmp_path / "state"), "--obs-keys", "observation.state"]) == 0
    cfg = json.loads((tmp_path / "state/config.json").read_text())
    assert list(cfg["spec"]["observation"]) == ["state"]  # --obs-keys chooses


def _ffmpeg() -> str:
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


def _has_encoder(name: str) -> bool:
    out = subprocess.run([_ffmpeg(), "-hide_banner", "-encoders"], capture_output=True, text=True).stdout
    return any(line.split()[1:2] == [name] for line in out.splitlines() if line.strip())


def test_av1_dataset_trains_in_place(h264, native, tmp_path):
    """LeRobot encodes its videos with SVT-AV1 (libsvtav1, GOP 2, yuv420p): the same dataset with its mp4
    rewritten that way reads and trains in place (decoded by the ffmpeg imageio-ffmpeg ships)."""
    import shutil

    import imageio_ffmpeg

    if not _has_encoder("libsvtav1"):
        pytest.skip("the ffmpeg of imageio-ffmpeg has no libsvtav1 encoder to write the AV1 fixture")
    _, eps = native
    av1 = tmp_path / "av1"
    shutil.copytree(h264, av1)
    mp4s = sorted(av1.glob("videos/*/chunk-*/file-*.mp4"))
    assert len(mp4s) == 1  # every episode back to back in one file, as LeRobot v3.0 writes them
    mp4s[0].unlink()
    w = imageio_ffmpeg.write_frames(str(mp4s[0]), (S, S), fps=10, codec="libsvtav1", pix_fmt_out="yuv420p",
                                    macro_block_size=1, quality=None, output_params=["-g", "2", "-crf", "10"],
                                    ffmpeg_log_level="error")
    w.send(None)
    for ep in eps:
        for f in ep.observations["cam"][:len(ep)]:
            w.send(np.ascontiguousarray(f))
    w.close()
    probe = subprocess.run([_ffmpeg(), "-hide_banner", "-i", str(mp4s[0])], capture_output=True, text=True).stderr
    assert "Video: av1" in probe
    info = json.loads((av1 / "meta/info.json").read_text())
    info["features"][CAM]["info"]["video.codec"] = "av1"
    (av1 / "meta/info.json").write_text(json.dumps(info))

    ds = load_any(av1, obs_keys=["state", "cam"])
    cam = ds.episodes[3].observations["cam"]
    got, want = cam[[0, 7, 8]].astype(int), eps[3].observations["cam"][[0, 7, 8]].astype(int)
    err = np.abs(got - want).mean(axis=(1, 2, 3))
    assert err.max() < 10 < np.abs(got[1] - want[2]).mean() and cam.decoded_frames == 9
    result = _train(ds, steps=6)
    assert np.isfinite(result.best_val_loss)
    assert sum(e.observations["cam"].decoded_frames for e in ds.episodes) > 9  # the batches were decoded
