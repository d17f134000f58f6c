"""Export parity for every registered head, and randomness served as graph inputs."""

import numpy as np
import pytest
import torch

from protege.deploy.export import export_policy
from protege.deploy.exported import load_exported
from protege.deploy.noise import NoiseFeed
from protege.errors import ProtegeError
from protege.policies import POLICIES


@pytest.mark.parametrize("head", sorted(POLICIES))
def test_export_parity_for_every_head(head, pendulum_data, tmp_path):
    from protege.data import compute_stats
    from protege.policies import make_policy

    torch.set_num_threads(1)
    torch.manual_seed(0)
    # parity is a property of the graph, so untrained weights (default config, real statistics) suffice
    policy = make_policy(head, None, pendulum_data.spec, compute_stats(pendulum_data.episodes)).eval()
    for fmt, name in (("onnx", "p.onnx"), ("torchscript", "p.pt")):
        report = export_policy(policy, tmp_path / name, fmt, parity_samples=4)
        assert report.max_abs_diff <= 1e-5, (fmt, report)  # the parity target
        model = load_exported(tmp_path / name)
        assert model.meta["policy"] == head and model.meta["horizon"] == policy.horizon
        obs = {"state": np.zeros((1, policy.n_obs, 3), np.float32)}
        noise = [np.zeros(n, np.float32) for n in model.meta["noise"].values() if n]
        chunk = model.run(obs, noise)
        assert chunk.shape == (1, policy.horizon, 1)
        assert np.all(np.abs(chunk) <= 2.0 + 1e-5)  # env units: the pendulum's torque bound, not [-1, 1]


def test_normalisation_is_inside_the_graph(mlp_checkpoint, tmp_path):
    from protege.checkpoint import PolicyActor, load_checkpoint

    policy = load_checkpoint(mlp_checkpoint)
    export_policy(policy, tmp_path / "p.onnx")
    model = load_exported(tmp_path / "p.onnx")
    raw = np.array([0.9, 0.43, -1.3], np.float32)  # a raw env observation, not normalised
    expected = PolicyActor(policy).act({"state": raw})
    np.testing.assert_allclose(model.run({"state": raw[None, None]}, [])[0, 0], expected, atol=1e-5)


class Sampler(torch.nn.Module):
    def forward(self, x):
        y = x + torch.randn(x.shape[0], 3)
        k = torch.multinomial(torch.softmax(y, -1), 1).float()
        return y * torch.rand(1) + k + torch.randn_like(y)


def test_noise_feed_makes_sampling_reproducible_and_exportable(tmp_path):
    x = torch.ones(1, 3)
    with NoiseFeed() as count:
        Sampler()(x)
    assert (count.n_normal, count.n_uniform) == (6, 4)  # multinomial: one uniform per category (Gumbel-max)
    normal, uniform = torch.randn(6), torch.rand(4)
    with NoiseFeed(normal, uniform):
        a = Sampler()(x)
    with NoiseFeed(normal, uniform):
        b = Sampler()(x)
    torch.testing.assert_close(a, b)

    class Wrapped(torch.nn.Module):
        def forward(self, x, n, u):
            with NoiseFeed(n, u):
                return Sampler()(x)

    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(Wrapped(), (x, normal, uniform), str(tmp_path / "s.onnx"), dynamo=False, opset_version=17,
                          input_names=["x", "n", "u"])
    import onnxruntime as ort

    got = ort.InferenceSession(str(tmp_path / "s.onnx")).run(None, {"x": x.numpy(), "n": normal.numpy(),
                                                                     "u": uniform.numpy()})[0]
    np.testing.assert_allclose(got, a.numpy(), atol=1e-6)


def test_unknown_format_and_missing_metadata(mlp_checkpoint, tmp_path):
    from protege.checkpoint import load_checkpoint

    with pytest.raises(ProtegeError, match="field 'format': expected one of onnx, torchscript, found 'tflite'"):
        export_policy(load_checkpoint(mlp_checkpoint), tmp_path / "p.tfl", "tflite")
    torch.jit.save(torch.jit.script(torch.nn.Linear(2, 2)), str(tmp_path / "plain.pt"))
    with pytest.raises(ProtegeError, match=r"plain\.pt: field 'protege\.json': expected protege metadata"):
        load_exported(tmp_path / "plain.pt")
