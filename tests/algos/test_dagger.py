"""The DAgger loop: labels are the expert's, aggregation keeps earlier rounds, runs resume, DAgger beats BC."""

import json

import numpy as np
import pytest

from protege.algos.bc import TrainConfig, train_bc
from protege.algos.dagger import DaggerConfig, collect_episode, run_dagger
from protege.algos.dagger.run_folder import round_accounting, training_segments
from protege.algos.ensemble import Learner
from protege.algos.dagger.gates import DaggerGate, HGGate, SimulatedSupervisor
from protege.checkpoint import PolicyActor
from protege.data import SOURCE_EXPERT, SOURCE_POLICY, load_dataset
from protege.envs import get_task
from protege.errors import ProtegeError
from protege.evaluation.evaluate import evaluate
from protege.policies import MLPConfig, make_policy
from protege.recording import record_expert

SMALL = MLPConfig(hidden_dims=(32, 32))
TINY_TRAIN = TrainConfig(steps=40, eval_every=20)


def _untrained_learner(task):
    import torch

    torch.manual_seed(0)
    return Learner([make_policy("mlp", SMALL, task.spec, None)])


@pytest.mark.parametrize("gate_name", ["dagger", "hg"])
def test_labels_are_the_experts_action_never_the_executed_one(gate_name):
    task = get_task("pendulum")
    expert = task.make_expert()
    learner = _untrained_learner(task)
    if gate_name == "dagger":
        gate = DaggerGate("constant", beta0=0.5)
        gate.start_round(1, learner, [])
    else:
        gate = HGGate(SimulatedSupervisor(expert, np.array([2.0]), take_over=0.3, hand_back=0.1, min_control=3))
    acting = getattr(gate, "supervisor", expert)
    env = task.make_env()
    ep = collect_episode(task, env, learner, acting, gate, seed=5)
    env.close()
    states = ep.step_observations()["state"]
    experts = np.stack([expert.act({"state": s}) for s in states])
    mask = ep.label_mask
    by_expert, by_policy = ep.source == SOURCE_EXPERT, ep.source == SOURCE_POLICY
    assert by_expert.any() and by_policy.any()
    np.testing.assert_allclose(ep.labels[mask], experts[mask], atol=1e-6)   # every label is the expert's
    np.testing.assert_allclose(ep.actions[by_expert], experts[by_expert], atol=1e-6)
    # where the learner acted, what was executed is not what is stored as the target
    assert np.abs(ep.actions[by_policy & mask] - ep.labels[by_policy & mask]).max() > 0.1 if gate_name == "dagger" \
        else not mask[by_policy].any()
    if gate_name == "dagger":
        assert mask.all() and abs(by_expert.mean() - 0.5) < 0.1
    else:  # hg: only the supervisor's steps are labelled, and they are interventions
        assert np.array_equal(mask, by_expert) and np.array_equal(ep.intervened, by_expert)
    # training sees labels only: segments' actions are the stored labels
    segments = training_segments([ep])
    assert sum(len(s) for s in segments) == mask.sum()
    np.testing.assert_allclose(np.concatenate([s.actions for s in segments]), ep.labels[mask])


class InterruptingExpert:
    """The pendulum expert that raises KeyboardInterrupt on its `limit`-th query (a killed run)."""

    def __init__(self, limit):
        self.expert, self.limit, self.calls = get_task("pendulum").make_expert(), limit, 0

    def reset(self):
        self.expert.reset()

    def act(self, obs):
        self.calls += 1
        if self.calls == self.limit:
            raise KeyboardInterrupt
        return self.expert.act(obs)


def _config(**kw):
    return DaggerConfig(**{**dict(task="pendulum", gate="dagger", rounds=2, episodes_per_round=2, demos=1,
                                  eval_episodes=2, beta_schedule="constant", beta0=0.5), **kw})


def test_aggregation_keeps_earlier_rounds_and_an_interrupted_run_resumes(tmp_path):
    # Each pendulum episode is 200 steps and DAgger asks on every one: demos 1-200, round 1 201-600,
    # round 2 601-1000. Interrupting at query 850 leaves one finished episode of round 2 on disk.
    cfg = _config()
    with pytest.raises(KeyboardInterrupt):
        run_dagger(cfg, tmp_path / "run", train=TINY_TRAIN, policy_config=SMALL, expert=InterruptingExpert(850))
    records = json.loads((tmp_path / "run" / "rounds.json").read_text())
    assert [r["round"] for r in records] == [0, 1]
    before = {p.name: p.read_bytes() for p in (tmp_path / "run" / "data" / "episodes").glob("*.npz")}
    assert len(before) == 1 + 2 + 1

    resumed = run_dagger(cfg, tmp_path / "run", train=TINY_TRAIN, policy_config=SMALL)
    after = {p.name: p.read_bytes() for p in (tmp_path / "run" / "data" / "episodes").glob("*.npz")}
    assert all(after[name] == data for name, data in before.items())  # nothing collected earlier is lost
    ds = load_dataset(tmp_path / "run" / "data")
    rounds = [e.info["round"] for e in ds.episodes]
    assert rounds == [0, 1, 1, 2, 2]
    seeds = [e.info["seed"] for e in ds.episodes]
    assert len(set(seeds)) == len(seeds)
    assert [r["round"] for r in resumed.records] == [0, 1, 2]
    assert resumed.records[2]["total_labels"] == ds.num_labels == 1000
    assert resumed.records[2]["total_labels"] == sum(r["expert_labels"] for r in resumed.records)

    # the same run, never interrupted, collects and counts exactly the same
    straight = run_dagger(cfg, tmp_path / "straight", train=TINY_TRAIN, policy_config=SMALL)
    keys = ("expert_labels", "expert_steps", "context_switches", "env_steps", "successes")
    assert [{k: r[k] for k in keys} for r in straight.records] == [{k: r[k] for k in keys} for r in resumed.records]


def test_a_run_resumes_only_with_the_same_configuration(tmp_path):
    cfg = _config(rounds=0)
    run_dagger(cfg, tmp_path / "run", train=TINY_TRAIN, policy_config=SMALL)
    with pytest.raises(ProtegeError, match="episodes_per_round"):
        run_dagger(_config(rounds=0, episodes_per_round=3), tmp_path / "run", train=TINY_TRAIN, policy_config=SMALL)
    with pytest.raises(ProtegeError, match="existing DAgger run"):
        run_dagger(cfg, tmp_path / "run", train=TINY_TRAIN, policy_config=SMALL, resume=False)


def test_a_run_from_before_an_option_existed_still_resumes(tmp_path):
    from protege.algos.dagger.run_folder import RunFolder

    RunFolder(tmp_path / "run", {"gate": "hg", "rounds": 1})          # written by an older protege
    RunFolder(tmp_path / "run", {"gate": "hg", "rounds": 1, "max_control": -1})
    with pytest.raises(ProtegeError, match="gate"):
        RunFolder(tmp_path / "run", {"gate": "dagger", "rounds": 1, "max_control": -1})


def test_round_accounting_counts_interventions_and_switches(make_episode):
    src = np.array([1, 1, 0, 0, 1, 0, 1, 1], np.uint8)
    ep = make_episode(T=8, act_dim=2, labels=np.ones((8, 2)), label_mask=src == 0, source=src, intervened=src == 0)
    acc = round_accounting([ep])
    assert (acc["expert_labels"], acc["interventions"], acc["expert_steps"], acc["context_switches"]) == (3, 2, 3, 4)


def test_dagger_beats_bc_with_the_same_number_of_expert_labels(tmp_path):
    """Pendulum swing-up, 1000 expert labels each: BC on 5 clean demonstrations against DAgger from 2
    demonstrations plus one round of 3 episodes (beta 0.5, every visited state labelled). Same head (the
    default mlp), same training, same 20 held-out evaluation episodes."""
    task = get_task("pendulum")
    train = TrainConfig(steps=300, eval_every=100, seed=0)
    cfg = _config(rounds=1, episodes_per_round=3, demos=2, eval_episodes=20, beta0=0.5)
    dagger = run_dagger(cfg, tmp_path / "dagger", train=train)
    assert dagger.records[-1]["total_labels"] == 1000

    record_expert("pendulum", 5, tmp_path / "bc_data", seed=0)
    ds = load_dataset(tmp_path / "bc_data")
    assert ds.num_labels == 1000
    bc = train_bc(ds, "mlp", None, train)
    bc_eval = evaluate(task, lambda: PolicyActor(bc.policy), episodes=20, seed=0).summary
    dagger_rate = dagger.records[-1]["success_rate"]
    # Measured over training seeds 0, 1, 2 x threads 1 and 2 (identical for both thread counts): DAgger
    # 1.00 / 0.95 / 0.75 against BC 0.55 / 0.65 / 0.60, gaps 0.45 / 0.30 / 0.15. The bar sits below the
    # smallest gap so it holds on any of those seeds, not only on the one this test uses.
    assert dagger_rate >= bc_eval.success_rate + 0.10, (dagger_rate, bc_eval)


def _constant_dataset(make_episode):
    from protege.data import Dataset
    from protege.specs import ArraySpec, Spec

    obs = {"state": np.zeros((20, 3), np.float32)}
    eps = [make_episode(T=20, act_dim=1, observations=obs, actions=np.full((20, 1), a, np.float32),
                        intervened=np.full(20, a > 0)) for a in (0.5, -0.5)]
    return Dataset(eps, Spec({"state": ArraySpec((3,))}, ArraySpec((1,), low=[-1.0], high=[1.0])))


def test_intervention_weighted_regression_pulls_towards_interventions(make_episode):
    """Two episodes disagree on the same state; weighting the intervention 9:1 moves the fit to +0.4."""
    from protege.algos.dagger.run_folder import iwr_weights

    ds = _constant_dataset(make_episode)
    cfg = TrainConfig(steps=300, eval_every=100, val_fraction=0.0, lr=3e-3)
    plain = train_bc(ds, "mlp", SMALL, cfg)
    weighted = train_bc(ds, "mlp", SMALL, cfg, sample_weights=iwr_weights(9.0))
    act = lambda p: float(PolicyActor(p.policy).act({"state": np.zeros(3, np.float32)})[0])  # noqa: E731
    assert abs(act(plain)) < 0.1 and abs(act(weighted) - 0.4) < 0.1


def test_warm_start_begins_from_the_given_weights(make_episode):
    ds = _constant_dataset(make_episode)
    first = train_bc(ds, "mlp", SMALL, TrainConfig(steps=100, eval_every=50, val_fraction=0.0, lr=3e-3))
    cont = train_bc(ds, "mlp", SMALL, TrainConfig(steps=1, eval_every=1, val_fraction=0.0, lr=1e-12, seed=5),
                    init_policy=first.policy)
    fresh = train_bc(ds, "mlp", SMALL, TrainConfig(steps=1, eval_every=1, val_fraction=0.0, lr=1e-12, seed=5))
    a, b, c = (p.policy.state_dict()["net.0.weight"] for p in (first, cont, fresh))
    assert np.allclose(a.numpy(), b.numpy(), atol=1e-6) and not np.allclose(a.numpy(), c.numpy(), atol=1e-3)
