"""Rollouts of every head on `bimodal`: who averages the two demonstrated ways round, who picks one (issue 3).

Uses the `heads` benchmark's bimodal checkpoints (training seed 0, trained here if missing: 50
demonstrations, default configs) and rolls each out on 50 evaluation episodes (seeds disjoint from the
demonstrations). Each rollout is classified by its largest sideways excursion: "left" / "right" when it
went more than 0.2 m to one side, otherwise "straight" (the regression failure: the average of left and
right is straight on, into the obstacle). Writes multimodality.{json,md,png} to docs/benchmarks/.

    python benchmarks/multimodality.py
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import OUT, write_outputs  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402

from heads import HEADS, RUNS, STEPS, checkpoint_for  # noqa: E402
from protege.checkpoint import CheckpointActorFactory  # noqa: E402
from protege.envs import ExpertFactory, get_task  # noqa: E402
from protege.envs.bimodal import GOAL, OBSTACLE, OBSTACLE_RADIUS  # noqa: E402
from protege.evaluation.rollout import eval_seeds, run_episodes  # noqa: E402
from protege.progress import TqdmProgress  # noqa: E402

SIDE_THRESHOLD = 0.2  # metres sideways before a rollout counts as having picked a side


def classify(xy: np.ndarray) -> str:
    x = xy[:, 0]
    peak = x[np.abs(x).argmax()]
    return "straight" if abs(peak) < SIDE_THRESHOLD else ("left" if peak < 0 else "right")


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--episodes", type=int, default=50)
    p.add_argument("--heads", nargs="+", default=HEADS)
    args = p.parse_args()
    torch.set_num_threads(1)
    progress = TqdmProgress()
    task = get_task("bimodal")
    seeds = eval_seeds(0, args.episodes)
    who = {"expert": ExpertFactory("bimodal")}
    for head in args.heads:
        ckpt = RUNS / "heads" / "bimodal" / f"{head}-s0"
        if not (ckpt / "result.json").exists():  # train it here only when the heads benchmark has not
            ckpt = checkpoint_for("bimodal", head, 0, STEPS["bimodal"], progress)[0]
        who[head] = CheckpointActorFactory(ckpt)
    rows, paths = [], {}
    for name, factory in who.items():
        # rollouts are cached next to the checkpoints, so a rerun only rolls out what changed
        cache = RUNS / "multimodality" / f"{name}-{args.episodes}.npz"
        if not cache.exists():
            results = run_episodes(task, factory, seeds, keep_episodes=True, progress=progress,
                                   desc=f"{name} on bimodal")
            cache.parent.mkdir(parents=True, exist_ok=True)
            np.savez(cache, success=np.array([r.success for r in results]),
                     length=np.array([r.length for r in results]),
                     **{f"xy{i}": r.episode.observations["state"][:, :2] for i, r in enumerate(results)})
        with np.load(cache, allow_pickle=False) as z:
            success, length = z["success"], z["length"]
            xy = [z[f"xy{i}"] for i in range(len(success))]
        sides = [classify(p) for p in xy]
        n = len(success)
        rows.append({"who": name, "episodes": n, "success": float(success.mean()),
                     "collision": float(((~success) & (length < task.horizon)).mean()),
                     **{s: sides.count(s) / n for s in ("left", "right", "straight")}})
        paths[name] = (xy, success.tolist())
    plot(paths, OUT / "multimodality.png")
    lines = ["# Multimodality: rollouts on `bimodal`", "",
             "Produced by `python benchmarks/multimodality.py`: each head trained on the same 50 demonstrations "
             "(training seed 0, default config), 50 evaluation episodes. Side = largest sideways excursion beyond "
             f"{SIDE_THRESHOLD} m; 'straight' = never left the approach line (the average of left and right).", "",
             "![rollouts](multimodality.png)", "",
             "| policy | success | collision | left | right | straight |", "|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['who']} | {100 * r['success']:.0f}% | {100 * r['collision']:.0f}% | {100 * r['left']:.0f}% | "
                     f"{100 * r['right']:.0f}% | {100 * r['straight']:.0f}% |")
    write_outputs("multimodality", {"rows": rows, "seeds": seeds, "side_threshold_m": SIDE_THRESHOLD},
                  "\n".join(lines) + "\n")


def plot(paths: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 4, figsize=(14, 7.5), sharex=True, sharey=True)
    for ax, (name, (xy, ok)) in zip(axes.flat, paths.items()):
        ax.add_patch(plt.Circle(tuple(OBSTACLE), OBSTACLE_RADIUS, color="0.6"))
        ax.plot(*GOAL, marker="*", color="tab:green", markersize=14)
        for p, s in zip(xy, ok):
            ax.plot(p[:, 0], p[:, 1], color="tab:blue" if s else "tab:red", alpha=0.35, lw=1)
        ax.set_title(f"{name}: {100 * np.mean(ok):.0f}% success")
        ax.set_aspect("equal")
        ax.set_xlim(-1, 1)
        ax.set_ylim(-1.2, 1.2)
    for ax in list(axes.flat)[len(paths):]:
        ax.axis("off")
    n = len(next(iter(paths.values()))[0])
    fig.suptitle(f"bimodal: {n} rollouts per policy (blue = success, red = failure)")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=80)


if __name__ == "__main__":
    main()
