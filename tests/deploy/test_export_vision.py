"""Export of policies that see: uint8 frames in, centre crop and scaling inside the graph, parity with PyTorch."""

import numpy as np
import pytest
import torch

from protege.deploy.export import export_policy
from protege.deploy.exported import load_exported
from protege.specs import ArraySpec, Spec

S = 32
SPEC = Spec({"cam": ArraySpec((S, S, 3), "uint8"), "state": ArraySpec((3,))},
            ArraySpec((2,), low=[-1.0] * 2, high=[1.0] * 2), fps=10)


def _episodes(n, T, seed):
    from protege.data import Episode

    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        frames = rng.integers(0, 40, (T, S, S, 3), dtype=np.uint8)
        pos = rng.integers(0, S - 6, (T, 2))
        for t, (r, c) in enumerate(pos):
            frames[t, r:r + 6, c:c + 6] = 255
        out.append(Episode({"cam": frames, "state": rng.normal(size=(T, 3)).astype(np.float32)},
                           (pos / S * 2 - 1).astype(np.float32), info={"seed": i}))
    return out


@pytest.fixture(scope="module")
def vision_checkpoint(tmp_path_factory):
    """A tiny mlp with the small encoder, trained briefly (so its weights are not at initialisation)."""
    from protege.algos.bc import TrainConfig, train_bc
    from protege.data import Dataset
    from protege.policies import EncoderConfig, MLPConfig

    out = tmp_path_factory.mktemp("vision") / "mlp"
    train_bc(Dataset(_episodes(4, 10, 0), SPEC), "mlp", MLPConfig(hidden_dims=(32, 32), n_obs=2),
             TrainConfig(steps=30, eval_every=30, batch_size=16, device="cpu"), out=out,
             encoder=EncoderConfig(crop=0.8))
    return out


def _raw_steps(n=6):
    ep = _episodes(1, n, 5)[0]
    return [{k: v[t] for k, v in ep.observations.items()} for t in range(n)]


@pytest.mark.parametrize("fmt, name", [("onnx", "p.onnx"), ("torchscript", "p.pt")])
def test_vision_export_takes_uint8_frames_with_parity(vision_checkpoint, tmp_path, fmt, name):
    from protege.checkpoint import PolicyActor, load_checkpoint

    torch.set_num_threads(1)
    policy = load_checkpoint(vision_checkpoint)
    report = export_policy(policy, tmp_path / name, fmt, parity_samples=8)
    assert report.max_abs_diff <= 1e-5, report  # the target is 1e-4
    model = load_exported(tmp_path / name)
    assert model.meta["obs_dtypes"] == {"cam": "uint8", "state": "float32"}
    assert model.meta["encoder"]["cameras"] == {"cam": {"shape": [S, S, 3], "crop": [26, 26]}}
    if fmt == "onnx":
        inputs = {i.name: (i.type, i.shape) for i in model._session.get_inputs()}
        assert inputs["obs.cam"] == ("tensor(uint8)", [1, 2, S, S, 3])
    # raw camera frames in, env-unit actions out: the crop and /255 happen inside the graph
    actor = PolicyActor(policy)
    actor.reset()
    history = []
    for obs in _raw_steps():
        expected = actor.act(obs)
        history = (history or [obs]) + [obs]
        window = {k: np.stack([h[k] for h in history[-2:]])[None] for k in obs}
        got = model.run(window, [])[0, 0]
        np.testing.assert_allclose(got, expected, atol=1e-5)
        # frames handed over as float32 0..255 (as a generic runner may) give the same actions
        as_float = {k: v.astype(np.float32) for k, v in window.items()}
        np.testing.assert_array_equal(model.run(as_float, []), model.run(window, []))


def test_exported_vision_policy_executes_as_the_checkpoint(vision_checkpoint, tmp_path):
    """deploy's path: the same controller over the exported file and over the checkpoint, fed raw frames."""
    from protege.checkpoint import load_checkpoint
    from protege.deploy.inference import ChunkExecutor, ExportedPredictor, TorchPredictor

    policy = load_checkpoint(vision_checkpoint)
    export_policy(policy, tmp_path / "p.onnx", parity_samples=2)
    a = ChunkExecutor(ExportedPredictor(load_exported(tmp_path / "p.onnx")))
    b = ChunkExecutor(TorchPredictor(policy))
    for obs in _raw_steps():
        np.testing.assert_allclose(a.act(obs), b.act(obs), atol=1e-5)


@pytest.mark.parametrize("head, encoder", [("mlp", "resnet18"), ("diffusion", "small")])
def test_export_parity_for_resnet18_and_a_sampling_head(head, encoder, tmp_path):
    from protege.data import compute_stats
    from protege.policies import POLICIES, EncoderConfig, make_policy

    torch.set_num_threads(1)
    torch.manual_seed(0)
    config = {"diffusion": dict(horizon=4, n_action_steps=2, n_obs=2, down_dims=(8, 16), inference_steps=3)}
    eps = _episodes(2, 6, 1)
    policy = make_policy(head, POLICIES[head][0](**config.get(head, {})), SPEC, compute_stats(eps),
                         EncoderConfig(name=encoder)).eval()
    report = export_policy(policy, tmp_path / "p.onnx", "onnx", parity_samples=3)
    assert report.max_abs_diff <= 1e-5, report
