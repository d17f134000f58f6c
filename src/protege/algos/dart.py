"""DART (Laskey et al., 2017): the expert demonstrates with noise injected into the actions it executes, at
the level of the learner's own error, so the demonstrations visit the states a learner drifts into and
show the expert's correction from them, while the expert never hands over control.

Rounds: round 0 records noise-free demonstrations; after each round a policy is trained on everything
recorded so far, and the next round's noise is that policy's error on held-out demonstrations (the RMS,
over steps and action dimensions, of learner minus expert label in units of the action half-range, as
`run_episode`'s noise is), times `alpha`, capped at `max_noise`. Every episode is an expert episode with
a clean label on every step, so a run of N episodes costs the expert labels of N plain demonstrations.

Run folder:
    round_<k>/data/         the round's recording (native dataset; noise and seeds in its provenance)
    round_<k>/checkpoint/   the policy trained on rounds 0..k (the last round's is the result)
    dart.json               one record per finished round (noise, labels, the learner's error)
A run interrupted part-way resumes: recordings and training continue where they stopped, and the noise of
every round is recomputed from the same (deterministic) training, so it matches the interrupted run's.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from protege.algos.bc import TrainConfig, train_bc
from protege.checkpoint import PolicyActor
from protege.data.atomic import write_json
from protege.data.episode import Episode
from protege.data.native import Dataset, load_dataset
from protege.data.windows import split_by_episode
from protege.errors import bad_input
from protege.policies import EncoderConfig, PolicyBase
from protege.progress import Progress
from protege.specs import Spec

RESULT_FILE = "dart.json"


@dataclass(frozen=True)
class DartConfig:
    episodes: int = 10
    """Expert episodes in all rounds together: the budget of expert labels."""
    rounds: int = 2
    """Recording rounds (round 0 without noise); the episodes are split evenly between them."""
    alpha: float = 1.0
    """Scale on the estimated noise: 1 = the learner's error (DART's choice)."""
    max_noise: float = 0.5
    """Cap on the injected noise, as a fraction of the action half-range."""
    seed: int = 0
    """Round k records with base seed seed + k (episode seeds (seed + k) * 10000 + i)."""
    workers: int = 1
    """Worker processes recording in parallel."""
    max_labels: int = 0
    """Stop at this many expert labels (steps) over all rounds, e.g. those of N plain demonstrations, for a
    comparison at equal labels; 0 = no cap. Episodes past the budget are left out of training, and the
    one that crosses it is cut where the budget ran out, as an expert asked to stop there would have been;
    later rounds are not recorded. The recordings on disk stay whole."""

    def __post_init__(self) -> None:
        for name, low in (("episodes", 1), ("rounds", 1), ("max_labels", 0)):
            if getattr(self, name) < low:
                raise bad_input("dart config", name, f">= {low}", str(getattr(self, name)))
        if self.rounds > self.episodes:
            raise bad_input("dart config", "rounds", f"at most --episodes ({self.episodes})", str(self.rounds))
        if self.alpha < 0 or self.max_noise < 0:
            raise bad_input("dart config", "alpha" if self.alpha < 0 else "max_noise", ">= 0",
                            str(min(self.alpha, self.max_noise)))


@dataclass
class DartRound:
    round: int
    seed: int
    """Base recording seed of the round."""
    episodes: int
    """Episodes trained on (a cut one included)."""
    labelled_steps: int
    """Expert labels the round cost (one per step trained on)."""
    recorded_steps: int
    """Steps of the round's recording (more than labelled_steps where --max-labels cut it)."""
    successes: int
    noise: float
    """Noise injected while recording this round."""
    learner_error: float
    """Error of the policy trained on rounds 0..k, on held-out demonstrations (the next round's noise / alpha)."""
    error_on: str
    """Which episodes the error was measured on: 'held-out' or 'training' (no validation split)."""
    checkpoint: str


@dataclass
class DartResult:
    rounds: list[DartRound] = field(default_factory=list)
    policy: PolicyBase | None = None

    @property
    def checkpoint(self) -> Path:
        return Path(self.rounds[-1].checkpoint)

    @property
    def labelled_steps(self) -> int:
        return sum(r.labelled_steps for r in self.rounds)


def round_sizes(episodes: int, rounds: int) -> list[int]:
    """Episodes per round: an even split, the earlier rounds taking the remainder."""
    return [episodes // rounds + (k < episodes % rounds) for k in range(rounds)]


def within_budget(episodes: list[Episode], labels: int) -> list[Episode]:
    """The episodes, in order, until `labels` steps are spent; the one that crosses the budget is cut."""
    kept = []
    for ep in episodes:
        if labels <= 0:
            break
        kept.append(ep.head(labels))
        labels -= len(kept[-1])
    return kept


def learner_error(policy: PolicyBase, episodes: list[Episode], spec: Spec, task: str | None = None) -> float:
    """RMS of (the policy's action - the expert's label) over every step and action dimension of
    `episodes`, in units of the action half-range. The policy acts on the recorded observations as it would
    execute (its controller: history, chunks), reset at each episode start."""
    half = spec.action.half_range()
    actor = PolicyActor(policy, task=task if policy.conditioning is not None else None, who="the DART learner")
    total, count = 0.0, 0
    for ep in episodes:
        target = ep.targets
        actor.reset()
        for t in range(len(ep.actions)):
            action = actor.act({k: np.asarray(ep.observations[k][t]) for k in policy.obs_keys})
            total += float(np.sum(((action - target[t]) / half) ** 2))
            count += action.size
    return math.sqrt(total / max(count, 1))


def run_dart(task_name: str, out: str | Path, config: DartConfig | None = None, policy_name: str = "mlp",
             policy_config: Any = None, train: TrainConfig | None = None, encoder: EncoderConfig | None = None,
             progress: Progress | None = None, report: Callable[[str], None] | None = None) -> DartResult:
    """Record `config.episodes` expert episodes of `task_name` in `config.rounds` rounds with DART's noise,
    training a `policy_name` policy after each round; returns the rounds and the last round's policy."""
    from protege.recording import record_expert

    config, train = config or DartConfig(), train or TrainConfig()
    out = Path(out)
    result, episodes, noise = DartResult(), [], 0.0
    for k, n in enumerate(round_sizes(config.episodes, config.rounds)):
        left = config.max_labels - sum(len(e) for e in episodes) if config.max_labels else None
        if left is not None and left <= 0:
            break  # the label budget is spent
        folder = out / f"round_{k}"
        record_expert(task_name, n, folder / "data", seed=config.seed + k, noise=noise, workers=config.workers,
                      progress=progress, report=report)
        recorded = load_dataset(folder / "data")
        kept = recorded.episodes if left is None else within_budget(recorded.episodes, left)
        episodes += kept
        data = Dataset(list(episodes), recorded.spec, {"task": recorded.meta.get("task")}, None)
        trained = train_bc(data, policy_name, policy_config, train, out=folder / "checkpoint", progress=progress,
                           encoder=encoder, resume=True)
        _, held_out = split_by_episode(data, train.val_fraction, train.seed)  # the split train_bc made
        error = learner_error(trained.policy, held_out or data.episodes, data.spec, recorded.meta.get("task"))
        done = DartRound(
            round=k, seed=config.seed + k, episodes=len(kept), labelled_steps=sum(len(e) for e in kept),
            recorded_steps=recorded.num_steps, successes=sum(e.success for e in kept), noise=noise,
            learner_error=error, error_on="held-out" if held_out else "training",
            checkpoint=str(folder / "checkpoint"))
        result.rounds.append(done)
        result.policy = trained.policy
        write_json(out / RESULT_FILE, {"task": task_name, "policy": policy_name, "config": asdict(config),
                                       "rounds": [asdict(r) for r in result.rounds]})
        if report is not None:
            report(f"round {k}: {done.episodes} episodes at noise {noise:.3f} ({done.successes} successful, "
                   f"{done.labelled_steps} labels); learner error {error:.3f} on {done.error_on} episodes")
        noise = min(config.max_noise, config.alpha * error)
    return result
