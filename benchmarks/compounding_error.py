"""Compounding error: how far BC and DAgger learners drift from the expert's trajectory, step by step.

Protocol: take the last-round DAgger learner of `dagger_vs_bc.py` and the BC learner it trained on the
label budget closest to it (every seed it ran). From matched initial states (the same reset seed, `--episodes` held-out
evaluation seeds), run the expert and the learner for a fixed horizon (no early stop) and measure, at each
step t, the distance between the learner's state and the expert's state at t:

- pendulum: the wrapped pole-angle difference (radians);
- Meta-World: the distance between the hand positions plus that between the object positions (metres).

The cost up to horizon T is the sum of the mean per-step deviation over t < T. Behavioural cloning's
analysis predicts that this grows like T^2 (errors compound), DAgger's like T; the slope of log cost
against log T is fitted by least squares over T >= `--fit-from`.

    python benchmarks/compounding_error.py            # every task dagger_vs_bc.py has results for
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _dagger_common import DOCS, RUNS, setup, write  # noqa: E402

from protege.algos.ensemble import Learner  # noqa: E402
from protege.envs import get_task  # noqa: E402
from protege.evaluation.rollout import eval_seeds  # noqa: E402


def features(task_name: str, obs: dict) -> np.ndarray:
    s = np.asarray(obs["state"], np.float64)
    if task_name.startswith("pendulum"):
        return np.array([np.arctan2(s[1], s[0])])
    return np.concatenate([s[0:3], s[4:7]])  # hand xyz, object xyz (Meta-World's first object)


def deviation(task_name: str, a: np.ndarray, b: np.ndarray) -> float:
    if task_name.startswith("pendulum"):
        return float(abs((a[0] - b[0] + np.pi) % (2 * np.pi) - np.pi))
    return float(np.linalg.norm(a[:3] - b[:3]) + np.linalg.norm(a[3:] - b[3:]))


def trajectory(task, env, actor, seed: int, horizon: int) -> np.ndarray:
    obs, _ = env.reset(seed=seed)
    actor.reset()
    out = [features(task.name, obs)]
    for _ in range(horizon - 1):
        obs, _, terminated, truncated, _ = env.step(np.asarray(actor.act(obs), np.float32))
        out.append(features(task.name, obs))
        if terminated or truncated:
            break
    while len(out) < horizon:  # an env that ended early stays where it stopped
        out.append(out[-1])
    return np.stack(out)


def per_step_deviation(task, learner, seeds: list[int], horizon: int) -> np.ndarray:
    env = task.make_env()
    expert = task.make_expert()
    devs = []
    try:
        for s in seeds:
            e = trajectory(task, env, expert, s, horizon)
            learned = trajectory(task, env, learner, s, horizon)
            devs.append([deviation(task.name, x, y) for x, y in zip(learned, e)])
    finally:
        env.close()
    return np.asarray(devs).mean(0)  # (horizon,)


def slope(cost: np.ndarray, fit_from: int) -> float:
    T = np.arange(1, len(cost) + 1)
    keep = (T >= fit_from) & (cost > 0)
    return float(np.polyfit(np.log(T[keep]), np.log(cost[keep]), 1)[0])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--episodes", type=int, default=10)
    p.add_argument("--horizon", type=int, default=0, help="steps per rollout (0 = the task's horizon, at most 200)")
    p.add_argument("--fit-from", type=int, default=5)
    p.add_argument("--late-from", type=int, default=50, help="a second fit over T >= this (past the transient)")
    args = p.parse_args()
    setup()
    out: dict = {}
    for path in sorted((RUNS / "dagger_vs_bc").glob("*/seed*/result.json")):
        res = json.loads(path.read_text())
        task = get_task(res["task"])
        horizon = args.horizon or min(task.horizon, 200)
        if not res["dagger"] or not res["bc"]:
            continue
        d = res["dagger"][-1]  # the last DAgger round, and the BC run closest to it in labels
        b = min(res["bc"], key=lambda row: abs(row["labels"] - d["labels"]))
        seeds = eval_seeds(res["seed"], args.episodes)
        row = {"seed": res["seed"], "round": d["round"], "dagger_labels": d["labels"], "bc_labels": b["labels"],
               "dagger_success": d["success_rate"], "bc_success": b["success_rate"], "horizon": horizon}
        for name, ckpt in (("bc", b["checkpoint"]), ("dagger", d["checkpoint"])):
            dev = per_step_deviation(task, Learner.load([ckpt]), seeds, horizon)
            cost = np.cumsum(dev)
            row[name] = {"deviation": dev.tolist(), "cost": cost.tolist(), "slope": slope(cost, args.fit_from),
                         "slope_late": slope(cost, args.late_from)}
        out.setdefault(task.name, []).append(row)
        print(task.name, res["seed"], {k: round(row[k]["slope"], 2) for k in ("bc", "dagger")}, flush=True)
    report(out, args)


def report(out: dict, args: argparse.Namespace) -> None:
    lines = ["# Compounding error: deviation from the expert's trajectory against horizon", "",
             f"Produced by `python benchmarks/compounding_error.py` ({args.episodes} matched initial states per "
             f"seed; slope of log cumulative deviation against log T, fitted over T >= {args.fit_from}). The "
             "learners are the last-round DAgger learner of `dagger_vs_bc.py` and its BC learner closest in labels. Imitation-learning theory (Ross & Bagnell) predicts a "
             "slope of about 2 for BC and about 1 for DAgger. Both learners start from the expert's own initial "
             "state, so the deviation grows from zero at first; the second pair of slopes leaves that transient "
             "out.", "",
             "| task | seed | labels (BC / DAgger) | success (BC / DAgger) | horizon | cost at T (BC / DAgger) "
             f"| slope BC | slope DAgger | slope BC, T >= {args.late_from} | slope DAgger, T >= {args.late_from} |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for task, rows in out.items():
        for r in rows:
            lines.append(f"| {task} | {r['seed']} | {r['bc_labels']} / {r['dagger_labels']} | "
                         f"{100 * r['bc_success']:.0f}% / {100 * r['dagger_success']:.0f}% | {r['horizon']} | "
                         f"{r['bc']['cost'][-1]:.2f} / {r['dagger']['cost'][-1]:.2f} | {r['bc']['slope']:.2f} | "
                         f"{r['dagger']['slope']:.2f} | {r['bc']['slope_late']:.2f} | {r['dagger']['slope_late']:.2f} |")
    write("compounding_error", {"config": vars(args), "results": out}, "\n".join(lines) + "\n")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, max(1, len(out)), figsize=(5 * max(1, len(out)), 3.8), squeeze=False)
    for ax, (task, rows) in zip(axes[0], out.items()):
        for name, color in (("bc", "C1"), ("dagger", "C0")):
            for j, r in enumerate(rows):
                T = np.arange(1, len(r[name]["cost"]) + 1)
                ax.loglog(T, r[name]["cost"], color=color, alpha=0.8,
                          label=f"{'BC' if name == 'bc' else 'DAgger'} (slope {np.mean([x[name]['slope'] for x in rows]):.2f})"
                          if j == 0 else None)
        T = np.arange(1, len(rows[0]["bc"]["cost"]) + 1)
        ref = rows[0]["bc"]["cost"][args.fit_from - 1]
        for k, ls in ((1, ":"), (2, "--")):
            ax.loglog(T, ref * (T / args.fit_from) ** k, color="grey", ls=ls, lw=0.8, label=f"slope {k}")
        ax.set_title(task)
        ax.set_xlabel("horizon T (steps)")
        ax.set_ylabel("cumulative deviation")
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(DOCS / "compounding_error.png", dpi=120)


if __name__ == "__main__":
    main()
