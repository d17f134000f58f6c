"""Running an Actor in a task: one episode, or many (optionally in parallel worker processes).

The same loop serves recording (the expert acts, optionally with injected noise, and its clean action is
kept as the label) and evaluation (any Actor acts, nothing is labelled).
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from itertools import count
from typing import TYPE_CHECKING, Any, Callable

import numpy as np

from protege.actor import Actor
from protege.data.episode import SOURCE_POLICY, Episode
from protege.envs.task import Task
from protege.progress import Progress, bar

if TYPE_CHECKING:
    from protege.distributed.executor import Executor

# Seeds for evaluation live far from the seeds recordings use (0 .. 999_999), so a policy is never
# evaluated on the initial states it was trained on unless the user asks for it.
EVAL_SEED_OFFSET = 1_000_000


def record_seeds(seed: int, n: int) -> list[int]:
    """Episode seeds for recording N episodes with base seed `seed`."""
    return [seed * 10_000 + i for i in range(n)]


def eval_seeds(seed: int, n: int) -> list[int]:
    """Episode seeds for evaluating N episodes with base seed `seed` (disjoint from `record_seeds`)."""
    return [EVAL_SEED_OFFSET + seed * 10_000 + i for i in range(n)]


@dataclass
class EpisodeResult:
    seed: int
    success: bool
    ret: float
    length: int
    episode: Episode | None = None
    frames: list[np.ndarray] = field(default_factory=list)
    video: bytes | None = None
    """The episode as an mp4, encoded by the worker that ran it (`EpisodeRunJob.video_fps`)."""


def _seed_policy_sampling(seed: int) -> None:
    """Seed torch's global generator from the episode seed, so a stochastic policy (one that samples a mode
    or denoises from noise) acts the same in an episode whichever worker runs it and whatever ran before.
    torch is only touched when something already imported it (scripted experts do not need it)."""
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.manual_seed(seed)


def run_episode(task: Task, env: Any, actor: Actor, seed: int, *, noise: float = 0.0,
                keep_episode: bool = True, render: bool = False, source: int = SOURCE_POLICY,
                on_frame: Callable[[np.ndarray], None] | None = None) -> EpisodeResult:
    """Run one episode of `actor` in `env` from `reset(seed=seed)`.

    noise: standard deviation of Gaussian noise added to the executed action, as a fraction of the
        action range's half-width (0 = none). The actor's own action is stored as the label.
    render: render a frame at reset and after every step (`env` made with render_mode="rgb_array"); the
        frames are kept in the result, or handed to `on_frame` as they come (and not kept) when it is given.
    """
    rng = np.random.default_rng(seed)
    low = np.asarray(task.spec.action.low, np.float32) if task.spec.action.low is not None else None
    high = np.asarray(task.spec.action.high, np.float32) if task.spec.action.high is not None else None
    half = task.spec.action.half_range().astype(np.float32)  # noise is a fraction of it (1 where unbounded)
    obs, info = env.reset(seed=seed)
    actor.reset()
    _seed_policy_sampling(seed)
    # Only the spec's keys are kept: an env may also hand its expert privileged keys (e.g. the object
    # state of `metaworld-vision/*` under `privileged.state`) that a recording must never contain.
    obs_list: dict[str, list[np.ndarray]] = {k: [] for k in obs if k in task.spec.observation}
    actions, labels, rewards, step_success = [], [], [], []
    frames: list[np.ndarray] = []
    keep_frame = on_frame if on_frame is not None else frames.append
    if render:
        keep_frame(env.render())
    for t in count(1):
        for k, v in obs_list.items():
            v.append(obs[k])
        label = np.asarray(actor.act(obs), np.float32).reshape(task.spec.action.shape)
        action = label
        if noise > 0:
            action = label + rng.normal(0.0, noise, size=label.shape).astype(np.float32) * half
        if low is not None:
            action = np.clip(action, low, high)
        obs, reward, terminated, truncated, info = env.step(action)
        actions.append(action)
        labels.append(label)
        rewards.append(reward)
        step_success.append(task.step_success(info))
        if render:
            keep_frame(env.render())
        if task.episode_done(t, terminated, truncated, step_success[-1]):
            break
    success = task.episode_success(step_success)
    episode = None
    if keep_episode:
        for k, v in obs_list.items():  # keep the final observation: (T+1, ...)
            v.append(obs[k])
        T = len(actions)
        episode = Episode(observations={k: np.stack(v) for k, v in obs_list.items()}, actions=np.stack(actions),
                          labels=np.stack(labels) if noise > 0 else None, rewards=np.asarray(rewards, np.float32),
                          success=success, source=np.full(T, source, np.uint8),
                          info={"seed": int(seed), "task": task.name})
    return EpisodeResult(seed=seed, success=success, ret=float(np.sum(rewards)), length=len(actions),
                         episode=episode, frames=frames)


ActorFactory = Callable[[], Actor]


@dataclass
class EpisodeRunJob:
    """`run_episode` for one seed as an executor job (`protege.distributed.executor`): a worker builds the
    env and the actor once, then runs seeds. Picklable when `make_actor` is; the task travels by name
    (a worker resolves it again from the registry), the live `task` object only serves this process.

    video_fps > 0: the worker renders every episode it runs and returns it encoded as an mp4
    (`EpisodeResult.video`, tens of kB), so frames never cross a process or a network."""
    task_name: str
    make_actor: ActorFactory
    noise: float = 0.0
    keep_episodes: bool = False
    source: int = SOURCE_POLICY
    task: Task | None = None
    video_fps: float = 0.0
    key: str = field(default_factory=lambda: __import__("uuid").uuid4().hex)

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "task": None}

    def setup(self) -> tuple[Task, Any, Actor]:
        from protege.envs.registry import get_task

        task = self.task if self.task is not None else get_task(self.task_name)
        if not self.video_fps:
            env = task.make_env()
        else:
            from protege.evaluation.video import choose_gl_backend, rendering_error

            choose_gl_backend()
            try:
                env = task.make_env(render_mode="rgb_array")
            except Exception as e:  # GL errors surface as many different types
                raise rendering_error(f"videos of {task.name}", e) from None
        try:
            return task, env, self.make_actor()
        except BaseException:
            env.close()
            raise

    def run(self, state: tuple[Task, Any, Actor], seed: int) -> EpisodeResult:
        task, env, actor = state
        if not self.video_fps:
            return run_episode(task, env, actor, seed, noise=self.noise, keep_episode=self.keep_episodes,
                               source=self.source)
        return self._run_filmed(task, env, actor, seed)

    def _run_filmed(self, task: Task, env: Any, actor: Actor, seed: int) -> EpisodeResult:
        """The episode with its video: frames streamed into the encoder, the mp4's bytes in the result."""
        import tempfile
        from pathlib import Path

        from protege.errors import ProtegeError
        from protege.evaluation.video import VideoWriter, rendering_error

        with tempfile.TemporaryDirectory(prefix="protege-video-") as tmp:
            writer = VideoWriter(Path(tmp) / f"{seed}.mp4", self.video_fps)
            try:
                result = run_episode(task, env, actor, seed, noise=self.noise, keep_episode=self.keep_episodes,
                                     source=self.source, render=True, on_frame=writer.add)
            except ProtegeError:
                writer.abort()
                raise
            except Exception as e:
                writer.abort()
                if writer.frames == 0:  # the first render failed: GL, in one line
                    raise rendering_error(f"video of episode {seed}", e) from None
                raise
            result.video = writer.close().read_bytes()
        return result

    def teardown(self, state: tuple[Task, Any, Actor]) -> None:
        state[1].close()


def run_episodes(task: Task, make_actor: ActorFactory, seeds: list[int], *, noise: float = 0.0,
                 keep_episodes: bool = False, workers: int = 1, progress: Progress | None = None,
                 desc: str = "episodes", on_result: Callable[[EpisodeResult], None] | None = None,
                 source: int = SOURCE_POLICY, executor: "Executor | None" = None,
                 video_fps: float = 0.0) -> list[EpisodeResult]:
    """Run one episode per seed; results come back in seed order, the same whichever executor ran them.

    make_actor: builds the Actor (called once per worker; must be picklable when workers > 1, e.g. a
        module-level function or `functools.partial`).
    workers: processes running episodes in parallel (1 = in this process); ignored when `executor` is given.
    executor: where episodes run (`protege.distributed.make_executor`: this process, worker processes or
        Ray); left open for the caller to reuse. A worker that dies has its unfinished episodes run again.
    on_result: called in this process as each episode finishes (in seed order), e.g. to write it to disk.
    video_fps: > 0 = each episode rendered where it runs and returned as mp4 bytes (`EpisodeResult.video`).
    """
    from protege.distributed.executor import make_executor

    pbar = bar(progress, desc, len(seeds), unit="ep")
    results: list[EpisodeResult] = []
    steps = successes = 0
    start = time.perf_counter()
    own = executor is None
    if executor is None:
        executor = make_executor(max(1, min(workers, len(seeds))))
    retried_before = len(executor.retried)

    def _done(seed: int, r: EpisodeResult) -> None:
        nonlocal steps, successes
        results.append(r)
        steps += r.length
        successes += int(r.success)
        if on_result is not None:
            on_result(r)
        retried = len(executor.retried) - retried_before
        pbar.update(1, success=f"{successes}/{len(results)}", steps_per_s=steps / max(time.perf_counter() - start, 1e-9),
                    **({"rerun": retried} if retried else {}))

    job = EpisodeRunJob(task.name, make_actor, noise, keep_episodes, source, task=task, video_fps=video_fps)
    try:
        executor.map(job, list(seeds), _done)
    finally:
        pbar.close()
        if own:
            executor.close()
    return results
