"""Recording with a person: teleoperated demonstrations and interventions on a running policy.

One loop at the task's control rate. The person starts an episode, drives (or, with a policy, watches
and takes over when it goes wrong, then hands back), and stops it to keep it, discards it, or marks it
successful. Each kept episode is written at once and atomically (`DatasetWriter`), so killing the
session loses at most the episode in progress. Episodes also end by themselves at the task's horizon
or success and are then kept.

With a policy, every step records who acted (`source`: policy or human), the `intervened` mask, and
the person's action as the label on the steps they drove: what HG-DAgger trains on.

This module does not read hardware (see the devices) or draw (see `view.py`); it runs the session.
"""

from __future__ import annotations

import shlex
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from protege.actor import Actor
from protege.data.episode import SOURCE_HUMAN, SOURCE_POLICY, Episode
from protege.data.native import DatasetWriter
from protege.deploy.clock import Rate
from protege.envs.task import Task
from protege.evaluation.rollout import record_seeds
from protege.progress import Progress, bar
from protege.teleop.device import TeleopDevice
from protege.teleop.input import DISCARD, ESTOP, QUIT, START, STOP, SUCCESS
from protege.teleop.view import NullView, View


@dataclass
class SessionConfig:
    episodes: int = 0
    """Stop the session after this many kept episodes (0 = until the person quits)."""
    seed: int = 0
    """Base seed: episode i starts from the task's reset(seed * 10000 + i), like `protege record`."""
    fps: float = 0.0
    """Control rate in Hz (0 = the task's own rate)."""
    realtime: bool = True
    """Pace the loop at `fps` (False runs as fast as possible: scripted sessions and tests)."""
    view_hz: float = 10.0
    """How often to render a frame for the view (rendering costs milliseconds; the loop keeps its rate)."""
    max_steps: int = 0
    """Stop the session after this many loop iterations, recording or idle (0 = no limit)."""


@dataclass
class SessionResult:
    kept: list[Path] = field(default_factory=list)
    discarded: int = 0
    steps: int = 0
    interventions: int = 0
    """Take-overs (policy -> person hand-overs) in kept episodes."""
    late_steps: int = 0
    """Loop iterations that started more than one period late (pacing could not keep the rate)."""
    view_error: str | None = None
    """Why the live view stopped, if rendering failed (recording carries on without it)."""


class _Buffer:
    """The episode in progress."""

    def __init__(self, seed: int, obs: dict[str, np.ndarray]):
        self.seed = seed
        self.obs: dict[str, list[np.ndarray]] = {k: [v] for k, v in obs.items()}
        self.actions: list[np.ndarray] = []
        self.labels: list[np.ndarray] = []
        self.source: list[int] = []
        self.step_success: list[bool] = []
        self.rewards: list[float] = []
        self.marked = False

    def add(self, action, label, source, obs, reward, success) -> None:
        self.actions.append(action)
        self.labels.append(label)
        self.source.append(source)
        self.rewards.append(reward)
        self.step_success.append(success)
        for k, v in obs.items():
            self.obs[k].append(v)

    def episode(self, task: Task, with_policy: bool) -> Episode:
        source = np.asarray(self.source, np.uint8)
        human = source == SOURCE_HUMAN
        task_success = task.episode_success(self.step_success)
        info = {"seed": int(self.seed), "task": task.name, "marked_success": self.marked,
                "task_success": bool(task_success)}
        return Episode(observations={k: np.stack(v) for k, v in self.obs.items()}, actions=np.stack(self.actions),
                       labels=np.stack(self.labels) if with_policy else None,
                       label_mask=human if with_policy else None, rewards=np.asarray(self.rewards, np.float32),
                       success=self.marked or task_success, source=source,
                       intervened=human if with_policy else None, info=info)


def record_session(task: Task, device: TeleopDevice, out: str | Path, config: SessionConfig | None = None,
                   policy: Actor | None = None, view: View | None = None, overwrite: bool = False,
                   progress: Progress | None = None) -> SessionResult:
    """Run a recording session with a person at `device`; with `policy`, the person intervenes on it."""
    config = config or SessionConfig()
    view = view or NullView()
    wants_frames = not isinstance(view, NullView)
    env = task.make_env(render_mode="rgb_array") if wants_frames else task.make_env()
    provenance = {"command": shlex.join(["protege", *sys.argv[1:]]) if sys.argv else None,
                  "recorded_by": device.name, "device_profile": vars(device.profile).copy(),
                  "policy": getattr(policy, "name", None) if policy is not None else None, "seed": config.seed}
    fps = config.fps or task.fps
    rate = Rate(fps if config.realtime else 0.0)
    render_every = max(1, int(round(fps / config.view_hz))) if config.view_hz > 0 else 0
    result = SessionResult()
    pbar = bar(progress, f"teleop {task.name}", config.episodes or None, unit="ep")
    writer = DatasetWriter(out, task.spec, task=task.name, provenance=provenance, overwrite=overwrite)
    index = 0  # episodes started (kept or not): the seed counter

    def fresh() -> tuple[dict[str, np.ndarray], int]:
        seed = record_seeds(config.seed, index + 1)[-1]
        obs, _ = env.reset(seed=seed)
        device.reset()
        if policy is not None:
            policy.reset()
        return obs, seed

    obs, seed = fresh()
    buf: _Buffer | None = None
    was_human = False
    it = 0
    try:
        rate.start()
        while not (config.max_steps and it >= config.max_steps):
            it += 1
            state = device.poll()
            quit_now = False
            for cmd in state.commands:
                if cmd == START and buf is None:
                    buf, was_human = _Buffer(seed, obs), False
                elif cmd == SUCCESS and buf is not None:
                    buf.marked = True
                elif cmd in (STOP, DISCARD, ESTOP) and buf is not None:
                    if cmd == STOP and buf.actions:
                        result.kept.append(writer.add(buf.episode(task, policy is not None)))
                        pbar.update(1, kept=len(result.kept), discarded=result.discarded)
                    else:
                        result.discarded += 1
                    buf = None
                    index += 1
                    obs, seed = fresh()
                elif cmd == QUIT:
                    quit_now = True
            if quit_now or (config.episodes and len(result.kept) >= config.episodes):
                break

            if buf is not None:
                # --- who acts: the policy unless the person has taken over --------------------
                if policy is not None:
                    policy_action = np.asarray(policy.act(obs), np.float32)
                    human = device.wants_control(obs, policy_action)
                    human_action = device.act(obs) if human else np.zeros_like(policy_action)
                    action = human_action if human else policy_action
                    if human and not was_human:
                        result.interventions += 1
                    was_human = human
                else:
                    human, action = True, device.act(obs)
                    human_action = action
                action = np.asarray(action, np.float32).reshape(task.spec.action.shape)
                obs, reward, terminated, truncated, info = env.step(action)
                result.steps += 1
                buf.add(action, human_action, SOURCE_HUMAN if human else SOURCE_POLICY, obs, float(reward),
                        task.step_success(info))
                if task.episode_done(len(buf.actions), terminated, truncated, buf.step_success[-1]):
                    # the episode ended by itself: keep it
                    result.kept.append(writer.add(buf.episode(task, policy is not None)))
                    pbar.update(1, kept=len(result.kept), discarded=result.discarded)
                    buf = None
                    index += 1
                    obs, seed = fresh()
                    if config.episodes and len(result.kept) >= config.episodes:
                        break

            if wants_frames and render_every and it % render_every == 0:
                status = (f"REC ep {index} step {len(buf.actions)}" + (" [HUMAN]" if was_human else "")
                          if buf is not None else f"idle: b start, q quit | kept {len(result.kept)}")
                try:
                    view.show(env.render(), status)
                except Exception as e:  # no GL backend, no pygame for 2-D tasks...: keep recording, blind
                    wants_frames = False
                    result.view_error = f"{type(e).__name__}: {e}"
            _, woke = rate.wait()
            if rate.period and woke - (rate.next_tick or woke) > rate.period:
                result.late_steps += 1
    finally:
        pbar.close()
        writer.close()
        env.close()
    return result
