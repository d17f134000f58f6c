"""The DAgger family: one interactive loop; the gate decides who acts and when the expert is asked.

    round 0:  demonstrations (recorded from the expert, or --data) -> train learner_0 -> evaluate
    round r:  the gate runs learner_{r-1} with the expert at hand on E episodes; every step where the
              expert was asked stores its action as the label -> aggregate with all earlier rounds ->
              retrain (from scratch, or warm-started from learner_{r-1}) -> evaluate -> record

The expert's cost is the point: every round's record counts expert labels asked, interventions (runs of
taken-over steps), expert-controlled steps and context switches beside the success rate and its 95%
Wilson interval. Everything is saved as it finishes and an interrupted run resumes (see `run_folder.py`).

A run may start from a trained checkpoint (`init`): it is round 0's learner (copied into the run folder and
evaluated, not retrained), and every later round warm-starts from the previous learner with the
checkpoint's head, config and encoder. A task- or instruction-conditioned checkpoint acts on the run's
task (one of its trained tasks, else refused in one line) and keeps its vocabulary: new episodes are tagged
with that task and the instruction the checkpoint was trained with, so the improved policy still knows
every task of its set (its other tasks stay in the aggregate when its dataset is given as `data`).
Each episode runs whole in one place (the gate, the learner and the expert interact every step): in this
process or on an executor's worker (--workers, --ray). A person as the expert is one person at one
device: with one, collection stays in this process and several workers are refused.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import time
from dataclasses import dataclass, field
from itertools import count
from pathlib import Path
from typing import Any, Callable

import numpy as np

from protege.actor import Actor, Supervisor
from protege.algos.bc import TrainConfig
from protege.algos.dagger.run_folder import (RunFolder, episode_round, iwr_weights, round_accounting, round_seeds,
                                      training_view, with_round)
from protege.algos.ensemble import Learner, LearnerFactory, member_paths, train_learner
from protege.algos.dagger.gates import (BETA_SCHEDULES, DaggerGate, Decision, EnsembleGate, Gate, HGGate,
                                 SimulatedSupervisor, StepView, ThriftyGate)
from protege.data.episode import SOURCE_EXPERT, SOURCE_HUMAN, SOURCE_POLICY, Episode
from protege.data.formats import load_any
from protege.data.native import Dataset, DatasetWriter
from protege.distributed.executor import Executor, make_executor, new_job_key
from protege.envs import get_task
from protege.envs.task import Task
from protege.errors import ProtegeError
from protege.evaluation.evaluate import evaluate
from protege.evaluation.rollout import record_seeds, run_episodes
from protege.progress import Progress, bar
from protege.policies.encoders import EncoderConfig
from protege.specs import check_compatible

GATES = ("dagger", "hg", "ensemble", "thrifty")


@dataclass
class DaggerConfig:
    task: str = "metaworld/pick-place"
    """Registered task name."""
    gate: str = "dagger"
    """Who acts and when the expert is asked: dagger | hg | ensemble | thrifty."""
    rounds: int = 5
    """Interactive rounds after the initial demonstrations (round 0)."""
    episodes_per_round: int = 10
    """Episodes collected per round."""
    demos: int = 10
    """Expert demonstrations recorded as round 0 when no dataset is given."""
    expert: str = "scripted"
    """The expert: 'scripted' (the task's own), a checkpoint folder whose policy labels, or an MLP policy
    file (<name>.json + <name>.safetensors, the hand_dapg layout of ../shared/adroit/experts)."""
    policy: str = "mlp"
    """Policy head of the learner (with --init: the checkpoint's)."""
    init: str | None = None
    """Start from this checkpoint: it is round 0's learner (evaluated, not retrained) and later rounds
    warm-start from it with its head, config and encoder (--policy and --encoder are not used). A task- or
    instruction-conditioned checkpoint (one policy for a task set) acts on --task, which must be one of its
    tasks, and keeps every task it knows; give its multi-task dataset as --data to keep them in the aggregate.
    Gates dagger and hg (an ensemble gate needs members that differ)."""
    encoder: str = "small"
    """Image encoder of the learner for camera observations: "small", "resnet18" or "none" (ignore the
    cameras); unused when the task has none."""
    warm_start: bool = False
    """Start each round's training from the previous round's weights instead of from scratch."""
    eval_episodes: int = 50
    """Evaluation episodes after every round (held-out seeds, the same every round)."""
    workers: int = 1
    """Worker processes for collection and evaluation (1 = this process); with --ray, Ray actors. Each
    collected episode runs whole on one worker (gate, learner and expert together) and is stored here."""
    ray: str | None = None
    """Collect and evaluate on Ray: "auto" (a local Ray cluster of --workers CPUs) or a running cluster's
    address; needs `pip install -e ".[ray]"`. The same episodes and labels as in one process."""
    seed: int = 0
    """Seed for demonstrations, collected episodes, training and evaluation."""
    beta_schedule: str = "exponential"
    """dagger: beta per round: constant | linear | exponential."""
    beta0: float = 0.5
    """dagger: probability that the expert's action is executed in round 1."""
    beta_decay: float = 0.5
    """dagger: factor per round of the exponential schedule."""
    take_over: float = 0.3
    """hg (simulated supervisor): take over when the learner's action is off the expert's by more than
    this (RMS over dimensions, in units of the action half-range)."""
    hand_back: float = 0.1
    """hg, thrifty: hand back once the learner's action is within this of the expert's."""
    min_control: int = 5
    """hg, thrifty: steps the expert keeps control at least, once it took over."""
    max_control: int = -1
    """hg (simulated supervisor): give up on an episode after holding control this many steps in a row
    (hand back, no more take-overs until the next episode), as a person stops correcting a run they cannot
    rescue; -1 = the mean length of the round-0 demonstrations; 0 = never give up."""
    iwr_weight: float = 1.0
    """Intervention-weighted regression: loss weight of intervention steps (1 = plain regression)."""
    ensemble_size: int = 5
    """ensemble, thrifty: learners in the ensemble."""
    novelty_threshold: float = 0.0
    """ensemble: disagreement above which the expert is asked (<= 0: set from --target-rate)."""
    target_rate: float = 0.1
    """ensemble, thrifty: fraction of the learner's states on which the expert should be asked."""
    calibration_episodes: int = 2
    """ensemble, thrifty: learner-only episodes (no expert) per round to set thresholds on."""
    safe: bool = False
    """ensemble: also ask where a classifier fitted on past labels predicts a large deviation (SafeDAgger)."""
    safe_deviation: float = 0.2
    """ensemble with --safe: deviation from the expert (normalised action units) deemed large."""
    risk_gamma: float = 0.98
    """thrifty: discount of the success-probability estimate behind the risk."""

    def __post_init__(self) -> None:
        if self.gate not in GATES:
            raise ProtegeError(f"--gate: expected one of {list(GATES)}, found '{self.gate}'")
        if self.beta_schedule not in BETA_SCHEDULES:
            raise ProtegeError(f"--beta-schedule: expected one of {list(BETA_SCHEDULES)}, found '{self.beta_schedule}'")
        for name in ("rounds", "episodes_per_round", "eval_episodes", "workers", "ensemble_size"):
            if getattr(self, name) < (0 if name == "rounds" else 1):
                raise ProtegeError(f"--{name.replace('_', '-')}: expected >= {0 if name == 'rounds' else 1}, "
                                   f"found {getattr(self, name)}")
        if self.rounds * self.episodes_per_round > 10_000:
            raise ProtegeError(f"--rounds x --episodes-per-round: expected <= 10000 episodes, "
                               f"found {self.rounds * self.episodes_per_round}")
        if self.max_control < -1:
            raise ProtegeError(f"--max-control: expected -1 (demonstration length), 0 (never) or a step count, "
                               f"found {self.max_control}")
        if self.iwr_weight <= 0:
            raise ProtegeError(f"--iwr-weight: expected > 0, found {self.iwr_weight}")
        if self.init is not None and self.gate in ("ensemble", "thrifty"):
            raise ProtegeError(f"--init: expected --gate dagger or hg (an ensemble gate's members must differ; "
                               f"started from one checkpoint they would not), found --gate {self.gate}")


@dataclass
class DaggerResult:
    records: list[dict[str, Any]]
    learner: Learner
    path: Path
    episodes: list[Episode] = field(default_factory=list)


def make_gate(config: DaggerConfig, task: Task, expert: Actor) -> Gate:
    """The gate named by `config.gate`; hg wraps a scripted expert in a `SimulatedSupervisor` unless the
    expert already is a Supervisor (a person at a teleop device)."""
    hr = task.spec.action.half_range()
    if config.gate == "dagger":
        return DaggerGate(config.beta_schedule, config.beta0, config.beta_decay, config.rounds)
    if config.gate == "hg":
        if isinstance(expert, Supervisor):
            return HGGate(expert)
        sup = SimulatedSupervisor(expert, hr, config.take_over, config.hand_back, config.min_control,
                                  max(0, config.max_control))
        return HGGate(sup, max_control_from_demos=config.max_control < 0)
    if config.gate == "ensemble":
        return EnsembleGate(hr, config.ensemble_size, config.novelty_threshold, config.target_rate,
                            config.calibration_episodes, config.safe, config.safe_deviation, config.seed)
    return ThriftyGate(hr, config.ensemble_size, config.target_rate, config.hand_back, config.min_control,
                       config.risk_gamma, config.calibration_episodes, config.seed)


def check_one_person(config: DaggerConfig, expert: Actor, gate: Gate) -> None:
    """Refuse several workers when a person is the expert (a `TeleopDevice`, whose `source` is human): one
    person at one device gates one episode at a time, and a worker process cannot reach their device. A
    scripted expert or a simulated supervisor (hg without a person) runs on any number of workers."""
    person = getattr(gate, "supervisor", None) or expert
    if int(getattr(person, "source", SOURCE_EXPERT)) != SOURCE_HUMAN:
        return
    who = getattr(person, "name", type(person).__name__)
    why = f"with a person as the expert ({who}: one person at one device gates one episode at a time)"
    if config.ray:
        raise ProtegeError(f"--ray: expected none {why}, found '{config.ray}'")
    if config.workers > 1:
        raise ProtegeError(f"--workers: expected 1 {why}, found {config.workers}")


def make_expert(config: DaggerConfig, task: Task) -> Actor:
    if config.expert == "scripted":
        return task.make_expert()
    from protege.experts.files import load_expert_file

    return load_expert_file(config.expert, task)  # a checkpoint folder or an MLP policy file


def collect_episode(task: Task, env: Any, learner: Learner, expert: Actor, gate: Gate, seed: int,
                    calibrating: bool = False) -> Episode:
    """One gated episode. The label is always the expert's own action; the executed action is clipped.

    calibrating: the learner acts alone and the gate only observes (`gate.calibrate`); nothing is asked.
    """
    shape = task.spec.action.shape
    low = None if task.spec.action.low is None else np.asarray(task.spec.action.low, np.float32).reshape(shape)
    high = None if task.spec.action.high is None else np.asarray(task.spec.action.high, np.float32).reshape(shape)
    expert_source = int(getattr(expert, "source", SOURCE_EXPERT))
    obs, info = env.reset(seed=seed)
    learner.reset()
    expert.reset()
    gate.reset(seed)
    keys = [k for k in obs if k in task.spec.observation]  # never an env's privileged keys
    obs_list: dict[str, list[np.ndarray]] = {k: [] for k in keys}
    actions, labels, mask, source, intervened, rewards, step_success = [], [], [], [], [], [], []
    for t in count():
        for k in keys:
            obs_list[k].append(obs[k])
        members = learner.act_all(obs)
        asked: list[np.ndarray] = []
        current = obs

        def ask() -> np.ndarray:  # the only place the expert is queried for a label
            if not asked:
                asked.append(np.asarray(expert.act(current), np.float32).reshape(shape))
            return asked[0]

        view = StepView(policy_action=members.mean(0), member_actions=members, expert_action=ask, t=t)
        if calibrating:
            gate.calibrate(obs, view)
            decision = Decision(expert_acts=False, label=False)
        else:
            decision = gate.decide(obs, view)
        if decision.expert_acts or decision.label:
            ask()
        executed = asked[0] if decision.expert_acts else view.policy_action.astype(np.float32)
        if low is not None:
            executed = np.clip(executed, low, high)
        labels.append(asked[0] if asked else np.zeros(shape, np.float32))
        mask.append(bool(asked))
        source.append(expert_source if decision.expert_acts else SOURCE_POLICY)
        intervened.append(bool(decision.intervened))
        actions.append(executed)
        obs, reward, terminated, truncated, info = env.step(executed)
        rewards.append(reward)
        step_success.append(task.step_success(info))
        if task.episode_done(t + 1, terminated, truncated, step_success[-1]):
            break
    for k in keys:  # keep the final observation: (T+1, ...)
        obs_list[k].append(obs[k])
    return Episode(observations={k: np.stack(v) for k, v in obs_list.items()}, actions=np.stack(actions),
                   labels=np.stack(labels), label_mask=np.asarray(mask), rewards=np.asarray(rewards, np.float32),
                   success=task.episode_success(step_success), source=np.asarray(source, np.uint8),
                   intervened=np.asarray(intervened), info={"seed": int(seed), "task": task.name})


def _tagger(tags: dict[str, str]) -> Callable[[Episode], Episode]:
    """Episode -> the episode tagged for a conditioned learner: an untagged one (or one of this task without
    an instruction) gets the run's task and the checkpoint's instruction for it; other tags stay as they are
    (a multi-task dataset's other tasks, which the vocabulary check then accepts or refuses)."""
    def tag(ep: Episode) -> Episode:
        task = ep.info.get("task")
        if not tags or (task and (task != tags["task"] or ep.info.get("instruction"))):
            return ep
        return dataclasses.replace(ep, info={**ep.info, **tags})

    return tag


def _check_init(init: str, task: Task) -> tuple[str, Any, str | None, dict[str, str]]:
    """The checkpoint a run starts from, checked before the run folder is touched: its head, its config, the
    task a conditioned checkpoint acts on (None: unconditioned) and the tags new episodes carry for it.
    A misfit spec or a task the checkpoint was not trained on is refused in one line."""
    from protege.checkpoint import load_checkpoint

    policy = load_checkpoint(init)
    check_compatible(policy.spec, task.spec, f"checkpoint {init}", f"task {task.name}")
    if policy.conditioning is None:
        return policy.name, policy.config, None, {}
    policy.condition_input(task=task.name, who=f"--init {init}")
    return policy.name, policy.config, task.name, {"task": task.name,
                                                   "instruction": policy.conditioning.instructions[task.name]}


def _copy_checkpoint(src: str, out: Path) -> None:
    """Round 0's learner: checkpoint folder `src` copied to `out` by a rename (a copy an interrupted run
    left is replaced)."""
    tmp = out.with_name(f".{out.name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.copytree(src, tmp)
    shutil.rmtree(out, ignore_errors=True)
    os.replace(tmp, out)


def _write_demonstrations(run: RunFolder, task: Task, config: DaggerConfig, expert: Actor, source: Dataset | None,
                          stored: list[Episode], progress: Progress | None,
                          tag: Callable[[Episode], Episode] = lambda ep: ep) -> None:
    """Round 0: copy --data (`source`, already checked), or record the expert; only what is not stored yet
    (a resumed run). `tag`: how each episode is tagged for a conditioned learner (`_tagger`)."""
    have = [e for e in stored if episode_round(e) == 0]
    with DatasetWriter(run.data_dir, task.spec, task=task.name, append=True,
                       provenance={"dagger_run": str(run.root)}) as writer:
        if source is not None:
            for ep in source.episodes[len(have):]:
                writer.add(with_round(tag(ep), 0))
            return
        done = {int(e.info.get("seed", -1)) for e in have}
        seeds = [s for s in record_seeds(config.seed, config.demos) if s not in done]
        if seeds:
            run_episodes(task, lambda: expert, seeds, keep_episodes=True, progress=progress,
                         desc=f"demonstrations {task.name}", source=SOURCE_EXPERT,
                         on_result=lambda r: writer.add(with_round(tag(r.episode), 0)))


def _train_seed(config: DaggerConfig, train: TrainConfig, round_index: int) -> TrainConfig:
    return dataclasses.replace(train, seed=train.seed + 100_000 * config.seed + round_index)


def run_dagger(config: DaggerConfig, out: str | Path, data: str | Path | None = None,
               train: TrainConfig | None = None, policy_config: Any = None, expert: Actor | None = None,
               gate: Gate | None = None, resume: bool = True, progress: Progress | None = None) -> DaggerResult:
    """Run (or resume) the interactive loop of `config.gate` into the run folder `out`.

    data: a dataset of initial demonstrations (round 0) instead of recording `config.demos` from the expert.
    expert: any Actor (or a `Supervisor` for hg) instead of `config.expert`.
    With `config.init`, round 0's learner is that checkpoint and `policy_config` is not used (module docstring).
    gate: a ready-made gate instead of the one `config` describes.
    """
    train = train or TrainConfig()
    task = get_task(config.task)
    expert = expert if expert is not None else make_expert(config, task)
    gate = gate if gate is not None else make_gate(config, task, expert)
    acting_expert = getattr(gate, "supervisor", None) or expert  # hg: the supervisor acts and labels
    check_one_person(config, expert, gate)  # before the run folder is touched
    size = int(getattr(gate, "ensemble_size", 1))
    cfg_dict = {**dataclasses.asdict(config), "data": None if data is None else str(data),
                "train": dataclasses.asdict(train), "policy_config": None if policy_config is None
                else dataclasses.asdict(policy_config) if dataclasses.is_dataclass(policy_config) else policy_config}
    policy_name, cond_task, tags = config.policy, None, {}
    encoder: EncoderConfig | None = EncoderConfig(config.encoder)
    if config.init is not None:  # round 0's learner is the checkpoint; later rounds keep its head and encoder
        policy_name, policy_config, cond_task, tags = _check_init(config.init, task)
        encoder = None
    tag = _tagger(tags)
    source = None
    if data is not None:  # checked before the run folder is touched: a refused --data leaves nothing behind
        source = load_any(data)  # every format `train` reads: native, seed .npz, LeRobot, robomimic, Minari
        check_compatible(source.spec, task.spec, f"dataset {data}", f"task {task.name}")
    run = RunFolder(out, cfg_dict, resume=resume)
    records = run.records()
    stored = run.episodes()
    if not records:
        _write_demonstrations(run, task, config, acting_expert, source, stored, progress, tag)
        stored = run.episodes()
    weights = iwr_weights(config.iwr_weight)
    learner: Learner | None = None
    rounds_bar = bar(progress, f"{config.gate} rounds", config.rounds + 1, unit="round")
    executor = make_executor(config.workers, config.ray)
    try:
        for r in range(config.rounds + 1):
            if any(rec["round"] == r for rec in records):  # finished before an interruption
                rounds_bar.update(1)
                continue
            start = time.perf_counter()
            if r > 0:
                if learner is None:  # resuming: the learner of the last finished round
                    learner = Learner.load(next(rec for rec in records if rec["round"] == r - 1)["checkpoints"],
                                           cond_task)
                gate.start_round(r, learner, stored)
                _collect_round(run, task, config, learner, acting_expert, gate, r, stored, progress, executor, tag)
                stored = run.episodes()
            if r == 0 and config.init is not None:  # the checkpoint itself, copied into the run folder
                _copy_checkpoint(config.init, run.round_dir(0))
                learner = Learner.load([run.round_dir(0)], cond_task)
            else:
                view = training_view([e for e in stored if episode_round(e) <= r], task.spec, task.name, run.data_dir)
                warm = config.warm_start or config.init is not None
                learner, _ = train_learner(view, policy_name, policy_config, _train_seed(config, train, r), size,
                                           run.round_dir(r), init=learner if warm else None,
                                           sample_weights=weights, progress=progress, encoder=encoder,
                                           extra={"dagger": {"round": r, "gate": config.gate, "run": str(run.root)}},
                                           task=cond_task)
            ev = evaluate(task, LearnerFactory(learner.paths, cond_task), config.eval_episodes, config.seed,
                          workers=config.workers, progress=progress, executor=executor)
            record = _record(r, stored, gate if r > 0 else None, ev.summary, learner, time.perf_counter() - start)
            run.save_record(record)
            records = run.records()
            rounds_bar.update(1, success=f"{100 * ev.summary.success_rate:.0f}%", labels=record["total_labels"])
    finally:
        rounds_bar.close()
        executor.close()
    if learner is None:  # every round was already finished
        learner = Learner.load(max(records, key=lambda rec: rec["round"])["checkpoints"], cond_task)
    return DaggerResult(records=records, learner=learner, path=run.root, episodes=stored)


@dataclass
class CollectJob:
    """One round's gated episodes as an executor job (`protege.distributed`): the learner, the acting expert
    and the gate (after `start_round` and calibration) travel to each worker, which runs whole episodes; the
    episodes come back here to be stored and counted, so a worker that dies loses no label and adds none.
    Each episode seeds torch's generator from its seed: a sampling learner acts the same on any worker."""
    task_name: str
    learner: Learner
    expert: Actor
    gate: Gate
    key: str = field(default_factory=new_job_key)

    def setup(self) -> tuple[Task, Any]:
        task = get_task(self.task_name)
        return task, task.make_env()

    def run(self, state: tuple[Task, Any], seed: int) -> Episode:
        import torch

        torch.manual_seed(seed)
        return collect_episode(state[0], state[1], self.learner, self.expert, self.gate, seed)

    def teardown(self, state: tuple[Task, Any]) -> None:
        state[1].close()


def _collect_round(run: RunFolder, task: Task, config: DaggerConfig, learner: Learner, expert: Actor, gate: Gate,
                   r: int, stored: list[Episode], progress: Progress | None, executor: Executor,
                   tag: Callable[[Episode], Episode] = lambda ep: ep) -> None:
    seeds = round_seeds(config.seed, r, config.episodes_per_round)
    env = task.make_env()
    try:
        if gate.calibration_episodes > 0:  # thresholds on the learner's own states; nothing asked or stored
            for s in seeds[:gate.calibration_episodes]:
                collect_episode(task, env, learner, expert, gate, s, calibrating=True)
            gate.end_calibration()
        done = {int(e.info.get("seed", -1)) for e in stored if episode_round(e) == r}
        todo = [s for s in seeds if s not in done]
        pbar = bar(progress, f"round {r} ({config.gate})", len(todo), unit="ep")
        labels = 0
        with DatasetWriter(run.data_dir, task.spec, task=task.name, append=True) as writer:
            def store(seed: int, ep: Episode) -> None:  # here, once per seed, in seed order
                nonlocal labels
                writer.add(with_round(tag(ep), r))
                labels += ep.num_labels
                pbar.update(1, labels=labels, **({"rerun": len(executor.retried)} if executor.retried else {}))

            executor.map(CollectJob(task.name, learner, expert, gate), todo, store)
        pbar.close()
    finally:
        env.close()


def _record(r: int, stored: list[Episode], gate: Gate | None, summary: Any, learner: Learner,
            seconds: float) -> dict[str, Any]:
    this = [e for e in stored if episode_round(e) == r]
    acc = round_accounting(this)
    total = round_accounting([e for e in stored if episode_round(e) <= r])["expert_labels"]
    return {"round": r, **acc, "total_labels": total, "gate": gate.describe() if gate is not None else {},
            "success_rate": summary.success_rate, "successes": summary.successes, "eval_episodes": summary.episodes,
            "ci_low": summary.ci_low, "ci_high": summary.ci_high, "mean_length": summary.mean_length,
            "checkpoints": learner.paths, "seconds": seconds}


__all__ = ["DaggerConfig", "DaggerResult", "run_dagger", "collect_episode", "make_gate", "make_expert", "GATES",
           "member_paths"]
