"""DAPG's headline table on the Adroit hand (issue 15): BC alone, RL alone and DAPG on door, hammer and
relocate with 25 demonstrations, beside the numbers of the paper (Rajeswaran et al., RSS 2018, Table 1).

Rows (`--row`): door-human (the paper's 25 human demonstrations, read in place from the Minari layout in
`--adroit`/door-human), and <task>-expert for door, hammer, relocate, pen (25 demonstrations recorded from
the DAPG authors' policy, `--adroit`/experts/<task>.json, with Gaussian noise of `--noise` x the action
half-range on every executed action, stored without the clean label so the demonstrator is imperfect).
Cells (`--cell`), each a separate, resumable run:
  bc    BC alone: DAPG's own BC stage (a Gaussian policy by maximum likelihood), executed with its mean;
  dapg  that BC policy, then NPG with the demonstration term, for `--env-steps` environment steps;
  rl    RL alone: a fresh Gaussian policy, NPG for the same budget.
Every cell is evaluated on the same 50 held-out seeds (mean action, 95% Wilson interval). A finished
cell writes `docs/benchmarks/dapg_adroit/<row>_<cell>.json`; running it again with the same settings
does nothing, and a killed run resumes from its last iteration (the run folders under `--runs`).
`--bc-std demos` runs a cell as a variant (DAPG's BC stage with the std set from the demonstrations, as
hand_dapg does; `protege.algos.rl.dapg.BC_STDS`): its own run folder and cell file
`<row>_<cell>_bcstd-demos.json`, listed under the table beside the default cell it varies. `--seed N`
(N > 0) likewise runs another training seed as a variant (`_seed1`, or `_bcstd-demos_seed1`); the list
pools each variant's seeds (successes over all their episodes, one Wilson interval).
`--table-only` (and every finished cell) rebuilds `docs/benchmarks/dapg_adroit.{md,json}` and the
learning curves `docs/benchmarks/dapg_adroit_<row>.png` from the cell files present.

    OMP_NUM_THREADS=1 nice -n 10 python benchmarks/dapg_adroit.py --row door-human --cell dapg
    python benchmarks/dapg_adroit.py --table-only
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import OUT, ROOT, pooled_rate, write_outputs  # noqa: E402

from protege.algos.bc import TrainConfig  # noqa: E402
from protege.algos.rl import RLConfig, rl_from_scratch, run_dapg  # noqa: E402
from protege.algos.rl.curve import plot_curves  # noqa: E402
from protege.algos.rl.dapg import BC_STDS, bc_stage, bc_wall_seconds  # noqa: E402
from protege.algos.rl.npg import NPGConfig  # noqa: E402
from protege.checkpoint import CheckpointActorFactory  # noqa: E402
from protege.data.formats import load_any  # noqa: E402
from protege.envs import get_task  # noqa: E402
from protege.evaluation.evaluate import evaluate  # noqa: E402
from protege.progress import TqdmProgress  # noqa: E402
from protege.recording import record_expert  # noqa: E402

CELL_DIR = OUT / "dapg_adroit"
ROWS = {"door-human": ("door", "human"), "door-expert": ("door", "expert"), "hammer-expert": ("hammer", "expert"),
        "relocate-expert": ("relocate", "expert"), "pen-expert": ("pen", "expert")}
CELLS = {"bc": "BC alone", "rl": "RL alone", "dapg": "DAPG"}
PAPER = {"door": {"RL alone": 0, "BC alone": 45, "DAPG": 95}, "hammer": {"RL alone": 0, "BC alone": 30, "DAPG": 88},
         "relocate": {"RL alone": 12, "BC alone": 52, "DAPG": 92}}
"""The paper's Table 1 (%, 25 human demonstrations; RL alone with 1M steps), as the issue quotes it."""


def demonstrations(row: str, args) -> tuple[object, list[int], str]:
    """(dataset, its episode seeds, description) for a row; expert demonstrations are recorded (resumably)."""
    short, kind = ROWS[row]
    if kind == "human":
        ds = load_any(args.adroit / "door-human")
        return ds, [int(e.info["seed"]) for e in ds.episodes if "seed" in e.info], \
            f"{len(ds)} human demonstrations ({args.adroit.name}/door-human)"
    out = args.runs / "demos" / f"{short}_{args.demos}_noise{args.noise:g}"
    record_expert(f"adroit/{short}", args.demos, out, seed=0, noise=args.noise, keep_labels=False,
                  expert=args.adroit / "experts" / f"{short}.json", progress=TqdmProgress())
    ds = load_any(out)
    return ds, ds.meta["provenance"]["episode_seeds"], \
        f"{len(ds)} expert demonstrations, executed-action noise {args.noise:g} ({ds.num_success} successful)"


def settings(args, cell: str) -> dict:
    s = {"demos": args.demos, "eval_episodes": args.eval_episodes, "bc_steps": args.bc_steps, "seed": args.seed}
    if cell != "bc":
        s.update(env_steps=args.env_steps, episodes_per_iter=args.episodes_per_iter, kl_step=args.kl_step)
    if cell == "dapg":
        s.update(lambda0=args.lambda0, lambda1=args.lambda1)
    if args.bc_std != BC_STDS[0]:  # the default is left out, so cells run before the option still match
        s["bc_std"] = args.bc_std
    return s


def variant(args) -> str:
    """'' for the default settings, else the suffix of the cell file and run folder: `_bcstd-demos` for the
    demonstrations' std, `_seed1` for another training seed, `_bcstd-demos_seed1` for both."""
    parts = ([] if args.bc_std == BC_STDS[0] else [f"bcstd-{args.bc_std}"]) + ([f"seed{args.seed}"] if args.seed else [])
    return "".join(f"_{part}" for part in parts)


def run_cell(row: str, cell: str, args) -> dict:
    short, kind = ROWS[row]
    path = CELL_DIR / f"{row}_{cell}{variant(args)}.json"
    want = settings(args, cell)
    if kind == "expert":
        want["noise"] = args.noise
    if path.exists() and json.loads(path.read_text())["settings"] == want:
        print(f"{path} is done with these settings")
        return json.loads(path.read_text())
    task = get_task(f"adroit/{short}")
    work = args.runs / row
    progress = TqdmProgress()
    cfg = RLConfig(env_steps=args.env_steps, seed=args.seed, episodes_per_iter=args.episodes_per_iter,
                   lambda0=args.lambda0, lambda1=args.lambda1, npg=NPGConfig(kl_step=args.kl_step))
    bc_cfg = TrainConfig(steps=args.bc_steps, seed=args.seed)
    seeds: list[int] = []
    demo_note = None
    t0 = time.perf_counter()
    if cell == "rl":
        result = rl_from_scratch(task, cfg, work / "rl", progress=progress)
        ckpt, extra = work / "rl" / "policy", {"env_steps": result.env_steps, "iterations": result.iterations,
                                               "train_wall_s": result.wall_seconds, "curve": result.curve}
    else:
        demos, seeds, demo_note = demonstrations(row, args)
        if cell == "bc":
            # DAPG's own, if it ran first
            ckpt = bc_stage(demos, work / f"dapg{variant(args)}", None, bc_cfg, progress, bc_std=args.bc_std)
            extra = {"env_steps": 0, "train_wall_s": bc_wall_seconds(ckpt)}
        else:
            result, _ = run_dapg(task, demos, cfg, work / f"dapg{variant(args)}", bc_config=bc_cfg, progress=progress,
                                 bc_std=args.bc_std)
            ckpt = work / f"dapg{variant(args)}" / "policy"
            extra = {"env_steps": result.env_steps, "iterations": result.iterations,
                     "train_wall_s": result.wall_seconds, "curve": result.curve}
    process_wall = time.perf_counter() - t0
    t1 = time.perf_counter()
    res = evaluate(task, CheckpointActorFactory(ckpt), episodes=args.eval_episodes, seed=0, training_seeds=seeds,
                   progress=progress)
    s = res.summary
    out = {"row": row, "task": task.name, "cell": CELLS[cell], "variant": variant(args).lstrip("_"), "settings": want,
           "demonstrations": demo_note,
           "success_rate": s.success_rate, "ci_low": s.ci_low, "ci_high": s.ci_high, "successes": s.successes,
           "episodes": s.episodes, "formatted": s.format(), "mean_return": s.mean_return,
           "mean_length": s.mean_length, "eval_wall_s": time.perf_counter() - t1,
           "process_wall_s": process_wall, "checkpoint": str(ckpt.relative_to(ROOT) if ckpt.is_relative_to(ROOT) else ckpt),
           "command": " ".join(["OMP_NUM_THREADS=1", "python", "benchmarks/dapg_adroit.py", *sys.argv[1:]]), **extra}
    CELL_DIR.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(out, indent=1) + "\n")
    tmp.replace(path)
    print(f"{row} {CELLS[cell]}: {s.format()} ({s.successes}/{s.episodes})")
    return out


def _minutes(seconds: float | None) -> str:
    return "" if seconds is None else f"{seconds / 60:.1f} min"


def _pooled_seeds(cells: dict, variants: list[dict]) -> list[str]:
    """One line per (row, cell, setting) run at more than one training seed: successes pooled over seeds."""
    groups: dict[tuple, list[dict]] = {}
    for c in [*cells.values(), *variants]:
        setting = (c.get("variant") or "").split("_seed")[0]
        groups.setdefault((c["row"], c["cell"], setting), []).append(c)
    lines = []
    for (row, cell, setting), group in groups.items():
        if len(group) < 2:
            continue
        k, n = sum(c["successes"] for c in group), sum(c["episodes"] for c in group)
        per_seed = ", ".join(f"{100 * c['success_rate']:.0f}" for c in sorted(group, key=lambda c: c["settings"]["seed"]))
        lines.append(f"- {row} {cell}{', ' + setting if setting else ''}, {len(group)} training seeds pooled: "
                     f"{pooled_rate(k, n)} ({k}/{n}; per seed {per_seed}%)")
    return lines


def write_table() -> str:
    cells, variants = {}, []
    for p in sorted(CELL_DIR.glob("*.json")):
        c = json.loads(p.read_text())
        if c.get("variant"):
            variants.append(c)
        else:
            cells[(c["row"], c["cell"])] = c
    lines = ["# DAPG on the Adroit hand: BC alone, RL alone, DAPG", "",
             "Success rate of the mean action on 50 held-out episodes (95% Wilson interval), by the paper's test "
             "(goal held on more than 25 steps). Paper: Rajeswaran et al. 2018, Table 1 (25 human demonstrations; "
             "RL alone 1M steps). Wall time: training on this 2-core CPU, shared with other jobs, one torch "
             "thread (BC: its 2000 steps; RL/DAPG: sampling + updates, BC not included).", "",
             "| task | demonstrations | BC alone | RL alone (NPG) | DAPG | paper BC / RL / DAPG | DAPG env steps | "
             "BC wall | RL wall | DAPG wall |", "|---|---|---|---|---|---|---|---|---|---|"]
    for row, (short, kind) in ROWS.items():
        got = {name: cells.get((row, name)) for name in CELLS.values()}
        if not any(got.values()):
            continue
        paper = PAPER.get(short, {})
        paper_txt = (f"{paper['BC alone']}% / {paper['RL alone']}% / {paper['DAPG']}%" if paper else "not in the table")
        if kind == "expert":
            paper_txt += " (human demos)"
        note = next((c["demonstrations"] for c in got.values() if c and c.get("demonstrations")), None)
        demo_txt = note or ("25 human" if kind == "human" else "25 expert + noise")
        fmt = {k: (f"{c['formatted']}" if c else "not run") for k, c in got.items()}
        dapg = got["DAPG"]
        lines.append(f"| adroit/{short} | {demo_txt} | {fmt['BC alone']} | {fmt['RL alone']} | {fmt['DAPG']} | "
                     f"{paper_txt} | {format(dapg['env_steps'], ',') if dapg else ''} | "
                     f"{_minutes(got['BC alone']['train_wall_s']) if got['BC alone'] else ''} | "
                     f"{_minutes(got['RL alone']['train_wall_s']) if got['RL alone'] else ''} | "
                     f"{_minutes(dapg['train_wall_s']) if dapg else ''} |")
        curves = {k: c["curve"] for k, c in got.items() if c and c.get("curve")}
        curves.update({f"{c['cell']} ({c['variant']})": c["curve"] for c in variants
                       if c["row"] == row and c.get("curve")})
        if curves:
            plot_curves(curves, OUT / f"dapg_adroit_{row}.png", f"adroit/{short}, {demo_txt} (sampled episodes)")
    if variants:
        lines += ["", "Variants (same protocol, the named settings changed; the default cell's figure beside it):", ""]
        for c in variants:
            base = cells.get((c["row"], c["cell"]))
            lines.append(f"- {c['row']} {c['cell']}, {c['variant']}: {c['formatted']} "
                         f"({c['successes']}/{c['episodes']}), "
                         f"{format(c['env_steps'], ',')} env steps, {_minutes(c['train_wall_s'])}; default: "
                         f"{base['formatted'] if base else 'not run'}")
        lines += _pooled_seeds(cells, variants)
    lines += ["", "Door from the 25 human demonstrations, why BC alone scores 0% and what was tried: "
              "[dapg_adroit_door_human.md](dapg_adroit_door_human.md)."]
    done = list(cells.values()) + variants
    if done:
        lines += ["", "Settings per cell (run folder settings; learning curves `dapg_adroit_<row>.png`):", ""]
        lines += [f"- {c['row']} {c['cell']}{' ' + c['variant'] if c.get('variant') else ''}: "
                  f"{json.dumps(c['settings'])}; `{c['command']}`" for c in done]
    md = "\n".join(lines) + "\n"
    write_outputs("dapg_adroit", {"paper": PAPER, "cells": [{k: v for k, v in c.items() if k != "curve"}
                                                             for c in done]}, md)
    return md


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--row", choices=list(ROWS))
    p.add_argument("--cell", choices=list(CELLS))
    p.add_argument("--adroit", type=Path, default=ROOT.parent / "shared" / "adroit",
                   help="folder with experts/ and door-human/ (see ../shared/adroit/README.md)")
    p.add_argument("--demos", type=int, default=25)
    p.add_argument("--noise", type=float, default=0.15, help="executed-action noise of expert demonstrations")
    p.add_argument("--env-steps", type=int, default=1_000_000)
    p.add_argument("--episodes-per-iter", type=int, default=50)
    p.add_argument("--kl-step", type=float, default=0.05)
    p.add_argument("--lambda0", type=float, default=0.01)
    p.add_argument("--lambda1", type=float, default=0.95)
    p.add_argument("--bc-steps", type=int, default=2000)
    p.add_argument("--bc-std", choices=BC_STDS, default=BC_STDS[0],
                   help="std of DAPG's BC policy: fitted by likelihood, or the demonstrations' action std (a variant)")
    p.add_argument("--eval-episodes", type=int, default=50)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--runs", type=Path, default=ROOT / "runs" / "dapg_adroit")
    p.add_argument("--table-only", action="store_true")
    args = p.parse_args()
    if not args.table_only:
        if args.row is None or args.cell is None:
            p.error("--row and --cell are needed (or --table-only)")
        run_cell(args.row, args.cell, args)
    write_table()


if __name__ == "__main__":
    main()
