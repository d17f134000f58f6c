"""The DAPG table in our setting: BC alone, RL alone and DAPG on Meta-World tasks (issue 5).

Protocol, per task:
  1. record N demonstrations with the scripted expert (recording seeds 0..N-1, successful episodes only);
  2. BC alone: `gaussian` policy trained by maximum likelihood (2000 steps), executed with its mean;
  3. DAPG: that same BC checkpoint, then NPG with the demonstration term, for B environment steps;
  4. RL alone: a fresh `gaussian` policy, NPG for the same B environment steps;
  5. each policy evaluated on the same 50 evaluation seeds (disjoint from every recording and RL
     seed), with 95% Wilson intervals; wall time and environment steps recorded per cell.

Each (task, N) writes `docs/benchmarks/dapg_table/<task>_<N>demos.json` and its learning curves
(sampled-episode success against environment steps, RL alone and DAPG on one plot) to
`docs/benchmarks/dapg_<task>_<N>demos.png`; the table
`docs/benchmarks/dapg_table.md` is rebuilt from every task JSON present, so tasks can run in separate
processes:

    python benchmarks/dapg_table.py --task pick-place --demos 10 --env-steps 100000
    python benchmarks/dapg_table.py --table-only

`--stage dapg` or `--stage rl` trains only that cell and exits, so the two long RL runs of one task can go
side by side on two cores; the run without `--stage` then finds both finished and evaluates.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import OUT, ROOT, machine  # noqa: E402

import torch  # noqa: E402

from protege.algos.bc import TrainConfig  # noqa: E402
from protege.algos.rl import RLConfig, rl_from_scratch, run_dapg  # noqa: E402
from protege.algos.rl.npg import NPGConfig  # noqa: E402
from protege.algos.rl.curve import plot_curves  # noqa: E402
from protege.checkpoint import CheckpointActorFactory  # noqa: E402
from protege.data.native import load_dataset  # noqa: E402
from protege.envs import get_task  # noqa: E402
from protege.evaluation.evaluate import evaluate  # noqa: E402
from protege.progress import TqdmProgress  # noqa: E402
from protege.recording import record_expert  # noqa: E402

TABLE_DIR = OUT / "dapg_table"


def _eval(task, ckpt: Path, episodes: int, seeds: list[int]) -> dict:
    t0 = time.perf_counter()
    res = evaluate(task, CheckpointActorFactory(ckpt), episodes=episodes, seed=0, training_seeds=seeds,
                   progress=TqdmProgress())
    s = res.summary
    return {"success_rate": s.success_rate, "ci_low": s.ci_low, "ci_high": s.ci_high, "successes": s.successes,
            "episodes": s.episodes, "formatted": s.format(), "mean_length": s.mean_length,
            "eval_env_steps": int(sum(r.length for r in res.results)) if hasattr(res, "results") else None,
            "eval_wall_s": time.perf_counter() - t0}


def run_task(short: str, n_demos: int, env_steps: int, eval_episodes: int, runs: Path, rl: dict,
             tag: str = "", stage: str = "all") -> dict | None:
    torch.set_num_threads(1)
    name = f"metaworld/{short}"
    task = get_task(name)
    suffix = f"_{tag}" if tag else ""
    work = runs / f"{short}_{n_demos}demos{suffix}"
    progress = TqdmProgress()

    # --- demonstrations ---------------------------------------------------------------------------
    demo_dir = work / "demos"
    if not (demo_dir / "meta.json").exists():
        record_expert(name, n_demos, demo_dir, seed=0, only_successes=True, overwrite=True, progress=progress)
    demos = load_dataset(demo_dir)
    seeds = demos.meta["provenance"]["episode_seeds"]

    # --- DAPG (its BC stage is the BC-alone cell) ---------------------------------------------------
    cfg = RLConfig(env_steps=env_steps, seed=0, lambda0=rl["lambda0"], lambda1=rl["lambda1"],
                   episodes_per_iter=rl["episodes_per_iter"], npg=NPGConfig(kl_step=rl["kl_step"]))
    if stage == "rl":
        rl_from_scratch(task, cfg, work / "rl", progress=progress)
        return None
    t0 = time.perf_counter()
    dapg, bc_dir = run_dapg(task, demos, cfg, work / "dapg", bc_config=TrainConfig(steps=2000, seed=0),
                            progress=progress)
    dapg_wall = time.perf_counter() - t0
    if stage == "dapg":
        return None
    bc_cfg = json.loads((bc_dir / "config.json").read_text())

    # --- RL alone, same budget ---------------------------------------------------------------------
    t0 = time.perf_counter()
    rl_res = rl_from_scratch(task, cfg, work / "rl", progress=progress)
    rl_wall = time.perf_counter() - t0

    # --- evaluation: same 50 seeds for every cell ---------------------------------------------------
    cells = {
        "BC alone": {**_eval(task, bc_dir, eval_episodes, seeds), "env_steps": 0,
                     "train_wall_s": None, "demo_steps": demos.num_steps},
        "RL alone": {**_eval(task, work / "rl" / "policy", eval_episodes, seeds), "env_steps": rl_res.env_steps,
                     "train_wall_s": rl_res.wall_seconds, "iterations": rl_res.iterations},
        "DAPG": {**_eval(task, work / "dapg" / "policy", eval_episodes, seeds), "env_steps": dapg.env_steps,
                 "train_wall_s": dapg.wall_seconds, "iterations": dapg.iterations},
    }
    cells["BC alone"]["bc_best_step"] = bc_cfg.get("best_step")
    plot_curves({"RL alone": rl_res.curve, "DAPG": dapg.curve}, OUT / f"dapg_{short}_{len(demos)}demos{suffix}.png",
                f"{name}: {len(demos)} demos, BC alone {cells['BC alone']['formatted']} (deterministic eval)")
    out = {"task": name, "tag": tag, "demos": len(demos), "demo_steps": demos.num_steps, "env_step_budget": env_steps,
           "rl_config": rl, "cells": cells, "curves": {"RL alone": rl_res.curve, "DAPG": dapg.curve},
           "process_wall_s": {"dapg": dapg_wall, "rl": rl_wall}, "machine": machine(),
           "command": " ".join(["python", "benchmarks/dapg_table.py", *sys.argv[1:]])}
    TABLE_DIR.mkdir(parents=True, exist_ok=True)
    (TABLE_DIR / f"{short}_{len(demos)}demos{suffix}.json").write_text(json.dumps(out, indent=1) + "\n")
    return out


def write_table() -> str:
    rows = [json.loads(p.read_text()) for p in sorted(TABLE_DIR.glob("*.json"))]
    lines = ["# DAPG table: BC alone, RL alone, DAPG (Meta-World v3)", "",
             "Success rate of the deterministic (mean-action) policy on 50 evaluation episodes (95% Wilson "
             "interval); env steps = environment steps of RL training; wall = training wall time on this "
             "2-core CPU shared with other jobs (RL: sampling + updates; BC pre-training is part of the BC "
             "cell). Steps/s and the projection to 1M steps are from the DAPG run itself.", "",
             "| task | demos | settings | BC alone | RL alone | DAPG | RL env steps | DAPG env steps | RL wall | DAPG wall | "
             "DAPG steps/s | 1M steps at that rate |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        c = r["cells"]
        rate = c["DAPG"]["env_steps"] / max(c["DAPG"]["train_wall_s"], 1e-9)
        rc = r["rl_config"]
        settings = f"kl {rc['kl_step']}, lambda0 {rc['lambda0']}, {rc['episodes_per_iter']} episodes/iteration"
        lines.append(f"| {r['task']} | {r['demos']} | {settings} | {c['BC alone']['formatted']} | {c['RL alone']['formatted']} | "
                     f"{c['DAPG']['formatted']} | {c['RL alone']['env_steps']:,} | {c['DAPG']['env_steps']:,} | "
                     f"{c['RL alone']['train_wall_s'] / 60:.1f} min | {c['DAPG']['train_wall_s'] / 60:.1f} min | "
                     f"{rate:.0f} | {1e6 / rate / 3600:.1f} h |")
    if rows:
        r0 = rows[0]
        lines += ["", f"Other settings: lambda1 {r0['rl_config']['lambda1']}, seed 0; learning curves: "
                  "`dapg_<task>_<N>demos[_<tag>].png`.", "", "Commands:", ""]
        lines += [f"    {r['command']}" for r in rows]
    md = "\n".join(lines) + "\n"
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "dapg_table.md").write_text(md)
    (OUT / "dapg_table.json").write_text(json.dumps({"machine": machine(), "tasks": [
        {k: v for k, v in r.items() if k != "curves"} for r in rows]}, indent=1) + "\n")
    return md


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--task", default="pick-place", help="Meta-World task (short name)")
    p.add_argument("--demos", type=int, default=10)
    p.add_argument("--env-steps", type=int, default=100_000, help="RL budget, same for RL alone and DAPG")
    p.add_argument("--eval-episodes", type=int, default=50)
    p.add_argument("--episodes-per-iter", type=int, default=50)
    p.add_argument("--kl-step", type=float, default=0.1)
    p.add_argument("--lambda0", type=float, default=0.01)
    p.add_argument("--lambda1", type=float, default=0.95)
    p.add_argument("--runs", type=Path, default=ROOT / "runs" / "dapg_table")
    p.add_argument("--tag", default="", help="suffix for this variant's run folder and outputs")
    p.add_argument("--table-only", action="store_true")
    p.add_argument("--stage", choices=["all", "dapg", "rl"], default="all",
                   help="train only one cell (no evaluation or table): run the two on separate cores")
    args = p.parse_args()
    if not args.table_only:
        run_task(args.task, args.demos, args.env_steps, args.eval_episodes, args.runs,
                 {"kl_step": args.kl_step, "lambda0": args.lambda0, "lambda1": args.lambda1,
                  "episodes_per_iter": args.episodes_per_iter}, args.tag, args.stage)
    if args.stage == "all":
        print(write_table())


if __name__ == "__main__":
    main()
