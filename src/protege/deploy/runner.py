"""The fixed-rate deployment loop: observe, infer, check, send, on a fixed grid of ticks.

Each tick: wait for the tick (absolute deadlines, `clock.Rate`), check the emergency stop, read the
observation (watchdog on its timestamp), get the action from the executor, pass it through the safety
filter, send it. It measures what a robot engineer asks first:

- period jitter: how late each tick woke up against its scheduled time (ms);
- step latency: from waking to the action being sent (ms), and inference latency (ms) per prediction;
- deadline misses: steps whose action went out after the next tick was due (latency > period).

Any safety stop (non-finite action, stale or unstamped observation, emergency stop), Ctrl-C, SIGTERM or
SIGHUP ends the loop the same way (the signals become `Interrupted`, a KeyboardInterrupt): the safe action
(centre of the bounds: zero velocity / zero torque) is sent, then the robot is disconnected. The stop
reason is in the report; nothing is raised past the loop for those.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Callable

import numpy as np

from protege.deploy.clock import Rate
from protege.deploy.inference import ChunkExecutor
from protege.deploy.robot import EPISODE_START_KEY, TIMESTAMP_KEY, Robot
from protege.deploy.safety import SafetyConfig, SafetyFilter, SafetyStop
from protege.errors import bad_input
from protege.progress import Progress, bar


@dataclass
class DeployConfig:
    hz: float = 50.0
    """Control rate, Hz."""
    steps: int = 0
    """Steps to run (0 = until stopped)."""
    max_delta: float = 0.0
    """Largest change of an action dimension per step, env units (0 = unlimited)."""
    max_obs_age_s: float = 0.25
    """Watchdog: stop when an observation is older than this, seconds (0 = off)."""
    realtime_priority: int = 0
    """Run the loop thread under SCHED_FIFO at this priority (1-99; 0 = ordinary scheduling), as robot
    computers do, so a busy machine cannot delay the tick. Linux only, needs root or CAP_SYS_NICE. Only
    the loop thread is raised: background inference keeps ordinary priority."""
    switch_interval_s: float = 0.0005
    """Python's thread switch interval while running: short, so the loop thread gets the interpreter back
    promptly from a background inference thread (the default 5 ms would eat a quarter of a 50 Hz period)."""

    def __post_init__(self) -> None:  # e.g. steps = -1 would "complete" at once instead of refusing
        for name, ok, expected in [("hz", self.hz > 0, "> 0"), ("steps", self.steps >= 0, ">= 0 (0 = until stopped)"),
                                   ("max_delta", self.max_delta >= 0, ">= 0"),
                                   ("max_obs_age_s", self.max_obs_age_s >= 0, ">= 0 (0 = no watchdog)")]:
            if not ok:
                raise bad_input("deploy config", name, expected, repr(getattr(self, name)))


@dataclass
class DeployReport:
    steps: int
    hz: float
    stop_reason: str
    jitter_ms: dict[str, float]
    step_latency_ms: dict[str, float]
    inference_ms: dict[str, float]
    inference_calls: int
    deadline_misses: int
    miss_fraction: float
    starved_steps: int
    clamped_steps: int
    rate_limited_steps: int
    period_ms: dict[str, float] = field(default_factory=dict)
    realtime: bool = False
    """Whether the loop ran under SCHED_FIFO."""
    observation_to_action_ms: dict[str, float] = field(default_factory=dict)
    """From the observation's timestamp (when the robot measured it: for a camera, the frame) to the
    moment its action is handed to the robot: reading, inference and safety checks. Empty without
    timestamps."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def format(self) -> str:
        return (f"{self.steps} steps at {self.hz:g} Hz{' (SCHED_FIFO loop)' if self.realtime else ''}, "
                f"stopped: {self.stop_reason}\n"
                f"  period jitter ms: median {self.jitter_ms['median']:.3f}, p99 {self.jitter_ms['p99']:.3f}, "
                f"max {self.jitter_ms['max']:.3f}\n"
                f"  step latency ms: median {self.step_latency_ms['median']:.3f}, p99 {self.step_latency_ms['p99']:.3f}\n"
                f"  inference ms ({self.inference_calls} calls): median {self.inference_ms['median']:.3f}, "
                f"p99 {self.inference_ms['p99']:.3f}\n"
                + (f"  observation-to-action ms: median {self.observation_to_action_ms['median']:.3f}, "
                   f"p99 {self.observation_to_action_ms['p99']:.3f}\n" if self.observation_to_action_ms else "") +
                f"  deadline misses: {self.deadline_misses} ({100 * self.miss_fraction:.2f}%), "
                f"starved steps: {self.starved_steps}, clamped: {self.clamped_steps}, "
                f"rate-limited: {self.rate_limited_steps}")


def _summary(values_s: list[float]) -> dict[str, float]:
    if not values_s:
        return {"median": float("nan"), "p99": float("nan"), "max": float("nan"), "mean": float("nan")}
    v = np.asarray(values_s) * 1000.0
    return {"median": float(np.median(v)), "p99": float(np.percentile(v, 99)), "max": float(v.max()),
            "mean": float(v.mean())}


def _enter_realtime(priority: int) -> bool:
    """SCHED_FIFO for the calling thread (Linux applies it per thread); False where not allowed."""
    if priority <= 0 or not hasattr(os, "sched_setscheduler"):
        return False
    try:
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(min(priority, 99)))
        return True
    except (PermissionError, OSError):
        return False


def _leave_realtime() -> None:
    if hasattr(os, "sched_setscheduler") and os.sched_getscheduler(0) == os.SCHED_FIFO:
        os.sched_setscheduler(0, os.SCHED_OTHER, os.sched_param(0))


class Interrupted(KeyboardInterrupt):
    """SIGTERM or SIGHUP while deploying: stopped exactly like Ctrl-C."""

    def __init__(self, name: str):
        super().__init__(name)
        self.name = name


STOP_SIGNALS = tuple(getattr(signal, n) for n in ("SIGTERM", "SIGHUP") if hasattr(signal, n))


def _raise_interrupted(signum: int, frame: Any) -> None:
    for s in STOP_SIGNALS:  # one stop is enough: a second signal must not cut the safe stop short
        signal.signal(s, signal.SIG_IGN)
    raise Interrupted(signal.Signals(signum).name)


class stop_signals:
    """While inside: SIGTERM and SIGHUP raise `Interrupted` (main thread only; elsewhere a no-op)."""

    def __enter__(self) -> "stop_signals":
        self._old = {}
        if threading.current_thread() is threading.main_thread():
            self._old = {s: signal.signal(s, _raise_interrupted) for s in STOP_SIGNALS}
        return self

    def __exit__(self, *exc: Any) -> None:
        for s, old in self._old.items():
            signal.signal(s, old)


def run_deployment(robot: Robot, executor: ChunkExecutor, config: DeployConfig | None = None,
                   estop: Callable[[], bool] | threading.Event | None = None,
                   progress: Progress | None = None) -> DeployReport:
    """Drive `robot` with `executor` at `config.hz` until `config.steps`, a safety stop, Ctrl-C, SIGTERM or
    SIGHUP."""
    with stop_signals():
        return _run(robot, executor, config, estop, progress)


def _run(robot: Robot, executor: ChunkExecutor, config: DeployConfig | None,
         estop: Callable[[], bool] | threading.Event | None, progress: Progress | None) -> DeployReport:
    config = config or DeployConfig()
    is_stopped = estop.is_set if isinstance(estop, threading.Event) else (estop or (lambda: False))
    safety = SafetyFilter(robot.spec, SafetyConfig(max_delta=config.max_delta, max_obs_age_s=config.max_obs_age_s))
    period = 1.0 / config.hz
    jitter: list[float] = []
    latency: list[float] = []
    periods: list[float] = []
    obs_to_action: list[float] = []
    misses = steps = 0
    stop_reason = "completed"
    realtime = False
    pbar = bar(progress, "deploy", config.steps or None, unit="step")
    old_switch = sys.getswitchinterval()
    sys.setswitchinterval(config.switch_interval_s)
    robot.connect()
    try:
        executor.reset()
        obs = robot.get_observation()
        safety.check_observation(obs)
        executor.prime(obs)
        realtime = _enter_realtime(config.realtime_priority)
        rate = Rate(config.hz)
        rate.start()
        first = True
        last_wake = None
        while not (config.steps and steps >= config.steps):
            # --- wait for the tick --------------------------------------------------------------
            scheduled, woke = rate.wait()
            if is_stopped():
                raise SafetyStop("emergency stop", "requested by the operator")
            # --- observe / infer / check / send -------------------------------------------------
            if not first:
                obs = robot.get_observation()
                safety.check_observation(obs)
                if obs.get(EPISODE_START_KEY, False):  # the robot began a new episode: start afresh, as eval does
                    executor.reset()
            first = False
            action = safety.check(executor.act(obs))
            if TIMESTAMP_KEY in obs:  # the robot's clock is time.monotonic() (see robot.py)
                obs_to_action.append(time.monotonic() - float(np.asarray(obs[TIMESTAMP_KEY])))
            robot.send_action(action)
            sent = time.perf_counter()
            # --- account ------------------------------------------------------------------------
            steps += 1
            jitter.append(max(0.0, woke - scheduled))
            latency.append(sent - woke)
            if last_wake is not None:
                periods.append(woke - last_wake)
            last_wake = woke
            misses += int(sent > scheduled + period)
            if steps % 50 == 0:
                pbar.update(50, misses=misses, latency_ms=f"{1000 * np.median(latency[-50:]):.2f}")
    except SafetyStop as e:
        stop_reason = str(e)
    except KeyboardInterrupt as e:
        stop_reason = f"interrupted ({e.name})" if isinstance(e, Interrupted) else "interrupted (Ctrl-C)"
    finally:
        if realtime:
            _leave_realtime()
        sys.setswitchinterval(old_switch)
        pbar.close()
        try:
            robot.send_action(safety.safe_action)
        finally:
            executor.close()
            robot.disconnect()
    return DeployReport(steps=steps, hz=config.hz, stop_reason=stop_reason, jitter_ms=_summary(jitter),
                        step_latency_ms=_summary(latency), inference_ms=_summary(executor.inference_s),
                        inference_calls=len(executor.inference_s), deadline_misses=misses,
                        miss_fraction=misses / max(steps, 1), starved_steps=executor.starved,
                        clamped_steps=safety.clamped_steps, rate_limited_steps=safety.rate_limited_steps,
                        period_ms=_summary(periods), realtime=realtime,
                        observation_to_action_ms=_summary(obs_to_action) if obs_to_action else {})


__all__ = ["DeployConfig", "DeployReport", "run_deployment", "TIMESTAMP_KEY"]
