"""hand_dapg experts: the converted (.json + .safetensors) policy files load, check themselves and act."""

import json

import numpy as np
import pytest
from safetensors.numpy import save_file

from protege.errors import ProtegeError
from protege.experts.hand_dapg import FORMAT, HandDapgExpert


def _write(prefix, rng, obs=3, hidden=4, act=2, **change):
    sizes = [obs, hidden, hidden, act]
    tensors = {}
    layers = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        tensors[f"fc{i}.weight"] = rng.normal(size=(b, a)).astype(np.float32)
        tensors[f"fc{i}.bias"] = rng.normal(size=b).astype(np.float32)
        layers.append({"weight": f"fc{i}.weight", "bias": f"fc{i}.bias", "activation": "tanh" if i < 2 else None})
    tensors.update(in_shift=rng.normal(size=obs).astype(np.float32), in_scale=np.full(obs, 2.0, np.float32),
                   out_shift=np.full(act, 0.5, np.float32), out_scale=np.full(act, 3.0, np.float32),
                   log_std=np.zeros(act, np.float32))
    meta = {"format": FORMAT, "task": "toy", "layers": layers, "in_scale_eps": 1e-8}
    for k, v in change.items():
        (tensors if isinstance(v, np.ndarray) else meta)[k] = v
    save_file(tensors, str(prefix.with_suffix(".safetensors")))
    prefix.with_suffix(".json").write_text(json.dumps(meta))
    return tensors


def test_mean_action_is_the_mlp_with_input_and_output_normalisation(tmp_path):
    t = _write(tmp_path / "toy", np.random.default_rng(0))
    expert = HandDapgExpert(tmp_path / "toy.json")
    obs = np.float32([0.3, -1.2, 2.0])
    x = (obs - t["in_shift"]) / (t["in_scale"] + 1e-8)
    x = np.tanh(x @ t["fc0.weight"].T + t["fc0.bias"])
    x = np.tanh(x @ t["fc1.weight"].T + t["fc1.bias"])
    want = (x @ t["fc2.weight"].T + t["fc2.bias"]) * 3.0 + 0.5
    np.testing.assert_allclose(expert.mean(obs), want, rtol=1e-6)
    assert (expert.obs_dim, expert.act_dim) == (3, 2)
    np.testing.assert_array_equal(expert.act({"state": obs}), np.clip(want, -1, 1))  # out_scale 3 saturates


@pytest.mark.parametrize("change, match", [
    ({"format": "mjrl-pickle"}, r"toy\.json: field 'format': expected 'hand_dapg-gaussian-mlp/1', found 'mjrl-pickle'"),
    ({"in_scale": np.ones(5, np.float32)}, r"toy\.safetensors: field 'in_scale': expected shape \(3,\), found shape \(5,\)"),
    ({"fc1.weight": np.ones((4, 5), np.float32)}, r"toy\.safetensors: field 'fc1.weight': expected shapes that chain"),
    ({"log_std": np.full(2, np.nan, np.float32)}, r"toy\.safetensors: field 'log_std': expected finite values"),
])
def test_bad_files_are_refused_in_one_line(tmp_path, change, match):
    _write(tmp_path / "toy", np.random.default_rng(1), **change)
    with pytest.raises(ProtegeError, match=match):
        HandDapgExpert(tmp_path / "toy")


def test_missing_weights_name_the_file(tmp_path):
    _write(tmp_path / "toy", np.random.default_rng(2))
    (tmp_path / "toy.safetensors").unlink()
    with pytest.raises(ProtegeError, match=r"toy\.safetensors: expected a hand_dapg expert file .*found no such file"):
        HandDapgExpert(tmp_path / "toy")


def test_the_door_expert_matches_a_torch_forward_pass():
    torch = pytest.importorskip("torch")
    from safetensors.torch import load_file

    from protege.envs.adroit import expert_dir

    prefix = expert_dir() / "door"
    if not prefix.with_suffix(".safetensors").exists():
        pytest.skip(f"the converted hand_dapg experts are not at {expert_dir()}")
    t = load_file(str(prefix.with_suffix(".safetensors")))
    obs = torch.from_numpy(np.random.default_rng(0).normal(size=(16, 39)).astype(np.float32))
    x = (obs - t["in_shift"]) / (t["in_scale"] + 1e-8)
    x = torch.tanh(torch.nn.functional.linear(x, t["fc0.weight"], t["fc0.bias"]))
    x = torch.tanh(torch.nn.functional.linear(x, t["fc1.weight"], t["fc1.bias"]))
    want = torch.nn.functional.linear(x, t["fc2.weight"], t["fc2.bias"]) * t["out_scale"] + t["out_shift"]
    np.testing.assert_allclose(HandDapgExpert(prefix).mean(obs.numpy()), want.numpy(), rtol=1e-5, atol=1e-5)
