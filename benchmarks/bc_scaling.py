"""BC success against the number of demonstrations (issue: foundation).

Protocol: record the largest demonstration set once per task with the scripted expert (recording seeds
0..N-1); for each size n, train BC (`mlp` with dropout 0.1, 3000 steps) on the first n episodes
with 3 training seeds; evaluate each on 50 episodes with evaluation seeds (disjoint from every recording seed);
report mean success over seeds with the pooled 95% Wilson interval over all 150 episodes, and the expert on
the same 50 evaluation seeds.

    python benchmarks/bc_scaling.py                 # pick-place 10/25/50/100 + assembly 50
    python benchmarks/bc_scaling.py --quick         # one seed, fewer steps (smoke run)
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import OUT, write_outputs  # noqa: E402

from protege.algos.bc import TrainConfig, train_bc  # noqa: E402
from protege.checkpoint import CheckpointActorFactory  # noqa: E402
from protege.data.native import Dataset, load_dataset  # noqa: E402
from protege.envs import ExpertFactory, get_task  # noqa: E402
from protege.evaluation.evaluate import evaluate  # noqa: E402
from protege.evaluation.metrics import wilson_interval  # noqa: E402
from protege.policies import MLPConfig  # noqa: E402
from protege.progress import TqdmProgress  # noqa: E402
from protege.recording import record_expert  # noqa: E402

CALIBRATION = {("metaworld/pick-place", 10): 0.80, ("metaworld/pick-place", 25): 0.80,
               ("metaworld/pick-place", 50): 0.92, ("metaworld/assembly", 50): 0.58}


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--quick", action="store_true")
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--eval-episodes", type=int, default=50)
    p.add_argument("--steps", type=int, default=3000)
    p.add_argument("--dropout", type=float, default=0.1)
    args = p.parse_args()
    seeds = [0] if args.quick else [0, 1, 2]
    steps = 1000 if args.quick else args.steps
    policy_config = MLPConfig(dropout=args.dropout)
    grid = {"metaworld/pick-place": [10, 25, 50, 100], "metaworld/assembly": [50]}
    progress = TqdmProgress()
    work = Path(tempfile.mkdtemp(prefix="bc_scaling_"))
    rows, records = [], []
    t_start = time.perf_counter()
    try:
        for task_name, sizes in grid.items():
            task = get_task(task_name)
            data_dir = work / task_name.replace("/", "_")
            record_expert(task_name, max(sizes), data_dir, seed=0, workers=args.workers, progress=progress)
            full = load_dataset(data_dir)
            expert = evaluate(task, ExpertFactory(task_name), args.eval_episodes, seed=0, workers=args.workers,
                              progress=progress).summary
            for n in sizes:
                subset = Dataset(full.episodes[:n], full.spec, full.meta, full.path)
                per_seed, total_succ, total_eps, wall = [], 0, 0, []
                for s in seeds:
                    ckpt = work / f"{task_name.replace('/', '_')}_{n}_{s}"
                    res = train_bc(subset, "mlp", policy_config, TrainConfig(steps=steps, seed=s), out=ckpt, progress=progress)
                    ev = evaluate(task, CheckpointActorFactory(ckpt), args.eval_episodes, seed=0,
                                  workers=args.workers, training_seeds=list(range(n)), progress=progress).summary
                    per_seed.append(ev.success_rate)
                    total_succ += ev.successes
                    total_eps += ev.episodes
                    wall.append(res.wall_seconds)
                lo, hi = wilson_interval(total_succ, total_eps)
                mean = sum(per_seed) / len(per_seed)
                rec = {"task": task_name, "demos": n, "demo_steps": subset.num_steps, "seeds": seeds,
                       "success_per_seed": per_seed, "success_mean": mean, "pooled_ci95": [lo, hi],
                       "expert_success": expert.success_rate, "expert_ci95": [expert.ci_low, expert.ci_high],
                       "train_steps": steps, "train_wall_s_mean": sum(wall) / len(wall),
                       "calibration_reference": CALIBRATION.get((task_name, n))}
                records.append(rec)
                ref = CALIBRATION.get((task_name, n))
                rows.append(f"| {task_name} | {n} | {100 * mean:.0f}% [{100 * lo:.0f}, {100 * hi:.0f}] | "
                            f"{', '.join(f'{100 * x:.0f}' for x in per_seed)} | "
                            f"{'%.0f%%' % (100 * ref) if ref is not None else '-'} | "
                            f"{100 * expert.success_rate:.0f}% | {sum(wall) / len(wall):.0f} s |")
                print(rows[-1], flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    minutes = (time.perf_counter() - t_start) / 60
    md = "\n".join([
        "# BC scaling: success against number of demonstrations", "",
        f"`python benchmarks/bc_scaling.py` ({minutes:.0f} min). Policy `mlp` (3x256, LayerNorm, tanh, MSE, "
        f"dropout {args.dropout}), {steps} steps, batch 256; {len(seeds)} training seeds; {args.eval_episodes} evaluation episodes per seed "
        "on seeds disjoint from the demonstrations. Interval: 95% Wilson over all episodes pooled across seeds. "
        "Reference: a standard BC library's default MLP on the same protocol here.", "",
        "| task | demos | BC success (mean, pooled 95% CI) | per seed (%) | reference BC | expert | train time |",
        "|---|---|---|---|---|---|---|", *rows, ""])
    write_outputs("bc_scaling", {"records": records, "train_steps": steps, "dropout": args.dropout,
                                 "minutes": minutes}, md)
    _plot(records)


def _plot(records: list[dict]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    pp = [r for r in records if r["task"] == "metaworld/pick-place"]
    if not pp:
        return
    fig, ax = plt.subplots(figsize=(5, 3.5))
    xs = [r["demos"] for r in pp]
    ax.errorbar(xs, [100 * r["success_mean"] for r in pp],
                yerr=[[100 * (r["success_mean"] - r["pooled_ci95"][0]) for r in pp],
                      [100 * (r["pooled_ci95"][1] - r["success_mean"]) for r in pp]],
                marker="o", capsize=3, label="protege BC (mlp)")
    ref = [(r["demos"], 100 * r["calibration_reference"]) for r in pp if r["calibration_reference"] is not None]
    if ref:
        ax.plot(*zip(*ref), "s--", color="grey", label="reference BC")
    ax.plot(xs, [100 * r["expert_success"] for r in pp], ":", color="black", label="expert")
    ax.set_xscale("log")
    ax.set_xticks(xs, [str(x) for x in xs])
    ax.set_xlabel("demonstrations")
    ax.set_ylabel("success on held-out seeds (%)")
    ax.set_ylim(0, 105)
    ax.set_title("metaworld/pick-place")
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(OUT / "bc_scaling.png", dpi=120)


if __name__ == "__main__":
    main()
