"""Evaluate any Actor on a task: success rate with a 95% Wilson interval, return, length, optional videos.

Two kinds of video: `video` renders the first few episodes again, here, into one mp4; `videos` films every
episode in the worker that runs it and writes one mp4 per episode, named by index, seed and outcome
(`episode_video_name`), so every rollout, failures included, can be watched.

Evaluation episodes use seeds disjoint from recording seeds (see `rollout.eval_seeds`); when the
checkpoint records the seeds it was trained on, an overlap is refused unless the caller allows it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from protege.actor import Actor
from protege.envs.task import Task
from protege.errors import ProtegeError
from protege.evaluation.metrics import EvalSummary, summarize
from protege.evaluation.rollout import ActorFactory, EpisodeResult, eval_seeds, run_episode, run_episodes
from protege.progress import Progress


@dataclass
class EvalResult:
    summary: EvalSummary
    results: list[EpisodeResult] = field(default_factory=list)
    seeds: list[int] = field(default_factory=list)
    video: str | None = None
    videos: list[str] | None = None
    """One mp4 per episode (in the order of `results`) when evaluated with `videos=DIR`."""

    def to_dict(self) -> dict[str, Any]:
        per = [{"seed": r.seed, "success": r.success, "return": r.ret, "length": r.length} for r in self.results]
        if self.videos is not None:
            for row, v in zip(per, self.videos):
                row["video"] = v
        return {**self.summary.to_dict(), "seeds": self.seeds, "video": self.video, "per_episode": per}


def episode_video_name(index: int, seed: int, success: bool, episodes: int) -> str:
    """`003-seed1000003-failure.mp4`: the episode's place in the evaluation, its seed and its outcome."""
    width = max(3, len(str(episodes - 1)))
    return f"{index:0{width}d}-seed{seed}-{'success' if success else 'failure'}.mp4"


def _write_episode_video(folder: Path, name: str, data: bytes) -> str:
    """Write one episode's mp4 atomically; a video of the same seed from an earlier evaluation with the
    other outcome is removed, so the folder never shows one seed twice."""
    from protege.data.atomic import atomic_write_bytes

    other = re.sub(r"-(success|failure)\.mp4$", lambda m: "-failure.mp4" if m[1] == "success" else "-success.mp4", name)
    (folder / other).unlink(missing_ok=True)
    atomic_write_bytes(folder / name, lambda f: f.write(data))
    return str(folder / name)


def check_finite_weights(module: Any, who: str) -> None:
    """Refuse a policy with a NaN or infinite weight (or buffer, e.g. normalisation statistics): it can only
    send non-finite actions to the robot. The message names the first such tensor."""
    import torch

    state = module.state_dict() if hasattr(module, "state_dict") else {}
    for name, t in state.items():
        if torch.is_floating_point(t) and not bool(torch.isfinite(t).all()):
            bad = int((~torch.isfinite(t)).sum())
            raise ProtegeError(f"{who}: tensor '{name}': expected finite weights, found {bad} of {t.numel()} "
                               f"values NaN or infinite")


class FiniteActions:
    """An Actor wrapper that refuses a non-finite action before it reaches `env.step`."""

    def __init__(self, actor: Actor, who: str):
        self.actor, self.who, self.t = actor, who, 0

    def reset(self) -> None:
        self.t = 0
        self.actor.reset()

    def act(self, obs: Any) -> np.ndarray:
        action = np.asarray(self.actor.act(obs))
        if not np.all(np.isfinite(action)):
            raise ProtegeError(f"{self.who}: expected finite actions, found {action.ravel()[:6].tolist()} at step "
                               f"{self.t} of an episode (NaN or infinite outputs: is the checkpoint damaged?)")
        self.t += 1
        return action

    def __getattr__(self, name: str) -> Any:  # anything else the loop asks of the actor (name, policy ...)
        if name == "actor":  # not set yet (e.g. while copying): no recursion
            raise AttributeError(name)
        return getattr(self.actor, name)


@dataclass
class FiniteActionsFactory:
    """Picklable (for worker processes): builds the actor of `make_actor` wrapped in `FiniteActions`."""
    make_actor: ActorFactory
    who: str

    def __call__(self) -> FiniteActions:
        return FiniteActions(self.make_actor(), self.who)


def evaluate(task: Task, make_actor: ActorFactory, episodes: int = 50, seed: int = 0, workers: int = 1,
             seeds: list[int] | None = None, training_seeds: list[int] | None = None,
             allow_seed_overlap: bool = False, video: str | Path | None = None, video_episodes: int = 3,
             progress: Progress | None = None, who: str = "the evaluated actor",
             executor: Any = None, videos: str | Path | None = None) -> EvalResult:
    """Run `episodes` evaluation episodes of the Actor that `make_actor` builds.

    training_seeds: episode seeds of the training data; overlapping evaluation seeds are refused unless
        `allow_seed_overlap`.
    video: write an mp4 of the first `video_episodes` episodes (rendered again, in this process).
    videos: a folder for one mp4 per episode (`episode_video_name`), each filmed by the worker that ran the
        episode and written here as its result arrives (an interrupted evaluation keeps the videos it had).
    who: names the actor in the error a non-finite action raises (before it is sent to the env).
    executor: where the episodes run (`protege.distributed.make_executor`: this process, worker processes,
        Ray); None = `workers` processes. Per-seed results are the same whichever runs them.
    """
    make_actor = FiniteActionsFactory(make_actor, who)
    if episodes < 1:
        raise ProtegeError(f"--episodes: expected >= 1, found {episodes}")
    seeds = list(seeds) if seeds is not None else eval_seeds(seed, episodes)
    if training_seeds and not allow_seed_overlap:
        overlap = sorted(set(seeds) & set(training_seeds))
        if overlap:
            raise ProtegeError(f"evaluation seeds: expected none of the training episodes' seeds, found "
                               f"{len(overlap)} shared (e.g. {overlap[:3]}); pass --allow-seed-overlap to evaluate "
                               f"on training initial states")
    video_paths: list[str] | None = None
    on_result = None
    if videos is not None:
        folder = Path(videos)
        folder.mkdir(parents=True, exist_ok=True)
        video_paths = []
        index = {s: i for i, s in enumerate(seeds)}

        def on_result(r: Any) -> None:
            name = episode_video_name(index[r.seed], r.seed, r.success, len(seeds))
            video_paths.append(_write_episode_video(folder, name, r.video))
            r.video = None  # on disk now: the bytes need not stay in memory

    results = run_episodes(task, make_actor, seeds, workers=workers, progress=progress, desc=f"eval {task.name}",
                           executor=executor, on_result=on_result, video_fps=task.fps if videos is not None else 0.0)
    summary = summarize([r.success for r in results], [r.ret for r in results], [r.length for r in results])
    video_path = None
    if video is not None:
        video_path = str(render_video(task, make_actor, seeds[:video_episodes], video))
    return EvalResult(summary=summary, results=results, seeds=seeds, video=video_path, videos=video_paths)


def render_video(task: Task, make_actor: ActorFactory, seeds: list[int], path: str | Path) -> Path:
    from protege.evaluation.video import choose_gl_backend, rendering_error, write_video

    choose_gl_backend()
    env = None
    frames = []
    try:  # GL fails as early as the first import of mujoco, which may come with the env or the actor
        env = task.make_env(render_mode="rgb_array")
        actor = make_actor()
        for s in seeds:
            frames.extend(run_episode(task, env, actor, s, keep_episode=False, render=True).frames)
    except ProtegeError:
        raise
    except Exception as e:  # GL errors surface as many different types
        raise rendering_error(f"--video {path}", e) from None
    finally:
        if env is not None:
            env.close()
    return write_video(path, frames, task.fps)
