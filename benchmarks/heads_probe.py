"""One head on one task of the heads benchmark with one thing changed: the experiments behind the root-cause
section of docs/benchmarks/heads.md (issue 14).

Same protocol as benchmarks/heads.py (its 50 demonstrations, 2000 x 128 steps, evaluation seed 0 on
episodes disjoint from the demonstrations), except for what is changed: `--train key=value` (TrainConfig
fields, e.g. steps=6000), `--policy key=value` (the head's config fields, e.g. hidden_dims=[512,512,512]),
and `--demos N` (the first N of a recording of 100 demonstrations, recording seeds 0..N-1). Each probe
is stored under runs/bench/probe/ and printed as one JSON line. On a Meta-World task the failed episodes
are replayed (the same seeds, so the same episodes) and sorted by what went wrong with the object: never
lifted (it rose less than 2 cm), lifted then dropped (back within 2 cm of its start height), or carried
but not placed (still up at the end). `--grid` probes the heads benchmark's own checkpoint of that
head and training seed (nothing trained): how its failures split; `--execution key=value` sets fields of
the trained head's config that act only at execution (n_action_steps, execution, inference_steps) before
it is evaluated.

    python benchmarks/heads_probe.py --task metaworld/basketball --head mlp --train steps=6000
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from heads import RUNS, STEPS, ExecutedAs, dataset_for, slug  # noqa: E402

from protege.algos.bc import TrainConfig, train_bc  # noqa: E402
from protege.checkpoint import CheckpointActorFactory  # noqa: E402
from protege.data.native import Dataset, load_dataset  # noqa: E402
from protege.envs import get_task  # noqa: E402
from protege.evaluation.evaluate import evaluate  # noqa: E402
from protege.evaluation.rollout import run_episodes  # noqa: E402
from protege.progress import TqdmProgress  # noqa: E402
from protege.recording import record_expert  # noqa: E402


def _pairs(items: list[str]) -> dict:
    out = {}
    for item in items:
        key, _, value = item.partition("=")
        try:
            out[key] = json.loads(value)
        except json.JSONDecodeError:
            out[key] = value
    return out


def _data(task: str, demos: int, progress) -> Dataset:
    if demos == 50:
        return load_dataset(dataset_for(task, progress))
    path = RUNS / "probe" / "data" / f"{slug(task)}-100"
    if not (path / "meta.json").exists():
        record_expert(task, 100, path, seed=0, overwrite=True, progress=progress)
    ds = load_dataset(path)
    return Dataset(ds.episodes[:demos], ds.spec, meta=ds.meta)


def failure_modes(task: str, factory, seeds: list[int]) -> dict[str, int]:
    """Replay failed episodes of a Meta-World task and count how the object (observation 4:7) fared."""
    modes = {"never lifted": 0, "lifted then dropped": 0, "carried, not placed": 0}
    for r in run_episodes(get_task(task), factory, seeds, keep_episodes=True):
        z = r.episode.observations["state"][:, 6]
        rose, end = float(z.max() - z[0]), float(z[-1] - z[0])
        modes["never lifted" if rose < 0.02 else "lifted then dropped" if end < 0.02 else "carried, not placed"] += 1
    return modes


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--task", required=True)
    p.add_argument("--head", required=True)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--demos", type=int, default=50)
    p.add_argument("--train", nargs="*", default=[])
    p.add_argument("--policy", nargs="*", default=[])
    p.add_argument("--episodes", type=int, default=50)
    p.add_argument("--execution", nargs="*", default=[])
    p.add_argument("--grid", action="store_true", help="the heads benchmark's checkpoint, not a new one")
    args = p.parse_args()
    train, policy, execution = _pairs(args.train), _pairs(args.policy), _pairs(args.execution)
    spec = {"task": args.task, "head": args.head, "seed": args.seed, "demos": args.demos, "train": train,
            "policy": policy, "episodes": args.episodes, **({"execution": execution} if execution else {}), **({"grid": True} if args.grid else {})}
    key = hashlib.sha1(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:10]
    folder = RUNS / "probe" / f"{slug(args.task)}-{args.head}-{key}"
    if (folder / "result.json").exists():
        print((folder / "result.json").read_text().strip())
        return
    progress = TqdmProgress()
    ds = _data(args.task, args.demos, progress)
    steps, batch = STEPS[args.task]
    ckpt = RUNS / "heads" / slug(args.task) / f"{args.head}-s{args.seed}" if args.grid else folder / "checkpoint"
    start = time.perf_counter()
    if not args.grid:
        cfg = TrainConfig(**{"steps": steps, "batch_size": batch, "seed": args.seed, **train})
        train_bc(ds, args.head, policy or None, cfg, out=ckpt, progress=progress)
    wall = time.perf_counter() - start
    seeds = ds.meta["provenance"]["episode_seeds"]
    factory = ExecutedAs(str(ckpt), execution) if execution else CheckpointActorFactory(ckpt)
    ev = evaluate(get_task(args.task), factory, args.episodes, seed=0, training_seeds=list(seeds), progress=progress)
    failed = [r.seed for r in ev.results if not r.success]
    modes = failure_modes(args.task, factory, failed) if args.task.startswith("metaworld/") else {}
    out = {**spec, "train_seconds": wall, "failure_modes": modes, "successes": ev.summary.successes, "episodes": ev.summary.episodes,
           "success_rate": ev.summary.success_rate, "mean_length": ev.summary.mean_length}
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "result.json").write_text(json.dumps(out) + "\n")
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
