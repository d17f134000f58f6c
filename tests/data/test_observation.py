"""`flatten_observation`: one flat float32 vector per step, keys in the given order, numpy or torch."""

import numpy as np
import torch

from protege.data.observation import flatten_observation


def _obs(*batch):
    rng = np.random.default_rng(0)
    return {"b": rng.normal(size=(*batch, 2, 2)), "a": rng.normal(size=(*batch, 3)).astype(np.float32)}


def test_one_observation_flattens_each_key_in_the_given_order():
    obs = _obs()
    flat = flatten_observation(obs, ["a", "b"])
    assert flat.shape == (7,) and flat.dtype == np.float32
    np.testing.assert_array_equal(flat[:3], obs["a"])
    np.testing.assert_array_equal(flat[3:], obs["b"].reshape(-1).astype(np.float32))
    np.testing.assert_array_equal(flatten_observation(obs, ["b"]), obs["b"].reshape(-1).astype(np.float32))


def test_leading_batch_dimensions_are_kept():
    obs = _obs(4, 2)  # (B, n_obs, ...)
    flat = flatten_observation(obs, ["a", "b"], batch_dims=2)
    assert flat.shape == (4, 2, 7)
    np.testing.assert_array_equal(flat[1, 0], flatten_observation({k: v[1, 0] for k, v in obs.items()}, ["a", "b"]))
    assert flatten_observation(_obs(5), ["a", "b"], batch_dims=1).shape == (5, 7)


def test_torch_tensors_give_the_same_values_as_a_float_tensor():
    obs = _obs(4, 2)
    flat = flatten_observation({k: torch.from_numpy(v) for k, v in obs.items()}, ["a", "b"], batch_dims=2)
    assert isinstance(flat, torch.Tensor) and flat.dtype == torch.float32
    np.testing.assert_array_equal(flat.numpy(), flatten_observation(obs, ["a", "b"], batch_dims=2))
