import numpy as np
import pytest

from protege.data import Episode
from protege.errors import ProtegeError


def test_valid_episode_casts_and_keeps_final_observation(make_episode):
    ep = make_episode(T=5)
    assert len(ep) == 5 and ep.actions.dtype == np.float32
    ep2 = Episode(observations={"state": np.zeros((6, 3))}, actions=np.zeros((5, 2)))
    assert ep2.step_observations()["state"].shape == (5, 3)


@pytest.mark.parametrize("field,value,expected", [
    ("actions", np.full((4, 2), np.nan), "actions"),
    ("actions", np.zeros((0, 2)), "empty episode"),
    ("actions", np.zeros(4), "2-D array"),
])
def test_bad_actions_name_the_field(field, value, expected):
    with pytest.raises(ProtegeError, match=expected):
        Episode(observations={"state": np.zeros((4, 3))}, actions=value, origin="ep.npz")


def test_nonfinite_observation_is_named_with_index():
    obs = np.zeros((4, 3))
    obs[2, 1] = np.inf
    with pytest.raises(ProtegeError, match=r"ep.npz: field 'observations/state': expected finite values, found inf at index \(2, 1\)"):
        Episode(observations={"state": obs}, actions=np.zeros((4, 2)), origin="ep.npz")


def test_mismatched_lengths_are_refused():
    with pytest.raises(ProtegeError, match="length 4 or 5"):
        Episode(observations={"state": np.zeros((7, 3))}, actions=np.zeros((4, 2)))


def test_labels_are_the_targets_where_masked():
    acts = np.ones((3, 1))
    labels = np.full((3, 1), 5.0)
    ep = Episode(observations={"s": np.zeros((3, 1))}, actions=acts, labels=labels,
                 label_mask=np.array([True, False, True]))
    np.testing.assert_array_equal(ep.targets[:, 0], [5, 1, 5])
    assert ep.num_labels == 2
