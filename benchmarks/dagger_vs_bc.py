"""Success against expert labels: BC with more demonstrations vs DAgger rounds, same label budgets.

Protocol, per task and seed: DAgger starts from `--demos` scripted demonstrations (recording seeds
seed*10000 + i) and runs `--rounds` rounds of `--episodes-per-round` episodes (beta 0.5, halved each
round; every visited state labelled), retraining an `mlp` from scratch each round. After each round its
cumulative label count L is a budget: BC trains the same head with the same steps on the first k
demonstrations of the same recording, k the smallest count whose steps reach L (so BC never gets fewer
labels). Both are evaluated on the same held-out seeds. DAgger runs are resumable folders under
runs/bench/dagger_vs_bc/; BC checkpoints are kept there for `compounding_error.py`.

    python benchmarks/dagger_vs_bc.py --task pendulum --seeds 0 1 2 --demos 2 --episodes-per-round 2 --steps 500
    python benchmarks/dagger_vs_bc.py --task metaworld/pick-place --seeds 0 --demos 10 --steps 2000
    python benchmarks/dagger_vs_bc.py --task metaworld/pick-place --seeds 0 --demos 10 --episodes-per-round 10 \
        --steps 2000 --reuse runs/bench/gates/dagger     # BC beside the DAgger run of benchmarks/gates.py
    python benchmarks/dagger_vs_bc.py --report-only
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import pooled_rate  # noqa: E402
from _dagger_common import DOCS, RUNS, setup, write  # noqa: E402

from protege.algos.bc import TrainConfig, train_bc  # noqa: E402
from protege.algos.dagger import DaggerConfig, run_dagger  # noqa: E402
from protege.checkpoint import CheckpointActorFactory  # noqa: E402
from protege.data.native import Dataset, load_dataset  # noqa: E402
from protege.envs import get_task  # noqa: E402
from protege.evaluation.evaluate import evaluate  # noqa: E402
from protege.progress import TqdmProgress  # noqa: E402
from protege.recording import record_expert  # noqa: E402

ROOT = RUNS / "dagger_vs_bc"


def slug(task: str) -> str:
    return task.replace("/", "_")


def run_one(args: argparse.Namespace, seed: int) -> dict:
    task = get_task(args.task)
    progress = TqdmProgress()
    base = ROOT / slug(args.task) / f"seed{seed}"
    cfg = DaggerConfig(task=args.task, gate="dagger", rounds=args.rounds, episodes_per_round=args.episodes_per_round,
                       demos=args.demos, eval_episodes=args.eval_episodes, seed=seed, beta0=0.5, beta_decay=0.5)
    if args.reuse:  # a DAgger run with this protocol, e.g. benchmarks/gates.py's dagger run (its rounds so far)
        path = Path(args.reuse) / "rounds.json"
        dagger = json.loads(path.read_text()) if path.exists() else []
    else:
        dagger = run_dagger(cfg, base / "dagger", train=TrainConfig(steps=args.steps), progress=progress).records
    budgets = [r["total_labels"] for r in dagger]
    # one recording, long enough for the largest budget; BC uses its first k episodes
    demos_dir = base / "demos"
    if not demos_dir.exists():
        est = max(args.bc_demos) if args.bc_demos else int(np.ceil(budgets[-1] / max(1, budgets[0] / args.demos))) + 5
        record_expert(args.task, est, demos_dir, seed=seed, progress=progress)
    demos = load_dataset(demos_dir)
    steps = np.cumsum([len(e) for e in demos.episodes])
    counts = args.bc_demos or [int(np.searchsorted(steps, b) + 1) for b in budgets]
    bc = []
    for k in counts:
        if k > len(demos):
            break
        ckpt = base / f"bc_{k}"
        result_path = ckpt / "eval.json"
        if result_path.exists():
            bc.append(json.loads(result_path.read_text()))
            continue
        train_bc(Dataset(demos.episodes[:k], demos.spec, demos.meta, demos.path), "mlp", None,
                 TrainConfig(steps=args.steps, seed=100_000 * seed), out=ckpt, progress=progress)
        s = evaluate(task, CheckpointActorFactory(ckpt), args.eval_episodes, seed, progress=progress).summary
        row = {"demos": k, "labels": int(steps[k - 1]), "success_rate": s.success_rate, "ci_low": s.ci_low,
               "ci_high": s.ci_high, "checkpoint": str(ckpt)}
        result_path.write_text(json.dumps(row))
        bc.append(row)
    return {"seed": seed, "dagger": [{"round": r["round"], "labels": r["total_labels"],
                                      "success_rate": r["success_rate"], "ci_low": r["ci_low"], "ci_high": r["ci_high"],
                                      "checkpoint": r["checkpoints"][0]} for r in dagger], "bc": bc}


def report() -> None:
    results: dict[str, list[dict]] = {}
    for path in sorted(ROOT.glob("*/seed*/result.json")):
        data = json.loads(path.read_text())
        results.setdefault(data["task"], []).append(data)
    lines = ["# DAgger vs BC: success against expert labels", "",
             "Produced by `python benchmarks/dagger_vs_bc.py` (see its docstring for the protocol and the exact "
             "commands). DAgger after each round, and BC on the fewest demonstrations reaching at least as "
             "many labels (or on fixed demonstration counts where noted). Success is the mean over seeds; the "
             "interval is the 95% Wilson interval of the pooled evaluation episodes.", ""]
    for task, runs in results.items():
        cfg = runs[0]["config"]
        lines += [f"## {task}", "",
                  f"{len(runs)} seed(s) ({', '.join(str(r['seed']) for r in runs)}); DAgger from {cfg['demos']} "
                  f"demonstrations, {cfg['episodes_per_round']} episodes per round; {cfg['steps']} BC steps; "
                  f"{cfg['eval_episodes']} evaluation episodes per policy and seed.", "",
                  "| method | demonstrations / round | expert labels (mean over seeds) | success [95% CI] |",
                  "|---|---|---|---|"]
        for name in ("bc", "dagger"):
            n = min(len(r[name]) for r in runs)
            for i in range(n):
                rows = [r[name][i] for r in runs]
                which = f"{rows[0]['demos']} demos" if name == "bc" else f"{cfg['demos']} demos + round {rows[0]['round']}"
                lines.append(f"| {'BC' if name == 'bc' else 'DAgger'} | {which} | "
                             f"{np.mean([x['labels'] for x in rows]):.0f} | {pooled(rows, cfg['eval_episodes'])} |")
        lines.append("")
    write("dagger_vs_bc", {"results": results}, "\n".join(lines) + "\n")
    plot(results)


def pooled(rows: list[dict], episodes: int) -> str:
    return pooled_rate(int(round(sum(r["success_rate"] * episodes for r in rows))), episodes * len(rows))


def plot(results: dict) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, max(1, len(results)), figsize=(5 * max(1, len(results)), 3.8), squeeze=False)
    for ax, (task, runs) in zip(axes[0], results.items()):
        for name, color in (("dagger", "C0"), ("bc", "C1")):
            n = min(len(r[name]) for r in runs)
            if n == 0:
                continue
            x = np.mean([[row["labels"] for row in r[name][:n]] for r in runs], axis=0)
            y = 100 * np.array([[row["success_rate"] for row in r[name][:n]] for r in runs])
            ax.plot(x, y.mean(0), marker="o", color=color, label="DAgger" if name == "dagger" else "BC")
            if len(runs) > 1:
                ax.fill_between(x, y.min(0), y.max(0), color=color, alpha=0.15)
        ax.set_title(f"{task} ({len(runs)} seed{'s' if len(runs) > 1 else ''})")
        ax.set_xlabel("expert labels")
        ax.set_ylabel("success rate (%)")
        ax.set_ylim(-3, 103)
        ax.legend()
    fig.tight_layout()
    fig.savefig(DOCS / "dagger_vs_bc.png", dpi=120)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--task", default="pendulum")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--demos", type=int, default=2)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--episodes-per-round", type=int, default=2)
    p.add_argument("--steps", type=int, default=500)
    p.add_argument("--eval-episodes", type=int, default=20)
    p.add_argument("--bc-demos", type=int, nargs="+", default=None,
                   help="BC on these demonstration counts instead of DAgger's label budgets")
    p.add_argument("--reuse", default=None, help="read the DAgger records of this finished run folder (one seed)")
    p.add_argument("--report-only", action="store_true")
    args = p.parse_args()
    setup()
    if not args.report_only:
        for seed in args.seeds:
            result = run_one(args, seed)
            out = ROOT / slug(args.task) / f"seed{seed}" / "result.json"
            out.write_text(json.dumps({"task": args.task, "config": vars(args), **result}, indent=2))
    DOCS.mkdir(parents=True, exist_ok=True)
    report()


if __name__ == "__main__":
    main()
