"""Recording demonstrations from a task's scripted expert into a native dataset.

Each episode is written as soon as it finishes (atomically), so killing a recording loses at most the
episode in progress, and recording again into the same folder with the same settings resumes it: the
finished episodes are kept and only the missing seeds are run. Episodes depend only on their seed, so a
resumed dataset equals an undisturbed one. meta.json counts the seeds tried (`seeds_done`), which with
`only_successes` is more than the episodes kept. The folder is locked while it is written.
Interactive recording with a person lives in `teleop/`.

`record_tasks` records several tasks (a set such as `metaworld/MT10`, or a comma list) into one dataset,
task after task, each episode tagged with its task name and instruction (`info["task"]`,
`info["instruction"]`); it resumes per task the same way.
"""

from __future__ import annotations

import dataclasses
import json
import shlex
import sys
from pathlib import Path
from typing import Any, Callable, Sequence

from protege.data.atomic import FolderLock, recover_folder
from protege.data.episode import SOURCE_EXPERT
from protege.data.native import DatasetWriter, NoEpisodesError, load_dataset
from protege.envs import ExpertFactory, get_task
from protege.envs.task import Task
from protege.envs.metaworld_sets import instruction_for, resolve_tasks
from protege.errors import ProtegeError, bad_input
from protege.evaluation.rollout import EpisodeResult, record_seeds, run_episodes
from protege.progress import Progress


def record_expert(task_name: str, episodes: int, out: str | Path, seed: int = 0, noise: float = 0.0, workers: int = 1,
                  only_successes: bool = False, overwrite: bool = False, progress: Progress | None = None,
                  report: Callable[[str], None] | None = None, cameras: str | Sequence[str] | None = None,
                  image_size: int | None = None, expert: str | Path | None = None, keep_labels: bool = True) -> Path:
    """Run the task's expert for `episodes` episodes (seeds) and write them to `out` (one atomic file each).

    cameras, image_size: record these cameras beside the task's observation (`task_with_cameras`).
    expert: a policy file to record instead of the task's own expert (`experts/files.py`; None or
        "scripted" = the task's own).
    keep_labels: with `noise`, store the expert's clean action as each step's label (the data then shows
        recoveries, and BC imitates the clean expert); False stores only the executed, noisy action, so
        the demonstrator itself is imperfect, as a person is.

    An existing recording at `out` with the same settings is resumed (or reported complete); one with
    other settings is refused unless `overwrite`, which replaces it only once the new one is complete.
    report: receives the one-line resume / already-complete notice.
    """
    if episodes < 1:
        raise ProtegeError(f"--episodes: expected >= 1, found {episodes}")
    if noise < 0:
        raise ProtegeError(f"--noise: expected >= 0, found {noise}")
    task = task_with_cameras(task_name, cameras, image_size)
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise bad_input(out, None, "a dataset folder (or a new path)", "a file")
    from protege.experts.files import SCRIPTED, expert_factory

    make_expert = expert_factory(task.name, expert)  # a bad --expert file fails before the folder is touched
    seeds = record_seeds(seed, episodes)
    expert_file = str(Path(expert).resolve()) if expert is not None and str(expert) != SCRIPTED else None
    settings = {"expert": task.name, "seed": seed, "noise": noise, "only_successes": only_successes,
                "expert_file": expert_file, "labels": keep_labels}
    command = shlex.join(["protege", *sys.argv[1:]]) if sys.argv else None
    lock = FolderLock(out)
    try:
        recover_folder(out)
        done = 0 if overwrite else _seeds_done(out, task, settings, episodes)
        writer = DatasetWriter(out, task.spec, task=task.name, overwrite=overwrite, append=not overwrite, lock=lock,
                               provenance={"command": command, **settings, "episode_seeds": seeds})
    except BaseException:
        lock.release()
        raise
    if report is not None and done:
        report(f"{out}: {done} of {episodes} episodes already recorded with these settings; "
               + (f"recording the other {episodes - done}" if done < episodes else "nothing left to record"))
    with writer:
        writer.meta["provenance"].update(command=command, episode_seeds=seeds)
        writer.meta["seeds_done"] = done
        writer.save_meta()

        def keep(r: EpisodeResult) -> None:
            writer.meta["seeds_done"] = seeds.index(r.seed) + 1  # written with the episode (or alone)
            if r.episode is not None and (r.success or not only_successes):
                writer.add(r.episode if keep_labels else dataclasses.replace(r.episode, labels=None, label_mask=None))
            else:
                writer.save_meta()

        if done < episodes:
            run_episodes(task, make_expert, seeds[done:], noise=noise, keep_episodes=True,
                         workers=workers, progress=progress, desc=f"record {task.name}", on_result=keep,
                         source=SOURCE_EXPERT)
    return out


def task_with_cameras(task_name: str, cameras: str | Sequence[str] | None = None,
                      image_size: int | None = None) -> Task:
    """The task named, with `cameras` (names, or one string 'corner2,gripperPOV') rendered at `image_size`
    beside its observation. A task that has cameras already (`metaworld-vision/*`) has them replaced; with
    neither given the task is as registered (`metaworld-vision/*` keep their default cameras); an image
    size alone adds the default cameras. The result's name says its cameras, so workers rebuild it by name."""
    task = get_task(task_name)
    if cameras is None and image_size is None:
        return task
    from protege.envs.cameras import parse_cameras, with_cameras

    made = with_cameras(task, parse_cameras(cameras), image_size)
    return get_task(made.name)  # the registry's instance (names with cameras resolve there)


def _seeds_done(out: Path, task: Task, settings: dict[str, Any], episodes: int) -> int:
    """How many of the seeds a recording with `settings` tries are already done at `out` (0 for a new or
    empty folder); refuses, in one line, a dataset recorded otherwise."""
    meta_path = out / "meta.json"
    if not meta_path.exists():
        return 0
    try:
        ds = load_dataset(out)
        meta, recorded = ds.meta, [e.info.get("seed") for e in ds.episodes]
    except NoEpisodesError:
        try:
            meta, recorded = json.loads(meta_path.read_text()), []
        except (json.JSONDecodeError, OSError) as e:
            raise bad_input(meta_path, None, "valid JSON", f"{type(e).__name__}: {e}") from None
    if not isinstance(meta, dict):
        raise bad_input(meta_path, None, "a JSON object", type(meta).__name__)
    prov = meta.get("provenance") if isinstance(meta.get("provenance"), dict) else {}
    replace = "(pass --overwrite to replace it, or choose another --out)"
    if meta.get("task") != task.name or prov.get("expert") != task.name:
        raise ProtegeError(f"{out}: expected a recording of {task.name}'s expert to resume, found a dataset of "
                           f"{meta.get('task')!r} recorded by {prov.get('expert', prov.get('recorded_by'))!r} {replace}")
    if "spec" in meta and meta["spec"] != task.spec.to_dict():
        raise ProtegeError(f"{out}: field 'spec': expected {task.spec.describe()} to resume, found another spec "
                           f"{replace}")
    for key, value in settings.items():
        default = {"only_successes": False, "labels": True}.get(key)  # older recordings lack these keys
        if prov.get(key, default) != value:
            raise ProtegeError(f"{out}: field 'provenance.{key}': expected {value!r} to resume, "
                               f"found {prov.get(key)!r} {replace}")
    known = record_seeds(settings["seed"], max(episodes, len(prov.get("episode_seeds") or []),
                                                int(meta.get("seeds_done", 0) or 0)))
    index = {s: i for i, s in enumerate(known)}
    if any(s not in index for s in recorded) or [index[s] for s in recorded] != sorted(index[s] for s in recorded):
        raise ProtegeError(f"{out}: expected episodes recorded from seeds {known[0]}.. in order to resume, "
                           f"found episode seeds {recorded[:5]}... {replace}")
    done = max(int(meta.get("seeds_done", 0) or 0), index[recorded[-1]] + 1 if recorded else 0)
    if done > episodes:
        raise ProtegeError(f"{out}: expected at most {episodes} episodes (--episodes) to resume, found {done} "
                           f"already recorded {replace}")
    return done


def tag_episode(result: EpisodeResult, task_name: str) -> EpisodeResult:
    """The result with its episode tagged by task name and instruction (`info["task"]`, `info["instruction"]`)."""
    if result.episode is not None:
        info = {**result.episode.info, "task": task_name, "instruction": instruction_for(task_name)}
        result.episode = dataclasses.replace(result.episode, info=info)
    return result


def record_tasks(tasks: str | Sequence[str], episodes_per_task: int, out: str | Path, seed: int = 0,
                 noise: float = 0.0, workers: int = 1, only_successes: bool = False, overwrite: bool = False,
                 progress: Progress | None = None, report: Callable[[str], None] | None = None) -> Path:
    """Record `episodes_per_task` expert episodes of every task in `tasks` (a set name such as
    "metaworld/MT10", a comma list, or a list of names) into one native dataset at `out`.

    Tasks are recorded in order, each with seeds `record_seeds(seed, episodes_per_task)`; every episode is
    tagged with its task name and instruction. meta.json lists the tasks and instructions, and counts the
    seeds tried per task (`seeds_done_per_task`), so an interrupted recording with the same settings resumes
    where it stopped. All tasks must share one observation/action spec.
    """
    if episodes_per_task < 1:
        raise ProtegeError(f"--episodes-per-task: expected >= 1, found {episodes_per_task}")
    if noise < 0:
        raise ProtegeError(f"--noise: expected >= 0, found {noise}")
    set_name = tasks if isinstance(tasks, str) else ",".join(tasks)
    names = resolve_tasks(set_name)
    made = [get_task(n) for n in names]
    for t in made[1:]:
        if t.spec.to_dict() != made[0].spec.to_dict():
            raise bad_input("--task", t.name, f"the spec of {made[0].name} ({made[0].spec.describe()})",
                            t.spec.describe())
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise bad_input(out, None, "a dataset folder (or a new path)", "a file")
    seeds = record_seeds(seed, episodes_per_task)
    instructions = {n: instruction_for(n) for n in names}
    settings = {"expert": set_name, "tasks": names, "seed": seed, "noise": noise, "only_successes": only_successes}
    command = shlex.join(["protege", *sys.argv[1:]]) if sys.argv else None
    lock = FolderLock(out)
    try:
        recover_folder(out)
        done = {n: 0 for n in names} if overwrite else _tasks_done(out, names, settings, episodes_per_task)
        writer = DatasetWriter(out, made[0].spec, task=set_name, overwrite=overwrite, append=not overwrite,
                               lock=lock, provenance={"command": command, **settings, "episode_seeds": seeds})
    except BaseException:
        lock.release()
        raise
    total_done = sum(done.values())
    total = episodes_per_task * len(names)
    if report is not None and total_done:
        report(f"{out}: {total_done} of {total} episodes already recorded with these settings; "
               + (f"recording the other {total - total_done}" if total_done < total else "nothing left to record"))
    with writer:
        writer.meta.update(tasks=names, instructions=instructions, seeds_done_per_task=done)
        writer.meta["provenance"].update(command=command, episode_seeds=seeds)
        writer.save_meta()
        for task in made:
            if done[task.name] >= episodes_per_task:
                continue

            def keep(r: EpisodeResult, name: str = task.name) -> None:
                writer.meta["seeds_done_per_task"][name] = seeds.index(r.seed) + 1  # written with the episode
                if r.episode is not None and (r.success or not only_successes):
                    writer.add(tag_episode(r, name).episode)
                else:
                    writer.save_meta()

            run_episodes(task, ExpertFactory(task.name), seeds[done[task.name]:], noise=noise, keep_episodes=True,
                         workers=workers, progress=progress, desc=f"record {task.name}", on_result=keep,
                         source=SOURCE_EXPERT)
    return out


def _tasks_done(out: Path, names: list[str], settings: dict[str, Any], episodes_per_task: int) -> dict[str, int]:
    """Seeds already tried per task by a multi-task recording with `settings` at `out` (zeros for a new
    folder); refuses, in one line, a dataset recorded otherwise."""
    meta_path = out / "meta.json"
    if not meta_path.exists():
        return {n: 0 for n in names}
    try:
        meta = json.loads(meta_path.read_text())
    except (json.JSONDecodeError, OSError) as e:
        raise bad_input(meta_path, None, "valid JSON", f"{type(e).__name__}: {e}") from None
    if not isinstance(meta, dict):
        raise bad_input(meta_path, None, "a JSON object", type(meta).__name__)
    prov = meta.get("provenance") if isinstance(meta.get("provenance"), dict) else {}
    replace = "(pass --overwrite to replace it, or choose another --out)"
    for key, value in settings.items():
        default = {"only_successes": False, "labels": True}.get(key)  # older recordings lack these keys
        if prov.get(key, default) != value:
            raise ProtegeError(f"{out}: field 'provenance.{key}': expected {value!r} to resume, "
                               f"found {prov.get(key)!r} {replace}")
    done = dict(meta.get("seeds_done_per_task") or {})
    tried = max([episodes_per_task, *[int(v) for v in done.values()]])
    index = {s: i for i, s in enumerate(record_seeds(settings["seed"], tried))}
    try:  # the episode files are the truth where meta.json lags one episode behind after a crash
        for e in load_dataset(out).episodes:
            name, s = e.info.get("task"), e.info.get("seed")
            if name in names and s in index:
                done[name] = max(int(done.get(name, 0)), index[s] + 1)
    except NoEpisodesError:
        pass
    done = {n: int(done.get(n, 0)) for n in names}
    if max(done.values()) > episodes_per_task:
        raise ProtegeError(f"{out}: expected at most {episodes_per_task} episodes per task (--episodes-per-task) to "
                           f"resume, found {max(done.values())} already recorded {replace}")
    return done
