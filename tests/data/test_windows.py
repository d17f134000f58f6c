import numpy as np
import torch

from protege.data import Episode, EpisodeDataset, Normalizer, split_by_episode


def _ep(T, start):
    return Episode(observations={"state": np.arange(start, start + T, dtype=np.float32)[:, None]},
                   actions=np.arange(start, start + T, dtype=np.float32)[:, None])


def test_history_clamps_at_episode_start_and_actions_pad_at_end():
    data = EpisodeDataset([_ep(4, 0), _ep(3, 100)], n_obs=3, horizon=3)
    b = data.batch(torch.tensor([0, 3, 4, 6]))
    assert b.obs["state"][:, :, 0].tolist() == [[0, 0, 0], [1, 2, 3], [100, 100, 100], [100, 101, 102]]
    assert b.action[:, :, 0].tolist() == [[0, 1, 2], [3, 3, 3], [100, 101, 102], [102, 102, 102]]
    assert b.action_pad.tolist() == [[False] * 3, [False, True, True], [False] * 3, [False, True, True]]


def test_split_by_episode_is_disjoint_and_deterministic():
    eps = [_ep(5, 10 * i) for i in range(10)]
    train, val = split_by_episode(eps, 0.2, seed=1)
    assert len(train) == 8 and len(val) == 2
    assert not {id(e) for e in train} & {id(e) for e in val}
    assert [id(e) for e in split_by_episode(eps, 0.2, seed=1)[1]] == [id(e) for e in val]


def test_normalizer_inverse_and_constant_dims():
    x = torch.randn(100, 3) * torch.tensor([1.0, 5.0, 0.0]) + 2
    stats = {"mean": x.mean(0).tolist(), "std": x.std(0).tolist(), "min": x.min(0).values.tolist(),
             "max": x.max(0).values.tolist()}
    for mode in ("mean_std", "min_max"):
        n = Normalizer(3, mode, stats)
        y = n(x)
        assert torch.isfinite(y).all()
        torch.testing.assert_close(n.inverse(y), x)
    mm = Normalizer(3, "min_max", stats)(x)
    assert mm[:, :2].min() >= -1 - 1e-6 and mm[:, :2].max() <= 1 + 1e-6


def test_split_honours_a_dataset_s_own_train_valid_masks():
    from protege.data import Dataset
    from protege.specs import ArraySpec, Spec

    eps = [Episode(observations={"state": np.zeros((3, 1))}, actions=np.zeros((3, 1)),
                   info={"robomimic_demo": f"demo_{i}"}) for i in range(5)]
    ds = Dataset(eps, Spec({"state": ArraySpec((1,))}, ArraySpec((1,))),
                 meta={"splits": {"train": ["demo_0", "demo_2", "demo_3"], "valid": ["demo_1", "demo_4"]}})
    train, val = split_by_episode(ds, 0.1, seed=0)
    assert [e.info["robomimic_demo"] for e in train] == ["demo_0", "demo_2", "demo_3"]
    assert [e.info["robomimic_demo"] for e in val] == ["demo_1", "demo_4"]
