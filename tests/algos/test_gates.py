"""Each gate's decision rule on hand-made inputs: beta mixing, hand-over, thresholds, calibration."""

import numpy as np
import pytest

from protege.algos.dagger.gates import (DaggerGate, EnsembleGate, HGGate, SimulatedSupervisor, StepView, ThriftyGate,
                                 action_deviation, beta_for_round, ensemble_disagreement)
from protege.errors import ProtegeError

HALF = np.ones(2)
OBS = {"state": np.zeros(3, np.float32)}


def view(policy_action, members=None, expert=None):
    policy_action = np.asarray(policy_action, np.float32)
    members = np.asarray(members if members is not None else [policy_action], np.float32)
    calls = []

    def ask():
        calls.append(1)
        return np.asarray(expert, np.float32)

    v = StepView(policy_action=policy_action, member_actions=members, expert_action=ask)
    v.calls = calls  # type: ignore[attr-defined]
    return v


def test_beta_schedules():
    assert [beta_for_round("constant", 0.4, 0.5, r, 5) for r in (1, 3)] == [0.4, 0.4]
    assert beta_for_round("linear", 1.0, 0.5, 1, 4) == 1.0 and beta_for_round("linear", 1.0, 0.5, 3, 4) == 0.5
    assert beta_for_round("exponential", 1.0, 0.5, 3, 5) == 0.25
    with pytest.raises(ProtegeError, match="beta schedule"):
        beta_for_round("cosine", 1.0, 0.5, 1, 5)


@pytest.mark.parametrize("beta", [0.0, 0.3, 1.0])
def test_dagger_gate_mixes_with_probability_beta_and_labels_every_step(beta):
    gate = DaggerGate("constant", beta0=beta)
    gate.start_round(1, None, [])
    decisions = []
    for seed in range(20):
        gate.reset(seed)
        decisions += [gate.decide(OBS, view([0, 0])) for _ in range(250)]
    frac = np.mean([d.expert_acts for d in decisions])
    assert abs(frac - beta) < 0.03
    assert all(d.label for d in decisions) and not any(d.intervened for d in decisions)


def test_dagger_gate_is_reproducible_per_episode_seed():
    gate = DaggerGate("constant", beta0=0.5)
    gate.reset(3)
    a = [gate.decide(OBS, view([0, 0])).expert_acts for _ in range(50)]
    gate.reset(3)
    assert a == [gate.decide(OBS, view([0, 0])).expert_acts for _ in range(50)]


class ConstantExpert:
    def __init__(self, action):
        self.action = np.asarray(action, np.float32)
        self.resets = 0

    def reset(self):
        self.resets += 1

    def act(self, obs):
        return self.action


def test_simulated_supervisor_takes_over_and_hands_back():
    sup = SimulatedSupervisor(ConstantExpert([0.0, 0.0]), HALF, take_over=0.3, hand_back=0.1, min_control=3)
    gate = HGGate(sup)
    gate.reset(0)
    near, mid, far = [0.05, 0.0], [0.2, 0.2], [0.5, 0.5]
    steps = [near, mid, far, near, near, mid, near, near, near]
    taken = [gate.decide(OBS, view(a)).expert_acts for a in steps]
    # mid (0.2) is inside the hysteresis band: no take-over from the learner, no hand-back either.
    assert taken == [False, False, True, True, True, True, False, False, False]
    # control is handed back only after min_control steps AND when the learner agrees (< hand_back)
    assert action_deviation(mid, [0, 0], HALF) > 0.1
    d = gate.decide(OBS, view(far))
    assert d.expert_acts and d.label and d.intervened
    assert np.array_equal(sup.act(OBS), [0.0, 0.0])


def test_simulated_supervisor_gives_up_after_max_control():
    sup = SimulatedSupervisor(ConstantExpert([0.0, 0.0]), HALF, take_over=0.3, hand_back=0.1, min_control=2,
                              max_control=4)
    gate = HGGate(sup)
    gate.reset(0)
    far = [0.5, 0.5]
    taken = [gate.decide(OBS, view(far)).expert_acts for _ in range(8)]
    # controls max_control = 4 steps in a row, then gives up for the rest of the episode although the
    # learner is still far off
    assert taken == [True, True, True, True, False, False, False, False]
    assert sup.gave_up
    gate.reset(1)  # a new episode: the supervisor watches again
    assert gate.decide(OBS, view(far)).expert_acts and not sup.gave_up
    # without max_control it never gives up
    patient = SimulatedSupervisor(ConstantExpert([0.0, 0.0]), HALF, take_over=0.3, hand_back=0.1, min_control=2)
    patient.reset()
    assert all(patient.wants_control(OBS, np.array(far)) for _ in range(50))


def test_hg_gate_sets_max_control_from_demonstration_lengths():
    class Ep:
        def __init__(self, n, rnd):
            self.n, self.info = n, {"round": rnd}

        def __len__(self):
            return self.n

    sup = SimulatedSupervisor(ConstantExpert([0.0, 0.0]), HALF, min_control=5)
    gate = HGGate(sup, max_control_from_demos=True)
    gate.start_round(1, None, [Ep(40, 0), Ep(61, 0), Ep(500, 1)])   # round-1 episodes do not count
    assert sup.max_control == 50 and gate.describe()["max_control"] == 50
    gate.start_round(1, None, [Ep(2, 0)])
    assert sup.max_control == 5                                       # never below min_control
    fixed = SimulatedSupervisor(ConstantExpert([0.0, 0.0]), HALF, max_control=30)
    HGGate(fixed).start_round(1, None, [Ep(40, 0)])
    assert fixed.max_control == 30


def test_hg_gate_accepts_any_supervisor():
    class Person:  # what a teleop device provides
        def reset(self): pass
        def act(self, obs): return np.ones(2, np.float32)
        def wants_control(self, obs, policy_action): return bool(policy_action[0] > 0.5)

    gate = HGGate(Person())
    gate.reset(0)
    assert gate.decide(OBS, view([0.9, 0])).expert_acts and not gate.decide(OBS, view([0.1, 0])).expert_acts


def test_ensemble_gate_asks_above_the_threshold_only():
    gate = EnsembleGate(HALF, size=3, threshold=0.01)
    agree = [[0.1, 0.1], [0.11, 0.1], [0.09, 0.1]]
    disagree = [[0.5, 0.1], [-0.5, 0.1], [0.0, 0.1]]
    assert ensemble_disagreement(np.array(agree), HALF) < 0.01 < ensemble_disagreement(np.array(disagree), HALF)
    assert not gate.decide(OBS, view([0.1, 0.1], agree)).expert_acts
    d = gate.decide(OBS, view([0.0, 0.1], disagree))
    assert d.expert_acts and d.label and d.intervened
    assert gate.calibration_episodes == 0  # a fixed threshold needs no calibration


def _members_with_spread(rng, n):
    spreads = rng.uniform(0, 1, n)
    return [np.stack([[s, 0.0], [-s, 0.0]]) for s in spreads]


@pytest.mark.parametrize("rate", [0.05, 0.2])
def test_ensemble_threshold_calibrates_to_the_target_rate(rate):
    rng = np.random.default_rng(0)
    gate = EnsembleGate(HALF, size=2, threshold=0.0, target_rate=rate)
    assert gate.calibration_episodes > 0
    for m in _members_with_spread(rng, 4000):
        gate.calibrate(OBS, view(m.mean(0), m))
    gate.end_calibration()
    asked = [gate.decide(OBS, view(m.mean(0), m)).expert_acts for m in _members_with_spread(rng, 4000)]
    assert abs(np.mean(asked) - rate) < 0.02


class FixedValue:
    def __init__(self):
        self.p = 1.0

    def predict(self, obs):
        return self.p


def test_thrifty_calibrates_both_thresholds_and_fires_near_the_target_rate():
    rng = np.random.default_rng(1)
    gate = ThriftyGate(HALF, size=2, target_rate=0.1)
    gate.value = FixedValue()
    samples = [(m, rng.uniform()) for m in _members_with_spread(rng, 4000)]
    for m, p in samples:
        gate.value.p = p
        gate.calibrate(OBS, view(m.mean(0), m))
    gate.end_calibration()
    fired = []
    for m, p in samples:
        gate.reset(0)  # one step per "episode": measures the take-over rule alone
        gate.value.p = p
        fired.append(gate.decide(OBS, view(m.mean(0), m, expert=[0, 0])).expert_acts)
    # novelty and risk each fire on target_rate / 2 of the states; their union on at most target_rate
    assert 0.05 <= np.mean(fired) <= 0.1 + 0.01


def test_thrifty_hands_back_when_the_learner_agrees_and_risk_is_low():
    gate = ThriftyGate(HALF, size=2, target_rate=0.1, hand_back=0.1, min_control=2)
    gate.value = FixedValue()
    gate.novelty_threshold, gate.risk_threshold = 0.05, 0.5
    gate.reset(0)
    calm = [[0.0, 0.0], [0.0, 0.0]]
    wild = [[0.8, 0.0], [-0.8, 0.0]]
    assert not gate.decide(OBS, view([0, 0], calm, expert=[0, 0])).expert_acts
    assert gate.decide(OBS, view([0, 0], wild, expert=[0, 0])).expert_acts          # novelty: take over
    v = view([0, 0], calm, expert=[0, 0])
    assert gate.decide(OBS, v).expert_acts and v.calls                              # held (min_control)
    assert gate.decide(OBS, view([0, 0], calm, expert=[0, 0])).expert_acts          # agrees: hand back after
    assert not gate.decide(OBS, view([0, 0], calm, expert=[0, 0])).expert_acts
    gate.value.p = 0.2  # risk 0.8 > 0.5: take over, and no hand-back while the risk stays high
    assert all(gate.decide(OBS, view([0, 0], calm, expert=[0, 0])).expert_acts for _ in range(5))


def test_gate_parameters_are_checked():
    with pytest.raises(ProtegeError, match="--target-rate"):
        ThriftyGate(HALF, target_rate=1.5)
    with pytest.raises(ProtegeError, match="--ensemble-size"):
        EnsembleGate(HALF, size=1)
    with pytest.raises(ProtegeError, match="--hand-back"):
        SimulatedSupervisor(ConstantExpert([0, 0]), HALF, take_over=0.1, hand_back=0.2)
    with pytest.raises(ProtegeError, match="--max-control"):
        SimulatedSupervisor(ConstantExpert([0, 0]), HALF, min_control=5, max_control=3)
