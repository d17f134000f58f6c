import numpy as np

from protege.data import array_stats, compute_stats


def test_array_stats_is_per_dimension_over_samples():
    x = np.arange(12, dtype=np.float32).reshape(4, 3)
    s = array_stats(x)
    assert s == {"mean": [4.5, 5.5, 6.5], "std": list(np.arange(12.0).reshape(4, 3).std(0)),
                 "min": [0.0, 1.0, 2.0], "max": [9.0, 10.0, 11.0]}
    assert array_stats(np.zeros((5, 2, 2)))["mean"] == [0.0] * 4  # per-step arrays are flattened


def test_compute_stats_uses_the_one_function(make_episode):
    eps = [make_episode(T=7, seed=i) for i in range(2)]
    stats = compute_stats(eps)
    assert stats["observation.state"] == array_stats(np.concatenate([e.observations["state"] for e in eps]))
    assert stats["action"] == array_stats(np.concatenate([e.actions for e in eps]))
