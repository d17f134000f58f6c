"""The learning curve of an RL run: one row per iteration, written as CSV and drawn as PNG."""

from __future__ import annotations

import csv
from pathlib import Path

COLUMNS = ["iteration", "env_steps", "wall_s", "success_rate", "mean_return", "demo_weight", "kl",
           "value_loss", "std_mean", "sample_s", "update_s"]


def write_csv(rows: list[dict[str, float]], path: Path) -> None:
    tmp = path.with_suffix(".csv.tmp")
    with tmp.open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=COLUMNS, extrasaction="ignore")
        w.writeheader()
        for r in rows:
            w.writerow({k: (f"{r[k]:.6g}" if isinstance(r.get(k), float) else r.get(k)) for k in COLUMNS})
    tmp.replace(path)


def read_csv(path: Path) -> list[dict[str, float]]:
    with path.open() as f:
        return [{k: float(v) for k, v in row.items() if v not in ("", None)} for row in csv.DictReader(f)]


def plot_curves(curves: dict[str, list[dict[str, float]]], path: Path, title: str = "") -> None:
    """Success rate and mean return against environment steps, one line per named run."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.6))
    for name, rows in curves.items():
        if not rows:
            continue
        steps = [r["env_steps"] for r in rows]
        ax1.plot(steps, [100 * r["success_rate"] for r in rows], label=name)
        ax2.plot(steps, [r["mean_return"] for r in rows], label=name)
    ax1.set(xlabel="environment steps", ylabel="success rate of sampled episodes (%)", ylim=(-2, 102))
    ax2.set(xlabel="environment steps", ylabel="mean return")
    for ax in (ax1, ax2):
        ax.grid(alpha=0.3)
        ax.legend(loc="best", fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
