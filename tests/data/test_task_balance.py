"""Task tags: balanced sampling probabilities and per-task validation loss in training."""

import numpy as np
import pytest

from protege.algos.bc import TrainConfig, train_bc
from protege.data.episode import Episode
from protege.data.native import Dataset
from protege.data.tasks import group_by_task, step_probabilities, tasks_of
from protege.errors import ProtegeError
from protege.specs import ArraySpec, Spec


def _ep(task, T):
    return Episode(observations={"state": np.zeros((T, 2), np.float32)}, actions=np.zeros((T, 1), np.float32),
                   info={"task": task})


def test_each_task_drawn_equally_often_whatever_its_length():
    eps = [_ep("a", 10), _ep("a", 30), _ep("b", 5)]
    p = step_probabilities(eps)
    assert p.shape == (45,) and np.isclose(p.sum(), 1)
    assert np.isclose(p[:40].sum(), 0.5) and np.isclose(p[40:].sum(), 0.5)
    assert np.allclose(p[:40], p[0])  # steps within a task equally likely
    w = step_probabilities(eps, {"b": 3.0})
    assert np.isclose(w[40:].sum(), 0.75)
    assert tasks_of(eps) == ["a", "b"] and [len(v) for v in group_by_task(eps).values()] == [2, 1]
    with pytest.raises(ProtegeError, match="task_weights.c"):
        step_probabilities(eps, {"c": 1.0})


def test_balanced_training_logs_a_validation_loss_per_task():
    rng = np.random.default_rng(0)
    eps = []
    for i in range(8):
        for task, T, sign in (("a", 40, 1.0), ("b", 8, -1.0)):
            obs = rng.normal(size=(T, 2)).astype(np.float32)
            eps.append(Episode(observations={"state": obs}, actions=sign * obs[:, :1], info={"task": task, "seed": i}))
    spec = Spec(observation={"state": ArraySpec((2,))}, action=ArraySpec((1,)), fps=10.0)
    res = train_bc(Dataset(eps, spec), "mlp", {"hidden_dims": (16,)},
                   TrainConfig(steps=20, eval_every=10, batch_size=32, val_fraction=0.5, threads=1, balance_tasks=True))
    last = res.history[-1]
    assert {"val_loss/a", "val_loss/b"} <= set(last)
    lo, hi = sorted((last["val_loss/a"], last["val_loss/b"]))
    assert lo <= last["val_loss"] <= hi  # the overall loss is their step-weighted mean
