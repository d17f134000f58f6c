"""Chunk length and execution strategy on one Meta-World task (issue 3).

The `chunked` head (an MLP regressing H actions) trained on the `heads` benchmark's 50 demonstrations for
H in {1, 2, 4, 8, 16} (training seed 0, otherwise its default config), each checkpoint evaluated on 50
evaluation episodes twice: with receding horizon (execute the first max(1, H // 2) actions, then predict
again) and with temporal ensembling (m = 0.01, as in ACT). The execution strategy is swapped at
evaluation time, so both rows for one H share the same weights. Writes chunk_ablation.{json,md,png}.

    python benchmarks/chunk_ablation.py [--task metaworld/pick-place]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import OUT, write_outputs  # noqa: E402

import torch  # noqa: E402

from heads import RUNS, STEPS, dataset_for, slug  # noqa: E402
from protege.algos.bc import TrainConfig, train_bc  # noqa: E402
from protege.checkpoint import PolicyActor, load_checkpoint  # noqa: E402
from protege.data.native import load_dataset  # noqa: E402
from protege.envs import get_task  # noqa: E402
from protege.evaluation.evaluate import evaluate  # noqa: E402
from protege.policies import ChunkedConfig  # noqa: E402
from protege.policies.execution import make_executor  # noqa: E402
from protege.progress import TqdmProgress  # noqa: E402

HORIZONS = [1, 2, 4, 8, 16]
ENSEMBLE_M = 0.01


class ChunkActorFactory:
    """Loads a checkpoint and sets its execution strategy (picklable, for worker processes)."""

    def __init__(self, path: str, execution: str, n_action_steps: int):
        self.path, self.execution, self.n = path, execution, n_action_steps

    def __call__(self) -> PolicyActor:
        policy = load_checkpoint(self.path)
        policy.executor = make_executor(self.execution, policy.horizon, self.n, ENSEMBLE_M)
        return PolicyActor(policy)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--task", default="metaworld/pick-place")
    p.add_argument("--episodes", type=int, default=50)
    p.add_argument("--horizons", nargs="+", type=int, default=HORIZONS)
    p.add_argument("--steps", type=int, default=STEPS["metaworld/pick-place"][0])
    args = p.parse_args()
    torch.set_num_threads(1)
    progress = TqdmProgress()
    task = get_task(args.task)
    data = load_dataset(dataset_for(args.task, progress))
    train_seeds = data.meta["provenance"]["episode_seeds"]
    rows = []
    for H in args.horizons:
        n = max(1, H // 2)
        ckpt = RUNS / "chunk_ablation" / slug(args.task) / f"H{H}"
        if not (ckpt / "done.json").exists():
            cfg = ChunkedConfig(horizon=H, n_action_steps=n)
            res = train_bc(data, "chunked", cfg, TrainConfig(steps=args.steps, batch_size=STEPS[args.task][1], seed=0),
                           out=ckpt, progress=progress)
            (ckpt / "done.json").write_text(json.dumps({"train_seconds": res.wall_seconds, "steps": args.steps}))
        for execution in ("receding", "ensemble"):
            cache = ckpt / f"eval-{execution}.json"
            if not cache.exists():
                ev = evaluate(task, ChunkActorFactory(str(ckpt), execution, n), args.episodes, seed=0,
                              training_seeds=train_seeds, progress=progress)
                cache.write_text(json.dumps(ev.summary.to_dict()))
            s = json.loads(cache.read_text())
            rows.append({"H": H, "execution": execution, "n_action_steps": n if execution == "receding" else 1, **s})
        write(rows, args.task, args.steps, args.episodes)


def write(rows: list[dict], task: str, steps: int, episodes: int) -> None:
    lines = [f"# Chunk length x execution strategy on `{task}`", "",
             f"Produced by `python benchmarks/chunk_ablation.py --task {task} --steps {steps} --episodes {episodes}`: the `chunked` head (MLP regressing H "
             f"actions), 50 demonstrations, training seed 0, {steps} steps of batch {STEPS[task][1]}; {episodes} "
             f"evaluation episodes per row "
             f"(95% Wilson interval). Receding horizon executes max(1, H // 2) actions per chunk; temporal "
             f"ensembling predicts every step and blends live chunks with m = {ENSEMBLE_M}.", "",
             "![chunk ablation](chunk_ablation.png)", "",
             "| H | execution | actions per prediction | success | 95% Wilson | mean length |", "|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['H']} | {r['execution']} | {r['n_action_steps']} | {100 * r['success_rate']:.0f}% | "
                     f"[{100 * r['ci_low']:.0f}, {100 * r['ci_high']:.0f}] | {r['mean_length']:.0f} |")
    write_outputs("chunk_ablation", {"task": task, "rows": rows, "ensemble_m": ENSEMBLE_M}, "\n".join(lines) + "\n")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for execution, colour in (("receding", "tab:blue"), ("ensemble", "tab:orange")):
        rs = [r for r in rows if r["execution"] == execution]
        if not rs:
            continue
        hs = [r["H"] for r in rs]
        y = [100 * r["success_rate"] for r in rs]
        err = [[100 * (r["success_rate"] - r["ci_low"]) for r in rs], [100 * (r["ci_high"] - r["success_rate"]) for r in rs]]
        ax.errorbar(hs, y, yerr=err, marker="o", capsize=3, color=colour, label=execution)
    ax.set_xscale("log", base=2)
    ax.set_xlabel("chunk length H")
    ax.set_ylabel("success (%)")
    ax.set_ylim(-5, 105)
    ax.set_title(f"chunked head on {task}")
    ax.legend()
    fig.tight_layout()
    OUT.mkdir(parents=True, exist_ok=True)
    fig.savefig(OUT / "chunk_ablation.png", dpi=90)


if __name__ == "__main__":
    main()
