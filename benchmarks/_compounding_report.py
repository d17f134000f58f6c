"""The markdown table and the figure of `compounding_theory.py` (from its summary dict)."""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import numpy as np

TARGETS = {"bc": (1.7, 2.3), "dagger": (0.7, 1.3)}
NAMES = {"bc": "BC", "dagger": "DAgger"}
COLOURS = {"bc": "C1", "dagger": "C0"}


def _ci(x: list[float], fmt: str = "{:.2f}") -> str:
    return f"[{fmt.format(x[0])}, {fmt.format(x[1])}]"


def markdown(summary: dict, args: argparse.Namespace) -> str:
    T = summary["horizons"]
    chunks = summary["chunks"]
    lines = ["# Compounding error: J(pi) - J(pi*) against the horizon T, BC and DAgger on `lane`", "",
             f"Produced by `OMP_NUM_THREADS=1 python benchmarks/compounding_theory.py` (see its docstring). Task "
             f"`lane[T=..]` (glare {args.glare:g}: a frame misreads the road with that probability); training "
             f"episodes of {args.train_horizon} steps; DAgger: {args.demos} demonstrations + {args.rounds} rounds x "
             f"{args.episodes_per_round} episodes, beta 0.5 halved each round; BC: expert demonstrations with at "
             f"least DAgger's labels; both the `chunked` head (hidden {tuple(args.hidden)}), {args.steps} steps. "
             f"J is the mean summed 0-1 cost over about {args.rollout_steps} / T independent episodes per horizon; "
             "J(pi*) (the expert) is measured too and subtracted. Slope = least-squares slope of log(J - J*) "
             f"against log T over T = {', '.join(map(str, T))}; 95% bootstrap interval over seeds and episodes "
             f"({args.bootstrap} replicates). eps = the learner's error per decision on the expert's own states.",
             "", "## Slopes", "",
             "| chunk k | method | seeds | expert labels | eps (per decision) | slope [95% CI] | per seed | target |",
             "|---|---|---|---|---|---|---|---|"]
    for k, row in chunks.items():
        for m in ("bc", "dagger"):
            r = row[m]
            lo, hi = TARGETS[m]
            met = ("met" if lo <= r["slope"] <= hi and lo <= r["ci"][0] and r["ci"][1] <= hi
                   else "point in range" if lo <= r["slope"] <= hi else "not met") if str(k) == "1" else ""
            lines.append(f"| {k} | {NAMES[m]} | {len(row['seeds'])} | {r['labels']:.0f} | {r['eps_per_decision']:.2e} | "
                         f"{r['slope']:.2f} {_ci(r['ci'])} | {', '.join(f'{s:.2f}' for s in r['per_seed'])} | "
                         f"{f'[{lo}, {hi}]: {met}' if met else ''} |")
    lines += ["", "## J(pi) - J(pi*) per horizon (mean over seeds, 95% bootstrap interval)", "",
              "| chunk k | method | " + " | ".join(f"T={t}" for t in T) + " |", "|---|---|" + "---|" * len(T)]
    for k, row in chunks.items():
        for m in ("bc", "dagger"):
            r = row[m]
            lines.append(f"| {k} | {NAMES[m]} | " + " | ".join(
                f"{g:.3g} {_ci(ci, '{:.3g}')}" for g, ci in zip(r["gap"], r["gap_ci"])) + " |")
        lines.append(f"| {k} | expert J* | " + " | ".join(f"{x:.3g}" for x in row["expert_J"]) + " |")
    if "1" in chunks or 1 in chunks:
        lines += ["", "## Chunking: offset of each curve from k = 1", "",
                  "Offset = mean over T of ln J_k(T) - ln J_1(T) (95% bootstrap interval). Cost is counted per "
                  "step. If each decision errs with the same eps whatever k, the theory's effective horizon T/k "
                  "gives BC J ~ eps (T/k)^2 decisions' worth of k steps each, i.e. eps T^2 / (2k): an offset of "
                  "-ln k per step (-2 ln k counted per decision); DAgger's error costs the rest of its chunk "
                  "(about k steps) once per T/k decisions: no offset. 'predicted' uses each learner's measured eps.",
                  "", "| chunk k | method | offset [95% CI] | predicted | -ln k |", "|---|---|---|---|---|"]
        ref = chunks.get(1) or chunks.get("1")
        for k, row in chunks.items():
            for m in ("bc", "dagger"):
                sh = row[m].get("shift_from_k1")
                if sh is None or int(k) == 1:
                    continue
                ratio = math.log(row[m]["eps_per_decision"] / ref[m]["eps_per_decision"])
                pred = ratio - math.log(int(k)) if m == "bc" else ratio
                lines.append(f"| {k} | {NAMES[m]} | {sh['shift']:+.2f} {_ci(sh['ci'], '{:+.2f}')} | {pred:+.2f} | "
                             f"{-math.log(int(k)):+.2f} |")
    short = [str(k) for k, row in chunks.items() if len(row["seeds"]) < 3]
    if short:
        lines += ["", f"Chunk sizes {', '.join(short)} have fewer than 3 seeds: the run was cut short; the same "
                  "command completes the missing cells and keeps the saved ones."]
    return "\n".join(lines) + "\n"


def plot(summary: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    T = np.asarray(summary["horizons"], np.float64)
    chunks = {int(k): v for k, v in summary["chunks"].items()}
    fig, axes = plt.subplots(1, 2 if len(chunks) > 1 else 1, figsize=(11 if len(chunks) > 1 else 5.5, 4.2),
                             squeeze=False)
    ax = axes[0, 0]
    row = chunks.get(1, next(iter(chunks.values())))
    for m in ("bc", "dagger"):
        r = row[m]
        gap, ci = np.asarray(r["gap"]), np.asarray(r["gap_ci"])
        ax.errorbar(T, gap, yerr=[gap - ci[:, 0], ci[:, 1] - gap], fmt="o-", color=COLOURS[m], capsize=3,
                    label=f"{NAMES[m]}: slope {r['slope']:.2f} [{r['ci'][0]:.2f}, {r['ci'][1]:.2f}]")
    eps = row["bc"]["eps_per_decision"]
    ax.loglog(T, row["bc"]["absorbing_prediction"], color="grey", ls="--", lw=1,
              label=f"theory, never recovers: ~eps T^2/2 (BC's eps = {eps:.1e})")
    ax.loglog(T, row["dagger"]["eps_per_decision"] * T, color="grey", ls=":", lw=1, label="eps T: one step per error")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("horizon T (steps)")
    ax.set_ylabel("J(pi) - J(pi*)  (off-centre steps)")
    ax.set_title("lane: BC compounds (T^2), DAgger does not (T)")
    ax.legend(fontsize=8)
    if len(chunks) > 1:
        ax = axes[0, 1]
        shades = plt.get_cmap("Oranges")(np.linspace(0.45, 0.95, len(chunks)))
        blues = plt.get_cmap("Blues")(np.linspace(0.45, 0.95, len(chunks)))
        for (k, r), c, b in zip(sorted(chunks.items()), shades, blues):
            ax.loglog(T, r["bc"]["gap"], "o-", color=c, label=f"BC k={k} (slope {r['bc']['slope']:.2f})")
            ax.loglog(T, r["dagger"]["gap"], "s--", color=b, ms=3, lw=1,
                      label=f"DAgger k={k} (slope {r['dagger']['slope']:.2f})")
        ax.set_xlabel("horizon T (steps)")
        ax.set_ylabel("J(pi) - J(pi*)")
        ax.set_title("action chunks of k steps: BC's curve drops with k")
        ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
