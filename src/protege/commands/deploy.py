"""Run a policy on a robot at a fixed rate behind safety limits; report jitter, latency, deadline misses."""

from __future__ import annotations

import sys
import threading
from dataclasses import dataclass
from pathlib import Path

from protege.commands._common import say, write_json_file
from protege.errors import ProtegeError
from protege.progress import TqdmProgress


@dataclass
class Args:
    robot: str
    """Robot to drive: sim:TASK (the simulated robot wrapping a task, e.g. sim:metaworld/pick-place)."""
    checkpoint: Path | None = None
    """Checkpoint folder (PyTorch inference)."""
    model: Path | None = None
    """Exported model file from `protege export` (.onnx runs on onnxruntime, .pt on TorchScript)."""
    task: str | None = None
    """A task- or instruction-conditioned policy: the task to do, by the name it was trained on (required,
    or --instruction, for such a policy; refused for a single-task one)."""
    instruction: str | None = None
    """A conditioned policy: what to do, in words (an instruction-conditioned policy accepts any wording and
    reports one it never saw; a task-conditioned one only its training instructions)."""
    hz: float = 50.0
    """Control rate, Hz."""
    steps: int = 0
    """Steps to run (0 = until Ctrl-C or the emergency stop)."""
    max_delta: float = 0.0
    """Largest change of an action dimension per step, env units (0 = unlimited)."""
    max_obs_age: float = 0.25
    """Watchdog: stop when the robot's observation is older than this, seconds (0 = off). With it on, an
    observation without a timestamp stops the robot (a robot that cannot stamp its readings needs 0)."""
    asynchronous: bool = False
    """Infer the next chunk on a background thread while the current one executes (receding horizon only).
    Off by default: then deploy executes exactly as `protege eval`. On, each chunk is planned from an
    observation a few steps older, and a late chunk holds the last action instead of making the loop wait."""
    rt_priority: int = 0
    """Run the control loop thread under SCHED_FIFO at this priority (1-99; needs root/CAP_SYS_NICE; 0 = off)."""
    threads: int = 1
    """CPU threads for inference."""
    seed: int = 0
    """Seed of the simulated robot's first episode and of sampling heads' noise (as `protege eval` seeds an
    episode with that seed)."""
    json: Path | None = None
    """Write the run report here as JSON."""


def _estop_keys(event: threading.Event):
    """Space or Esc in the terminal sets the emergency stop (when stdin is a terminal)."""
    if not sys.stdin.isatty():
        return None
    from protege.teleop.keyboard import TerminalKeys

    keys = TerminalKeys()

    def watch() -> None:
        while not event.is_set():
            if any(k in ("space", "escape") for k in keys.pressed()):
                event.set()
            event.wait(0.02)

    threading.Thread(target=watch, daemon=True).start()
    return keys


def _check_flags(args: Args) -> None:
    """Refuse numeric flags outside their range before anything connects (one line, exit 2)."""
    for flag, ok, expected, found in [
        ("--hz", args.hz > 0, "> 0", args.hz),
        ("--steps", args.steps >= 0, ">= 0 (0 = until stopped)", args.steps),
        ("--max-delta", args.max_delta >= 0, ">= 0 (0 = unlimited)", args.max_delta),
        ("--max-obs-age", args.max_obs_age >= 0, ">= 0 (0 = no watchdog)", args.max_obs_age),
        ("--rt-priority", 0 <= args.rt_priority <= 99, "in [0, 99]", args.rt_priority),
        ("--threads", args.threads >= 1, ">= 1", args.threads),
        ("--seed", args.seed >= 0, ">= 0", args.seed),
    ]:
        if not ok:
            raise ProtegeError(f"{flag}: expected {expected}, found {found}")


def _check_condition_flags(args: Args, conditioning, who: str) -> None:
    """A conditioned policy needs --task or --instruction; a single-task one takes neither (one line each)."""
    given = "--task" if args.task is not None else "--instruction" if args.instruction is not None else None
    if conditioning is None and given is not None:
        raise ProtegeError(f"{given}: expected a task- or instruction-conditioned policy (trained with --condition), "
                           f"found {who} without conditioning")
    if conditioning is not None and given is None:
        raise ProtegeError(f"deploy: {who} is conditioned on {conditioning.kind}s: expected --task NAME (one of "
                           f"{', '.join(conditioning.tasks)}) or --instruction TEXT, found neither")
    if args.task is not None and args.instruction is not None:
        raise ProtegeError("deploy: expected one of --task NAME or --instruction TEXT, found both")


def run(args: Args) -> int:
    from protege.deploy import ChunkExecutor, DeployConfig, ExportedPredictor, TorchPredictor, run_deployment
    from protege.deploy.runner import stop_signals
    from protege.envs.sim_robot import make_robot
    from protege.specs import Spec, check_compatible

    if (args.checkpoint is None) == (args.model is None):
        raise ProtegeError("deploy: expected exactly one of --checkpoint CKPT or --model FILE, found "
                           + ("both" if args.checkpoint else "neither"))
    _check_flags(args)
    robot = make_robot(args.robot, seed=args.seed)
    if args.checkpoint is not None:
        from protege.checkpoint import load_checkpoint

        policy = load_checkpoint(args.checkpoint)
        check_compatible(policy.spec, robot.spec, f"checkpoint {args.checkpoint}", f"robot {args.robot}")
        _check_condition_flags(args, policy.conditioning, f"checkpoint {args.checkpoint}")
        predictor = TorchPredictor(policy, threads=args.threads, seed=args.seed, task=args.task,
                                   instruction=args.instruction)
    else:
        from protege.deploy.exported import load_exported

        model = load_exported(args.model, threads=args.threads)
        check_compatible(Spec.from_dict(model.meta["spec"]), robot.spec, f"model {args.model}", f"robot {args.robot}")
        _check_condition_flags(args, model.conditioning, f"model {args.model}")
        predictor = ExportedPredictor(model, seed=args.seed, task=args.task, instruction=args.instruction)
    if predictor.condition is not None:
        say(f"{predictor.name}: {predictor.condition.describe()}")
    executor = ChunkExecutor(predictor, asynchronous=args.asynchronous, period_s=1.0 / args.hz)
    config = DeployConfig(hz=args.hz, steps=args.steps, max_delta=args.max_delta, max_obs_age_s=args.max_obs_age,
                          realtime_priority=args.rt_priority)
    estop = threading.Event()
    keys = _estop_keys(estop)
    s = executor.settings
    plan = f"temporal ensemble m={s.ensemble_m:g}" if s.execution == "ensemble" else f"executing {s.n_action_steps}"
    try:
        with stop_signals():  # from here SIGTERM/SIGHUP stop as Ctrl-C does
            say(f"deploying {predictor.name} on {args.robot} at {args.hz:g} Hz "
                f"({'async' if executor.asynchronous else 'sync'} inference, chunk {s.horizon}, {plan}); "
                f"{'space/Esc = emergency stop, ' if keys else ''}Ctrl-C, SIGTERM or SIGHUP stop safely")
            report = run_deployment(robot, executor, config, estop=estop, progress=TqdmProgress())
    finally:
        estop.set()
        if keys is not None:
            keys.close()
    say(report.format())
    say(f"simulated robot: {robot.episodes} episodes finished, {robot.successes} successful")
    if args.json is not None:
        write_json_file(args.json, {"robot": args.robot, "predictor": predictor.name,
                                    "condition": None if predictor.condition is None else predictor.condition.text,
                                    "condition_seen": None if predictor.condition is None else predictor.condition.seen,
                                    **report.to_dict(),
                                    "episodes": robot.episodes, "successes": robot.successes,
                                    "final_action": None if robot.last_action is None else robot.last_action.tolist(),
                                    "disconnected": robot.env is None})
    return 0 if report.stop_reason == "completed" or report.stop_reason.startswith("interrupted") else 1
