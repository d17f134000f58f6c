"""DART: rounds of noisy expert recording at the learner's measured error, every step labelled by the expert."""

import dataclasses
import json

import numpy as np
import pytest

from protege.algos.bc import TrainConfig, train_bc
from protege.algos.dart import DartConfig, learner_error, round_sizes, run_dart
from protege.checkpoint import PolicyActor
from protege.data import load_dataset
from protege.errors import ProtegeError
from protege.recording import record_expert


def test_episodes_split_evenly_over_rounds():
    assert round_sizes(10, 2) == [5, 5]
    assert round_sizes(10, 3) == [4, 3, 3]
    assert round_sizes(1, 1) == [1]
    with pytest.raises(ProtegeError, match="field 'rounds': expected at most --episodes \\(3\\), found 4"):
        DartConfig(episodes=3, rounds=4)


def test_learner_error_is_the_rms_gap_to_the_labels_in_half_ranges(tmp_path):
    record_expert("pendulum", 3, tmp_path / "ds", seed=0)
    ds = load_dataset(tmp_path / "ds")
    policy = train_bc(ds, "mlp", {"hidden_dims": (16,)}, TrainConfig(steps=20, eval_every=10, threads=1)).policy
    actor = PolicyActor(policy)
    own = []
    for ep in ds.episodes:  # the policy's own actions along each recorded episode
        actor.reset()
        own.append(np.stack([actor.act({"state": ep.observations["state"][t]}) for t in range(len(ep.actions))]))
    half = (np.asarray(ds.spec.action.high) - np.asarray(ds.spec.action.low)) / 2
    relabel = [dataclasses.replace(ep, labels=(a + 0.2 * half).astype(np.float32), label_mask=None)
               for ep, a in zip(ds.episodes, own)]
    assert learner_error(policy, relabel, ds.spec) == pytest.approx(0.2, rel=1e-4)
    exact = [dataclasses.replace(ep, labels=a.astype(np.float32), label_mask=None) for ep, a in zip(ds.episodes, own)]
    assert learner_error(policy, exact, ds.spec) == pytest.approx(0.0, abs=1e-6)


def test_second_round_records_with_the_first_learners_error(tmp_path):
    config = DartConfig(episodes=6, rounds=2, alpha=0.5)
    train = TrainConfig(steps=100, eval_every=50, threads=1, val_fraction=0.34)
    result = run_dart("pendulum", tmp_path / "run", config, "mlp", {"hidden_dims": (32,)}, train)
    first, second = result.rounds
    assert (first.noise, first.episodes, second.episodes) == (0.0, 3, 3)
    assert first.error_on == "held-out" and first.learner_error > 0
    assert second.noise == pytest.approx(min(0.5, 0.5 * first.learner_error))
    recorded = load_dataset(tmp_path / "run" / "round_1" / "data")
    assert recorded.meta["provenance"]["noise"] == pytest.approx(second.noise)
    assert all(ep.labels is not None and not np.allclose(ep.labels, ep.actions) for ep in recorded.episodes)
    assert result.labelled_steps == first.labelled_steps + second.labelled_steps == 6 * 200
    trained_on = json.loads((tmp_path / "run" / "round_1" / "checkpoint" / "config.json").read_text())
    assert trained_on["dataset"]["episodes"] == 6
    assert sorted(trained_on["dataset"]["episode_seeds"]) == [0, 1, 2, 10000, 10001, 10002]

    again = run_dart("pendulum", tmp_path / "run", config, "mlp", {"hidden_dims": (32,)}, train)  # resumes: done
    assert [dataclasses.asdict(r) for r in again.rounds] == [dataclasses.asdict(r) for r in result.rounds]


def test_a_label_budget_cuts_the_round_that_crosses_it(tmp_path):
    """At equal expert labels: the budget of 3 plain demonstrations (600 pendulum steps) is spent exactly;
    the noisy round's episode that crosses it is cut, the rest never trained on, and later rounds skipped."""
    config = DartConfig(episodes=6, rounds=3, max_labels=500)
    train = TrainConfig(steps=50, eval_every=50, threads=1)
    result = run_dart("pendulum", tmp_path / "run", config, "mlp", {"hidden_dims": (16,)}, train)
    assert [(r.episodes, r.labelled_steps, r.recorded_steps) for r in result.rounds] == [(2, 400, 400), (1, 100, 400)]
    assert result.labelled_steps == 500
    assert not (tmp_path / "run" / "round_2").exists()
    trained_on = json.loads((tmp_path / "run" / "round_1" / "checkpoint" / "config.json").read_text())
    assert trained_on["dataset"]["episodes"] == 3


def test_an_episode_cut_keeps_its_first_steps(make_episode):
    ep = make_episode(T=10, observations={"state": np.arange(33.0).reshape(11, 3)}, labels=np.ones((10, 2)),
                      rewards=np.arange(10.0), success=True)
    cut = ep.head(4)
    assert len(cut) == 4
    np.testing.assert_array_equal(cut.observations["state"], ep.observations["state"][:5])  # + the final one
    np.testing.assert_array_equal(cut.rewards, np.arange(4.0))
    assert cut.labels.shape == (4, 2) and not cut.success and cut.info["cut_at"] == 4
    assert ep.head(10) is ep
