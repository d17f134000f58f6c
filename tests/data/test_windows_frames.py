"""Windows over camera frames: lazy frames give the in-memory batch, decode only what the batch needs,
clamp history at episode starts, and leave vector keys exactly as before."""

import numpy as np
import pytest
import torch

from protege.data import Episode, EpisodeDataset
from protege.errors import ProtegeError
from protege.specs import ArraySpec, Spec

H, W = 6, 5


class CountingFrames:
    """A lazy FrameArray over frames held elsewhere: counts reader calls and frames decoded."""

    def __init__(self, frames: np.ndarray):
        self._frames = frames
        self.shape, self.dtype = frames.shape, frames.dtype
        self.calls, self.decoded = 0, 0

    def __len__(self):
        return len(self._frames)

    def __getitem__(self, idx):
        out = self._frames[idx]
        self.calls += 1
        self.decoded += 1 if np.ndim(idx) == 0 and not isinstance(idx, slice) else len(out)
        return out.copy()

    def __array__(self, dtype=None, copy=None):
        self.calls += 1
        self.decoded += len(self._frames)
        return self._frames.copy() if dtype is None else self._frames.astype(dtype)


def _frames(episode: int, T: int) -> np.ndarray:
    """(T, H, W, 3) uint8 whose pixels say which episode (channel 0) and step (channel 1) they are."""
    f = np.zeros((T, H, W, 3), np.uint8)
    f[..., 0] = episode
    f[..., 1] = np.arange(T)[:, None, None]
    f[..., 2] = np.arange(W)[None, None, :]
    return f


def _episodes(lengths, lazy: bool, keep_final: bool = False):
    eps = []
    for i, T in enumerate(lengths):
        n = T + 1 if keep_final else T
        frames = _frames(i, n)
        ep = Episode(observations={"state": np.arange(n, dtype=np.float32)[:, None] + 100 * i, "cam": frames},
                     actions=np.full((T, 2), i, np.float32))
        if lazy:  # the camera as a lazy reader hands it over (set after validation: this tests windows only)
            object.__setattr__(ep, "observations", {**ep.observations, "cam": CountingFrames(frames)})
        eps.append(ep)
    return eps


def test_lazy_frames_give_the_in_memory_batch_with_history_clamped_at_episode_start():
    lazy_eps = _episodes([4, 3, 5], lazy=True, keep_final=True)
    lazy = EpisodeDataset(lazy_eps, n_obs=3, horizon=2)
    eager = EpisodeDataset(_episodes([4, 3, 5], lazy=False, keep_final=True), n_obs=3, horizon=2)
    assert lazy.image_keys == eager.image_keys == ["cam"]
    idx = torch.tensor([0, 3, 4, 5, 11, 7, 0])
    a, b = lazy.batch(idx), eager.batch(idx)
    assert all(isinstance(e.observations["cam"], CountingFrames) for e in lazy_eps)
    assert a.obs["cam"].dtype == torch.uint8 and a.obs["cam"].shape == (7, 3, H, W, 3)
    torch.testing.assert_close(a.obs["cam"], b.obs["cam"], rtol=0, atol=0)
    torch.testing.assert_close(a.obs["state"], b.obs["state"], rtol=0, atol=0)
    # (episode, step) of every frame in the windows: steps before an episode's start repeat its first frame
    which = a.obs["cam"][:, :, 0, 0, :2].tolist()
    assert which == [[[0, 0]] * 3, [[0, 1], [0, 2], [0, 3]], [[1, 0]] * 3, [[1, 0], [1, 0], [1, 1]],
                     [[2, 2], [2, 3], [2, 4]], [[2, 0], [2, 0], [2, 0]], [[0, 0]] * 3]
    # cameras and vectors come from the same steps
    assert (a.obs["state"][..., 0] % 100).long().tolist() == a.obs["cam"][:, :, 0, 0, 1].long().tolist()


def test_only_the_frames_a_batch_needs_are_decoded_each_once_one_call_per_episode():
    eps = _episodes([10, 10, 10, 10], lazy=True)
    data = EpisodeDataset(eps, n_obs=2)
    readers = [e.observations["cam"] for e in eps]
    assert all(r.calls == 0 for r in readers)  # building the dataset decodes nothing
    # episode 0 steps 2, 3 (twice) -> frames 1, 2, 3; episode 2 step 20 (its first) -> frame 0 only
    data.batch(torch.tensor([2, 3, 3, 20]))
    assert [r.decoded for r in readers] == [3, 0, 1, 0]
    assert [r.calls for r in readers] == [1, 0, 1, 0]


def test_vector_keys_are_gathered_exactly_as_without_cameras():
    with_cam = EpisodeDataset(_episodes([4, 6], lazy=True), n_obs=2, horizon=3)
    state_only = EpisodeDataset([Episode(observations={"state": e.observations["state"]}, actions=e.actions)
                                 for e in _episodes([4, 6], lazy=False)], n_obs=2, horizon=3)
    assert not state_only.has_images and state_only.obs.keys() == {"state"}
    idx = torch.tensor([0, 5, 9, 3])
    a, b = with_cam.batch(idx), state_only.batch(idx)
    for x, y in ((a.obs["state"], b.obs["state"]), (a.action, b.action), (a.action_pad, b.action_pad),
                 (a.weight, b.weight)):
        assert torch.equal(x, y)


def test_state_only_batches_match_the_plain_tensor_gather():
    """The gather for vector keys, written out as it was before cameras, against the dataset's."""
    rng = np.random.default_rng(0)
    eps = [Episode(observations={"state": rng.normal(size=(T + 1, 4)).astype(np.float32)},
                   actions=rng.normal(size=(T, 2)).astype(np.float32)) for T in (7, 3, 9)]
    data = EpisodeDataset(eps, n_obs=3, horizon=4)
    obs = torch.as_tensor(np.concatenate([e.step_observations()["state"] for e in eps]))
    act = torch.as_tensor(np.concatenate([e.targets for e in eps]))
    starts = np.concatenate([[0], np.cumsum([len(e) for e in eps])[:-1]])
    ep_start = torch.as_tensor(np.repeat(starts, [len(e) for e in eps]))
    ep_end = ep_start + torch.as_tensor(np.repeat([len(e) for e in eps], [len(e) for e in eps]))
    g = torch.Generator().manual_seed(0)
    for _ in range(5):
        idx = torch.randint(len(data), (8,), generator=g)
        oi = torch.maximum(idx[:, None] + torch.arange(-2, 1), ep_start[idx][:, None])
        ai = idx[:, None] + torch.arange(4)
        b = data.batch(idx)
        assert torch.equal(b.obs["state"], obs[oi])
        assert torch.equal(b.action, act[torch.minimum(ai, ep_end[idx][:, None] - 1)])
        assert torch.equal(b.action_pad, ai >= ep_end[idx][:, None])


def test_the_spec_decides_which_keys_are_cameras():
    eps = [Episode(observations={"cam": _frames(0, 4)}, actions=np.zeros((4, 1), np.float32))]
    as_vector = Spec({"cam": ArraySpec((H, W, 3), dtype="float32")}, ArraySpec((1,)))
    assert EpisodeDataset(eps, spec=as_vector).image_keys == []
    assert EpisodeDataset(eps, spec=Spec({"cam": ArraySpec((H, W, 3), dtype="uint8")}, ArraySpec((1,)))).image_keys == ["cam"]


def test_a_camera_left_out_is_never_decoded():
    eps = _episodes([5, 5], lazy=True)
    data = EpisodeDataset(eps, cameras=[])
    b = data.batch(torch.tensor([0, 7]))
    assert list(b.obs) == ["state"] and not data.has_images
    assert all(e.observations["cam"].calls == 0 for e in eps)


def test_cameras_of_different_sizes_are_refused_naming_the_key():
    eps = [Episode(observations={"cam": _frames(0, 4)}, actions=np.zeros((4, 1), np.float32)),
           Episode(observations={"cam": np.zeros((4, H + 1, W, 3), np.uint8)}, actions=np.zeros((4, 1), np.float32))]
    with pytest.raises(ProtegeError, match=r"observations/cam.*expected frames \(T, 6, 5, 3\).*found shape \(4, 7, 5, 3\)"):
        EpisodeDataset(eps)
