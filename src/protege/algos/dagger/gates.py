"""Gates of the DAgger family: on every step, who acts and whether the expert is asked for a label.

The interactive loop (`algos/dagger.py`) is the same for every variant; only the gate differs:

- `DaggerGate`: the expert's action is executed with probability beta (a per-round schedule), the
  learner's otherwise; every step is labelled.
- `HGGate` (HG-DAgger): a `Supervisor` watches the learner and takes over when it judges the robot is
  going wrong, then hands back; only the steps it controls are labelled (interventions).
- `EnsembleGate` (EnsembleDAgger / SafeDAgger): the expert acts and labels when the learner ensemble
  disagrees (or, with `safe`, when a classifier fitted on past labels predicts a large deviation).
- `ThriftyGate` (ThriftyDAgger): the expert takes over when novelty (ensemble disagreement) or risk (a
  learned estimate that the task fails from here) is high, and hands back once the learner agrees and
  the risk is low again; the two thresholds come from a target intervention rate.

Deviations and disagreements are measured in normalised action units: each action dimension divided by
the half-width of the action range, so 1.0 means "half the range". A gate never stores data itself: the
loop stores the expert's action as the label on every step where the expert was asked, and counts it.
This module knows nothing about environments or training loops; gates that need fitted models get them
from `start_round` (see `scalar_model.py`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Protocol

import numpy as np

from protege.actor import Observation, Supervisor
from protege.algos.dagger.run_folder import episode_round
from protege.errors import ProtegeError

BETA_SCHEDULES = ("constant", "linear", "exponential")


@dataclass
class Decision:
    """What a gate decided for one step.

    expert_acts: the expert's action is executed (and therefore labelled).
    label: the expert is asked for its action on this step (stored as the label, counted).
    intervened: the step is part of a take-over (hg, ensemble, thrifty); beta mixing is not one.
    """

    expert_acts: bool
    label: bool
    intervened: bool = False


@dataclass
class StepView:
    """What a gate sees on one step besides the observation.

    policy_action: (A,) the learner's action (the ensemble mean), env units.
    member_actions: (K, A) each ensemble member's action (K = 1 for a single learner).
    expert_action: asks the expert for its action (A,); calling it makes the step a labelled one.
    t: step index within the episode.
    """

    policy_action: np.ndarray
    member_actions: np.ndarray
    expert_action: Callable[[], np.ndarray]
    t: int = 0


class Gate(Protocol):
    name: str
    ensemble_size: int
    """Learners the loop trains and hands to `start_round` (1 = a single policy)."""
    calibration_episodes: int
    """Learner-only episodes (no expert, nothing stored) the loop runs before each round so the gate can
    set thresholds on the learner's own state distribution; 0 = none."""

    def start_round(self, round_index: int, learner: Any, episodes: list) -> None:
        """A new round (1-based) with the freshly trained `learner`; `episodes` is all data so far."""

    def reset(self, seed: int) -> None:
        """A new episode (its seed makes random decisions reproducible)."""

    def decide(self, obs: Observation, step: StepView) -> Decision: ...

    def calibrate(self, obs: Observation, step: StepView) -> None:
        """Called on each step of the calibration episodes (the learner acts; nothing is asked)."""

    def end_calibration(self) -> None: ...

    def describe(self) -> dict[str, float]:
        """The gate's current parameters (beta, thresholds) for the per-round record."""


def action_deviation(a: np.ndarray, b: np.ndarray, half_range: np.ndarray) -> float:
    """RMS over action dimensions of (a - b) / half_range: 0 = same action, 1 = off by half the range."""
    d = (np.asarray(a, np.float64) - np.asarray(b, np.float64)) / half_range
    return float(np.sqrt(np.mean(d * d)))


def ensemble_disagreement(member_actions: np.ndarray, half_range: np.ndarray) -> float:
    """Variance across members (K, A) of the normalised actions, averaged over dimensions (0 when K = 1)."""
    m = np.asarray(member_actions, np.float64) / half_range
    return float(m.var(axis=0).mean()) if m.shape[0] > 1 else 0.0


def beta_for_round(schedule: str, beta0: float, decay: float, round_index: int, rounds: int) -> float:
    """DAgger's mixing probability in round `round_index` (1-based) of `rounds`.

    constant: beta0.  linear: beta0 * (1 - (r - 1) / rounds), reaching beta0 / rounds in the last round.
    exponential: beta0 * decay ** (r - 1)  (Ross et al.'s beta_i = p^(i-1) with beta0 = 1).
    """
    r = max(1, round_index)
    if schedule == "constant":
        return beta0
    if schedule == "linear":
        return max(0.0, beta0 * (1.0 - (r - 1) / max(1, rounds)))
    if schedule == "exponential":
        return beta0 * decay ** (r - 1)
    raise ProtegeError(f"beta schedule: expected one of {list(BETA_SCHEDULES)}, found '{schedule}'")


class _NoCalibration:
    calibration_episodes = 0

    def calibrate(self, obs: Observation, step: StepView) -> None:
        pass

    def end_calibration(self) -> None:
        pass


class DaggerGate(_NoCalibration):
    """DAgger: execute the expert with probability beta, label every step."""

    name = "dagger"
    ensemble_size = 1

    def __init__(self, schedule: str = "exponential", beta0: float = 0.5, decay: float = 0.5, rounds: int = 5):
        if not 0 <= beta0 <= 1:
            raise ProtegeError(f"--beta0: expected in [0, 1], found {beta0}")
        beta_for_round(schedule, beta0, decay, 1, rounds)  # refuses an unknown schedule early
        self.schedule, self.beta0, self.decay, self.rounds = schedule, beta0, decay, rounds
        self.beta = beta0
        self._rng = np.random.default_rng(0)

    def start_round(self, round_index: int, learner: Any, episodes: list) -> None:
        self.beta = beta_for_round(self.schedule, self.beta0, self.decay, round_index, self.rounds)

    def reset(self, seed: int) -> None:
        self._rng = np.random.default_rng([seed, 7])

    def decide(self, obs: Observation, step: StepView) -> Decision:
        return Decision(expert_acts=bool(self._rng.random() < self.beta), label=True)

    def describe(self) -> dict[str, float]:
        return {"beta": self.beta}


class SimulatedSupervisor:
    """A scripted expert playing HG-DAgger's human: it takes over when the learner's action departs from
    its own by more than `take_over`, and hands back once it has held control for `min_control` steps
    and the learner's action is within `hand_back` of its own (normalised action units).

    A scripted expert is a poor rescuer from some states the learner gets into (Meta-World's pick-place
    expert, for one, pushes down forever with its gripper closed above a dropped puck). With
    `max_control` > 0 the supervisor gives up on an episode after holding control that many steps in a
    row, as a person would stop correcting a run they cannot rescue: it hands back and does not take over
    again until the next episode, so a stuck expert does not pile up labels of its own failure.

    It satisfies `protege.actor.Supervisor`. Watching costs the expert a query every step, as it costs a
    person attention; only the steps it controls are labels. The expert must be a function of the
    observation (Meta-World's and pendulum's scripted experts are).
    """

    def __init__(self, expert: Any, half_range: np.ndarray, take_over: float = 0.3, hand_back: float = 0.1,
                 min_control: int = 5, max_control: int = 0):
        if not 0 < hand_back <= take_over:
            raise ProtegeError(f"--hand-back: expected in (0, take_over={take_over}], found {hand_back}")
        self.expert, self.half_range = expert, np.asarray(half_range, np.float64)
        if max_control < 0 or (max_control and max_control < min_control):
            raise ProtegeError(f"--max-control: expected 0 (never give up) or >= min_control={min_control}, "
                               f"found {max_control}")
        self.take_over, self.hand_back, self.min_control = take_over, hand_back, min_control
        self.max_control = max_control
        self.in_control, self._held, self.gave_up = False, 0, False
        self._last: tuple[int, np.ndarray] | None = None

    def reset(self) -> None:
        self.expert.reset()
        self.in_control, self._held, self._last, self.gave_up = False, 0, None, False

    def act(self, obs: Observation) -> np.ndarray:
        if self._last is not None and self._last[0] == id(obs):
            return self._last[1]
        return np.asarray(self.expert.act(obs), np.float32)

    def wants_control(self, obs: Observation, policy_action: np.ndarray) -> bool:
        action = np.asarray(self.expert.act(obs), np.float32)
        self._last = (id(obs), action)
        deviation = action_deviation(policy_action, action, self.half_range)
        if not self.in_control:
            if deviation > self.take_over and not self.gave_up:
                self.in_control, self._held = True, 0
        else:
            self._held += 1
            if self._held >= self.min_control and deviation < self.hand_back:
                self.in_control = False
            elif self.max_control and self._held >= self.max_control:
                self.in_control, self.gave_up = False, True
        return self.in_control


class HGGate(_NoCalibration):
    """HG-DAgger: the learner drives; the supervisor takes over and hands back; its steps are labelled.

    The loop executes (and labels) `supervisor.act(obs)` on the steps the supervisor controls, so a
    teleop device satisfying `Supervisor` plugs in unchanged.
    """

    name = "hg"
    ensemble_size = 1

    def __init__(self, supervisor: Supervisor, max_control_from_demos: bool = False):
        """max_control_from_demos: set a `SimulatedSupervisor`'s `max_control` to the mean length of the
        round-0 demonstrations (holding control for as long as a whole demonstration takes means stuck)."""
        self.supervisor = supervisor
        self.max_control_from_demos = max_control_from_demos

    def start_round(self, round_index: int, learner: Any, episodes: list) -> None:
        if self.max_control_from_demos and hasattr(self.supervisor, "max_control"):
            lengths = [len(e) for e in episodes if episode_round(e) == 0]
            if lengths:
                self.supervisor.max_control = max(int(self.supervisor.min_control), round(float(np.mean(lengths))))

    def reset(self, seed: int) -> None:
        self.supervisor.reset()

    def decide(self, obs: Observation, step: StepView) -> Decision:
        take = bool(self.supervisor.wants_control(obs, step.policy_action))
        return Decision(expert_acts=take, label=take, intervened=take)

    def describe(self) -> dict[str, float]:
        return {k: float(getattr(self.supervisor, k)) for k in ("take_over", "hand_back", "max_control")
                if hasattr(self.supervisor, k)}


def _quantile(values: list[float], q: float) -> float:
    return float(np.quantile(np.asarray(values, np.float64), q)) if values else float("inf")


class EnsembleGate:
    """EnsembleDAgger / SafeDAgger: the expert acts and labels where the learners disagree.

    threshold: disagreement (variance of normalised actions across members) above which the expert is
        asked; <= 0 sets it each round to the (1 - target_rate) quantile of the disagreement measured on
        `calibration_episodes` learner-only episodes.
    safe: also ask where a classifier, fitted on all labelled steps so far, predicts that the learner's
        action is off the expert's by more than `safe_deviation` (SafeDAgger).
    """

    name = "ensemble"

    def __init__(self, half_range: np.ndarray, size: int = 5, threshold: float = 0.0, target_rate: float = 0.1,
                 calibration_episodes: int = 2, safe: bool = False, safe_deviation: float = 0.2, seed: int = 0):
        _check_rate(target_rate)
        if size < 2:
            raise ProtegeError(f"--ensemble-size: expected >= 2 for the ensemble gate, found {size}")
        self.half_range = np.asarray(half_range, np.float64)
        self.ensemble_size, self.fixed_threshold, self.target_rate = size, threshold, target_rate
        self.calibration_episodes = calibration_episodes if threshold <= 0 else 0
        self.threshold = threshold if threshold > 0 else float("inf")
        self.safe, self.safe_deviation, self.seed = safe, safe_deviation, seed
        self.classifier: Any = None
        self._seen: list[float] = []

    def start_round(self, round_index: int, learner: Any, episodes: list) -> None:
        if self.safe:
            from protege.algos.dagger.scalar_model import deviation_targets, fit_scalar_model

            obs, y = deviation_targets(episodes, learner, self.half_range, self.safe_deviation)
            self.classifier = fit_scalar_model(obs, y, seed=self.seed + round_index)

    def reset(self, seed: int) -> None:
        pass

    def decide(self, obs: Observation, step: StepView) -> Decision:
        ask = ensemble_disagreement(step.member_actions, self.half_range) > self.threshold
        if not ask and self.classifier is not None:
            ask = self.classifier.predict(obs) > 0.5
        return Decision(expert_acts=ask, label=ask, intervened=ask)

    def calibrate(self, obs: Observation, step: StepView) -> None:
        self._seen.append(ensemble_disagreement(step.member_actions, self.half_range))

    def end_calibration(self) -> None:
        if self.fixed_threshold <= 0 and self._seen:
            self.threshold = _quantile(self._seen, 1 - self.target_rate)
        self._seen = []

    def describe(self) -> dict[str, float]:
        return {"novelty_threshold": self.threshold, "target_rate": self.target_rate}


class ThriftyGate:
    """ThriftyDAgger: ask when novelty or risk is high; hand back when the learner agrees and risk is low.

    novelty = ensemble disagreement; risk = 1 - (a model, fitted each round on every episode so far, of
    the discounted probability that the episode succeeds from this state). Both thresholds are set each
    round to the (1 - target_rate / 2) quantiles of their values on `calibration_episodes` learner-only
    episodes, so that together they fire on at most about `target_rate` of the learner's states. While
    in control the expert acts; it hands back after `min_control` steps once the learner's action is
    within `hand_back` of its own and the risk is below its threshold.
    """

    name = "thrifty"

    def __init__(self, half_range: np.ndarray, size: int = 5, target_rate: float = 0.1, hand_back: float = 0.1,
                 min_control: int = 5, gamma: float = 0.98, calibration_episodes: int = 2, seed: int = 0):
        _check_rate(target_rate)
        if size < 2:
            raise ProtegeError(f"--ensemble-size: expected >= 2 for the thrifty gate, found {size}")
        self.half_range = np.asarray(half_range, np.float64)
        self.ensemble_size, self.target_rate, self.hand_back = size, target_rate, hand_back
        self.min_control, self.gamma, self.seed = min_control, gamma, seed
        self.calibration_episodes = max(1, calibration_episodes)
        self.novelty_threshold = self.risk_threshold = float("inf")
        self.value: Any = None
        self.in_control, self._held = False, 0
        self._seen: list[tuple[float, float]] = []

    def start_round(self, round_index: int, learner: Any, episodes: list) -> None:
        from protege.algos.dagger.scalar_model import fit_scalar_model, success_targets

        obs, y = success_targets(episodes, self.gamma)
        self.value = fit_scalar_model(obs, y, seed=self.seed + round_index)

    def reset(self, seed: int) -> None:
        self.in_control, self._held = False, 0

    def risk(self, obs: Observation) -> float:
        return 1.0 - self.value.predict(obs) if self.value is not None else 0.0

    def decide(self, obs: Observation, step: StepView) -> Decision:
        risk = self.risk(obs)
        if self.in_control:
            self._held += 1
            agrees = action_deviation(step.policy_action, step.expert_action(), self.half_range) < self.hand_back
            if self._held >= self.min_control and agrees and risk < self.risk_threshold:
                self.in_control = False  # the expert still acts on this step; the learner drives from the next
            return Decision(expert_acts=True, label=True, intervened=True)
        novelty = ensemble_disagreement(step.member_actions, self.half_range)
        if novelty > self.novelty_threshold or risk > self.risk_threshold:
            self.in_control, self._held = True, 0
            return Decision(expert_acts=True, label=True, intervened=True)
        return Decision(expert_acts=False, label=False)

    def calibrate(self, obs: Observation, step: StepView) -> None:
        self._seen.append((ensemble_disagreement(step.member_actions, self.half_range), self.risk(obs)))

    def end_calibration(self) -> None:
        if self._seen:
            q = 1 - self.target_rate / 2
            self.novelty_threshold = _quantile([n for n, _ in self._seen], q)
            self.risk_threshold = _quantile([r for _, r in self._seen], q)
        self._seen = []

    def describe(self) -> dict[str, float]:
        return {"novelty_threshold": self.novelty_threshold, "risk_threshold": self.risk_threshold,
                "target_rate": self.target_rate}


def _check_rate(rate: float) -> None:
    if not 0 < rate < 1:
        raise ProtegeError(f"--target-rate: expected in (0, 1), found {rate}")
