"""Few demonstrations: BC on pick-place from 10 expert episodes, and what a BC toolkit offers to do better
with the same expert labels (issue 14).

Protocol: `metaworld/pick-place`, 10 expert episodes (recording seeds 0..9, as benchmarks/bc_scaling.py),
the `mlp` head as bc_scaling trains it (dropout 0.1, 3000 steps, batch 256); 3 training seeds; each policy
evaluated on `--eval-episodes` held-out seeds (evaluation seed 0, disjoint from every recording seed and
from the rollout seeds of `rollout`). Methods, every one with 10 expert episodes and nothing else from the
expert:
- `bc`: the baseline (bc_scaling's 10-demonstration row);
- `obs-noise`: Gaussian noise (std 0.1 in normalised units) on the observations while training;
- `rollout`: keep the weights with the best success in 10 rollouts every 500 steps (`--rollout-every`;
  the rollouts are environment episodes without the expert, counted in the table);
- `dart`: DART, 2 rounds of 5 episodes, round 1 recorded with noise at the round-0 learner's error
  (`protege dart`; round 1 uses recording seeds 10000..10004, so its initial states differ from bc's),
  capped at bc's expert labels (`--max-labels`: noisy episodes run longer, so the episode that crosses
  the budget is cut and later ones are not trained on);
- `bc-all`: bc trained on all 10 episodes (`--val-fraction 0`: no episode held out for validation, the
  last weights kept, as robomimic and LeRobot train by default), where bc holds one episode out;
- `dart-half`: dart with the noise at half the learner's error (`--dart.alpha 0.5`);
- `ensemble-dagger`: EnsembleDAgger (`protege dagger --gate ensemble`) from the first 5 of the 10
  episodes, then one round of 10 episodes in which the learner acts and the expert labels only the states
  where the 5-member ensemble disagrees (10% of the learner's states, the default target rate); no cap:
  the expert labels column says how many it asked for (bc: 519);
- `ensemble`: 5 members trained with different seeds, acting with their mean action;
- `chunked`, `act`, `diffusion`, `flow`: bc with that head (its default config) instead of the mlp, the
  same steps and batch: action chunking is the data-efficiency method ACT and Diffusion Policy report.
The expert labels column counts labelled steps trained on.

Every cell (method x seed) is stored under `--runs` as it finishes and reused by later invocations; the
cells already in docs/benchmarks/few_demos.json count as done when their settings match.

    OMP_NUM_THREADS=1 python benchmarks/few_demos.py                       # 5 methods x 3 seeds
    OMP_NUM_THREADS=1 python benchmarks/few_demos.py --methods dart --seeds 0
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any, Callable

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import OUT, pooled_rate, write_outputs  # noqa: E402

from protege.algos.bc import TrainConfig, train_bc  # noqa: E402
from protege.algos.ensemble import LearnerFactory, train_learner  # noqa: E402
from protege.algos.dagger.loop import DaggerConfig, run_dagger  # noqa: E402
from protege.algos.dart import DartConfig, run_dart  # noqa: E402
from protege.checkpoint import CheckpointActorFactory  # noqa: E402
from protege.data.native import Dataset, load_dataset, save_dataset  # noqa: E402
from protege.envs import get_task  # noqa: E402
from protege.evaluation.evaluate import evaluate  # noqa: E402
from protege.policies import MLPConfig  # noqa: E402
from protege.progress import TqdmProgress  # noqa: E402
from protege.recording import record_expert  # noqa: E402

TASK = "metaworld/pick-place"
DEMOS = 10
HEAD_METHODS = ["chunked", "act", "diffusion", "flow"]
METHODS = ["bc", "bc-all", "obs-noise", "rollout", "dart", "dart-half", "ensemble-dagger", "ensemble", *HEAD_METHODS]
TARGET = 0.90
ROLLOUT_EVERY, ROLLOUT_EPISODES, OBS_NOISE, ENSEMBLE, DART_ROUNDS = 500, 10, 0.1, 5, 2


def _settings(args) -> dict[str, Any]:
    return {"task": TASK, "demos": DEMOS, "steps": args.steps, "batch_size": args.batch_size, "dropout": args.dropout,
            "eval_episodes": args.eval_episodes}


def _train(method: str, seed: int, args, demos: Dataset, folder: Path, progress) -> tuple[Callable, dict]:
    """Train one cell; returns the actor factory to evaluate and what it cost (labelled steps, rollouts)."""
    mlp = MLPConfig(dropout=args.dropout, obs_noise=OBS_NOISE if method == "obs-noise" else 0.0)
    train = TrainConfig(steps=args.steps, batch_size=args.batch_size, seed=seed,
                        **({"val_fraction": 0.0} if method == "bc-all" else {}),
                        **({"rollout_every": ROLLOUT_EVERY, "rollout_episodes": ROLLOUT_EPISODES}
                           if method == "rollout" else {}))
    cost = {"expert_episodes": DEMOS, "expert_labels": demos.num_steps, "rollout_episodes": 0}
    if method in ("bc", "bc-all", "obs-noise", "rollout"):
        res = train_bc(demos, "mlp", mlp, train, out=folder / "checkpoint", progress=progress)
        if method == "rollout":
            cost["rollout_episodes"] = ROLLOUT_EPISODES * sum("rollout_success" in h for h in res.history)
            cost["best_rollout_success"] = res.best_rollout_success
        return CheckpointActorFactory(folder / "checkpoint"), cost
    if method in HEAD_METHODS:  # the head's default config: the mlp's dropout setting is not a setting of it
        train_bc(demos, method, None, train, out=folder / "checkpoint", progress=progress)
        return CheckpointActorFactory(folder / "checkpoint"), cost
    if method == "ensemble-dagger":
        first = folder / "demos"
        save_dataset(demos.episodes[:DEMOS // 2], first, demos.spec, task=TASK, overwrite=True)
        dagger = DaggerConfig(task=TASK, gate="ensemble", rounds=1, episodes_per_round=DEMOS, ensemble_size=ENSEMBLE,
                              eval_episodes=1)  # its own evaluation unused: the cell is evaluated below
        result = run_dagger(dagger, folder / "dagger", data=first, train=train, policy_config=mlp, progress=progress)
        cost["expert_episodes"] = DEMOS // 2
        cost["expert_labels"] = result.records[-1]["total_labels"]
        cost["dagger_seeds"] = sorted(int(e.info["seed"]) for e in result.episodes if "seed" in e.info)
        return LearnerFactory(result.learner.paths), cost
    if method == "ensemble":
        learner, _ = train_learner(demos, "mlp", mlp, train, ENSEMBLE, folder / "members", progress=progress)
        return LearnerFactory(learner.paths), cost
    if method in ("dart", "dart-half"):
        dart = DartConfig(episodes=DEMOS, rounds=DART_ROUNDS, max_labels=demos.num_steps,  # bc's labels, no more
                          alpha=0.5 if method == "dart-half" else 1.0)
        result = run_dart(TASK, folder / "dart", dart, "mlp", mlp, train, progress=progress)
        cost["expert_labels"] = result.labelled_steps
        cost["dart_noise"] = [r.noise for r in result.rounds]
        cost["dart_learner_error"] = [r.learner_error for r in result.rounds]
        return CheckpointActorFactory(result.checkpoint), cost
    raise ValueError(method)


def _cell(method: str, seed: int, args, demos: Dataset, progress) -> dict:
    folder = args.runs / "cells" / f"{method}_seed{seed}"
    result_file = folder / "result.json"
    if result_file.exists():
        return json.loads(result_file.read_text())
    t0 = time.perf_counter()
    make_actor, cost = _train(method, seed, args, demos, folder, progress)
    train_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    # every recording seed any method used is kept out of evaluation (DART's round 1 records 10000..)
    summary = evaluate(get_task(TASK), make_actor, args.eval_episodes, seed=0, workers=args.workers,
                       training_seeds=list(range(DEMOS)) + list(range(10_000, 10_000 + DEMOS))
                       + cost.get("dagger_seeds", []),
                       progress=progress).summary
    rec = {"method": method, "seed": seed, **_settings(args), **cost, "successes": summary.successes,
           "episodes": summary.episodes, "success_rate": summary.success_rate, "train_wall_s": train_s,
           "eval_wall_s": time.perf_counter() - t0}
    folder.mkdir(parents=True, exist_ok=True)
    result_file.write_text(json.dumps(rec, indent=2) + "\n")
    return rec


def _same_settings(cells: list[dict], args) -> list[dict]:
    return [c for c in cells if all(c.get(k) == v for k, v in _settings(args).items())]


def _published(args) -> list[dict]:
    path = OUT / "few_demos.json"
    return _same_settings(json.loads(path.read_text())["cells"], args) if path.exists() else []


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--methods", nargs="+", default=METHODS, choices=METHODS)
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    p.add_argument("--steps", type=int, default=3000)
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--dropout", type=float, default=0.1)
    p.add_argument("--eval-episodes", type=int, default=50)
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--runs", type=Path, default=Path("runs/bench_few_demos"))
    args = p.parse_args()
    progress = TqdmProgress()
    for c in _published(args):  # measured before with these settings: reuse, never recompute
        result_file = args.runs / "cells" / f"{c['method']}_seed{c['seed']}" / "result.json"
        if not result_file.exists():
            result_file.parent.mkdir(parents=True, exist_ok=True)
            result_file.write_text(json.dumps(c, indent=2) + "\n")
    record_expert(TASK, DEMOS, args.runs / "data", seed=0, workers=args.workers, progress=progress)
    demos = load_dataset(args.runs / "data")
    for method in args.methods:
        for seed in args.seeds:
            print(json.dumps(_cell(method, seed, args, demos, progress)), flush=True)
    cells = _same_settings([json.loads(f.read_text()) for f in sorted((args.runs / "cells").glob("*/result.json"))],
                           args)
    rows = []
    for method in METHODS:
        group = sorted((c for c in cells if c["method"] == method), key=lambda c: c["seed"])
        if not group:
            continue
        succ, eps = sum(c["successes"] for c in group), sum(c["episodes"] for c in group)
        mean = sum(c["success_rate"] for c in group) / len(group)
        per_seed = ", ".join(f"{100 * c['success_rate']:.0f}" for c in group)
        labels = ", ".join(str(c["expert_labels"]) for c in group)
        rollouts = ", ".join(str(c["rollout_episodes"]) for c in group)
        rows.append(f"| {method} | {100 * mean:.0f}% | {pooled_rate(succ, eps)} | {per_seed} | {labels} | {rollouts} | "
                    f"{max(c['train_wall_s'] for c in group) / 60:.1f} |")
    md = "\n".join([
        "# Few demonstrations: pick-place from 10 expert episodes", "",
        "Produced by `OMP_NUM_THREADS=1 python benchmarks/few_demos.py` (protocol in its docstring). "
        f"Settings: {json.dumps(_settings(args))}. Success: mean over training seeds and the pooled 95% Wilson "
        f"interval; target: at least {100 * TARGET:.0f}% with 10 demonstrations' worth of expert labels.", "",
        "| method | success (mean) | pooled | per seed (%) | expert labels per seed | rollout episodes per seed "
        "| longest training (min) |",
        "|---|---|---|---|---|---|---|", *rows, ""])
    write_outputs("few_demos", {"settings": _settings(args), "cells": cells, "methods": {
        "obs-noise": {"obs_noise": OBS_NOISE}, "rollout": {"every": ROLLOUT_EVERY, "episodes": ROLLOUT_EPISODES},
        "dart": {"rounds": DART_ROUNDS}, "ensemble": {"members": ENSEMBLE}}}, md)


if __name__ == "__main__":
    main()
