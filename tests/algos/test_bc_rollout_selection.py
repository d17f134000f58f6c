"""Keeping the weights that succeed most often (--rollout-every), as robomimic keeps its best-rollout
checkpoint: rollouts are scored on seeds of their own, the kept step is the best-scoring rollout point,
and rolling out leaves training itself untouched."""

import json

import pytest

from protege.algos.bc import TrainConfig, train_bc
from protege.algos.selection import selection_seeds
from protege.data import Dataset, load_dataset
from protege.errors import ProtegeError
from protege.evaluation.rollout import eval_seeds, record_seeds
from protege.recording import record_expert


@pytest.fixture(scope="module")
def pendulum(tmp_path_factory):
    path = tmp_path_factory.mktemp("pendulum") / "ds"
    record_expert("pendulum", 8, path, seed=0, noise=0.1)
    return load_dataset(path)


def _config(**kw):
    # obs_noise draws from torch's global generator while training, which each rollout episode reseeds:
    # the run without rollouts matches only if the scorer leaves that generator where it was
    return TrainConfig(steps=300, eval_every=50, batch_size=64, seed=0, threads=1, **kw)


def test_the_kept_step_is_the_best_rollout_point_and_training_is_unchanged(pendulum, tmp_path):
    mlp = {"obs_noise": 0.05}
    plain = train_bc(pendulum, "mlp", mlp, _config())
    rolled = train_bc(pendulum, "mlp", mlp, _config(rollout_every=100, rollout_episodes=4), out=tmp_path / "ck")

    points = [h for h in rolled.history if "rollout_success" in h]
    assert [h["step"] for h in points] == [100, 200, 300]
    assert [h["train_loss"] for h in rolled.history] == [h["train_loss"] for h in plain.history]
    assert [h["val_loss"] for h in rolled.history] == [h["val_loss"] for h in plain.history]

    best = max(points, key=lambda h: (h["rollout_success"], -h["val_loss"]))
    assert rolled.best_step == best["step"] and rolled.best_rollout_success == best["rollout_success"]
    assert plain.best_rollout_success is None
    saved = json.loads((tmp_path / "ck" / "config.json").read_text())
    assert saved["best_step"] == best["step"] and saved["best_rollout_success"] == best["rollout_success"]
    assert json.loads((tmp_path / "ck" / "history.json").read_text()) == rolled.history


def test_rollout_seeds_are_never_recording_or_evaluation_seeds():
    chosen = set(selection_seeds(100))
    assert not chosen & set(record_seeds(0, 100_000))
    for base in range(20):
        assert not chosen & set(eval_seeds(base, 1_000))


def test_rollouts_need_a_task_and_a_matching_period(pendulum):
    untagged = Dataset(pendulum.episodes, pendulum.spec, {}, None)
    with pytest.raises(ProtegeError, match="rollout_task.*expected a task to roll out in"):
        train_bc(untagged, "mlp", None, _config(rollout_every=100))
    with pytest.raises(ProtegeError, match=r"rollout_every.*expected 0 or a multiple of eval_every \(50\), found 70"):
        _config(rollout_every=70)
    with pytest.raises(ProtegeError, match="does not fit --rollout-task lane"):
        train_bc(pendulum, "mlp", None, _config(rollout_every=100, rollout_task="lane"))
