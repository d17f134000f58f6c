"""Multi-task behavioural cloning on Meta-World MT10: one conditioned policy against ten single-task ones.

Protocol (issue 17): MT10, 50 scripted demonstrations per task (seeds 0..49, `protege record --task
metaworld/MT10 --episodes-per-task 50`), state-based. Cells, each trained and evaluated on 50 held-out
seeds per task (`protege eval --task metaworld/MT10`):

- cond-mlp:       one `mlp` conditioned on the task name (learned embedding, concatenated);
- cond-mlp-film:  the same with FiLM instead of concatenation;
- cond-chunked:   one `chunked` head conditioned on the task name (concatenated);
- single-mlp:     ten `mlp` policies, each trained on its own task's 50 demonstrations only;
- instr-mlp:      one `mlp` conditioned on the instruction (learned word embedding, no pretrained weights),
                  evaluated with the training instructions and with the paraphrases below.

The paraphrases were written by hand before any instruction-conditioned policy was trained, and are
kept here unchanged. Every cell is saved under runs/multitask/cells/ as it finishes, so a killed run
resumes where it stopped (`--seeds 0 1 2` adds seeds; `--cells` picks cells).

    python benchmarks/multitask.py --seeds 0                 # seed 0 of every cell
    python benchmarks/multitask.py --seeds 0 1 2 --episodes 50
    python benchmarks/multitask.py --report                  # only rewrite docs/benchmarks/multitask.*
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from _common import write_outputs

from protege.algos.bc import TrainConfig, train_bc
from protege.checkpoint import CheckpointActorFactory
from protege.data.native import Dataset, load_dataset
from protege.envs.metaworld_sets import TASK_SETS
from protege.evaluation.multitask import evaluate_tasks
from protege.policies import ConditioningConfig
from protege.progress import TqdmProgress
from protege.recording import record_tasks

RUNS = Path("runs/multitask")
SET = "metaworld/MT10"

# Hand-written rewordings of the MT10 training instructions (src/protege/envs/metaworld_sets.py), fixed
# before training: same task, other words.
PARAPHRASES = {
    "metaworld/reach": "move the gripper to the target position",
    "metaworld/push": "shove the block over to the target",
    "metaworld/pick-place": "grab the block and put it down at the target",
    "metaworld/door-open": "swing the door open",
    "metaworld/drawer-open": "pull the drawer open",
    "metaworld/drawer-close": "push the drawer shut",
    "metaworld/button-press-topdown": "push the button down from above",
    "metaworld/peg-insert-side": "slide the peg sideways into the hole",
    "metaworld/window-open": "open the window by sliding it",
    "metaworld/window-close": "close the window by sliding it",
}

CELLS = ("cond-mlp", "single-mlp", "cond-chunked", "cond-mlp-film", "instr-mlp")


def _head(cell: str) -> tuple[str, dict]:
    if "chunked" in cell:
        return "chunked", {"horizon": 8, "n_action_steps": 4}
    return "mlp", {"dropout": 0.1}


def run_cell(cell: str, seed: int, data: Dataset, args: argparse.Namespace) -> dict:
    tasks = list(TASK_SETS[SET])
    head, head_cfg = _head(cell)
    progress = TqdmProgress()
    out: dict = {"cell": cell, "seed": seed, "head": head, "head_config": head_cfg, "episodes_per_task": args.episodes}
    start = time.perf_counter()
    if cell == "single-mlp":
        ckpts = {}
        for t in tasks:
            subset = Dataset([e for e in data.episodes if e.info.get("task") == t], data.spec, dict(data.meta, task=t))
            ckpts[t] = RUNS / "ckpt" / f"{cell}_s{seed}" / t.replace("/", "_")
            done = ckpts[t] / "config.json"
            if done.exists() and json.loads(done.read_text()).get("train", {}).get("steps") == args.single_steps:
                continue  # trained before this run was interrupted (the checkpoint holds its best weights)
            train_bc(subset, head, head_cfg, TrainConfig(steps=args.single_steps, seed=seed, threads=1), out=ckpts[t],
                     progress=progress)
        out["train_steps_per_policy"] = args.single_steps
        train_s = time.perf_counter() - start
        res = evaluate_tasks(tasks, lambda t: CheckpointActorFactory(ckpts[t]), args.episodes, seed=0,
                             workers=args.workers, progress=progress, who=cell)
        out.update(train_s=train_s, result=res.to_dict())
        return out
    kind = "instruction" if cell.startswith("instr") else "task"
    cond = ConditioningConfig(kind=kind, fusion="film" if "film" in cell else "concat", embed_dim=32)
    ckpt = RUNS / "ckpt" / f"{cell}_s{seed}"
    res_train = train_bc(data, head, head_cfg, TrainConfig(steps=args.steps, seed=seed, threads=1, balance_tasks=True),
                         out=ckpt, progress=progress, conditioning=cond)
    out.update(train_steps=args.steps, train_s=time.perf_counter() - start, best_val_loss=res_train.best_val_loss,
               conditioning={"kind": kind, "fusion": cond.fusion, "embed_dim": cond.embed_dim})
    res = evaluate_tasks(tasks, lambda t: CheckpointActorFactory(ckpt, task=t), args.episodes, seed=0,
                         workers=args.workers, progress=progress, who=cell)
    out["result"] = res.to_dict()
    if kind == "instruction":
        para = evaluate_tasks(tasks, lambda t: CheckpointActorFactory(ckpt, instruction=PARAPHRASES[t]), args.episodes,
                              seed=0, workers=args.workers, progress=progress, who=f"{cell} paraphrased")
        out["paraphrased"] = para.to_dict()
    return out


def _fmt(rate: float) -> str:
    return f"{100 * rate:.0f}"


def report(cells: list[dict], args: argparse.Namespace) -> None:
    tasks = list(TASK_SETS[SET])
    rows = []
    for c in sorted(cells, key=lambda c: (CELLS.index(c["cell"]) if c["cell"] in CELLS else 99, c["seed"])):
        for label, key in (("", "result"), (" (paraphrased)", "paraphrased")):
            if key not in c:
                continue
            r = c[key]
            m = r["mean"]
            per = [_fmt(r["per_task"][t]["success_rate"]) for t in tasks]
            rows.append(f"| {c['cell']}{label} | {c['seed']} | {100 * r['mean_success']:.1f}% "
                        f"[{100 * m['ci_low']:.0f}, {100 * m['ci_high']:.0f}] | {min(int(p) for p in per)} | "
                        + " | ".join(per) + f" | {c['train_s'] / 60:.0f} |")
    short = [t.split("/")[1] for t in tasks]
    md = "\n".join([
        "# Multi-task BC on Meta-World MT10 (state)",
        "",
        "`python benchmarks/multitask.py --seeds 0` on a shared 2-core CPU. 50 scripted demonstrations per task "
        f"(500 episodes), {args.episodes} evaluation episodes per task on held-out seeds. Conditioned policies: "
        f"one network for all ten tasks, {args.steps} steps, batch 256, tasks sampled equally often; single-task: "
        f"ten networks, {args.single_steps} steps each. mlp = 3x256 with LayerNorm and dropout 0.1; chunked = "
        "H 8, 4 actions executed per chunk. Task embedding 32-D. Interval: 95% Wilson over all episodes of the row.",
        "",
        "| cell | seed | mean success [95% CI] | worst task | " + " | ".join(short) + " | train min |",
        "|---|---|---|---|" + "---|" * len(short) + "---|",
        *rows,
        "",
        "Cells: cond-mlp / cond-chunked = task-name embedding concatenated to the state features; cond-mlp-film = "
        "the same embedding as FiLM (scale and shift of the features); instr-mlp = learned word embedding of the "
        "instruction (no pretrained weights), evaluated with the training instructions and with hand-written "
        "paraphrases (kept in benchmarks/multitask.py).",
        "",
        "References (not run here): multi-task BC conditioned on a task id, 60.4% mean on MT50 with near-optimal "
        "data (He et al., NeurIPS 2023); image-based Diffusion Policy 10.5% and SmolVLA 68.2% on LeRobot's MT50 "
        "(as reported in the SmolVLA paper).",
        "",
    ])
    write_outputs("multitask", {"cells": cells, "paraphrases": PARAPHRASES, "steps": args.steps,
                                "single_steps": args.single_steps, "episodes": args.episodes}, md)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seeds", type=int, nargs="+", default=[0])
    p.add_argument("--cells", nargs="+", default=list(CELLS), choices=CELLS)
    p.add_argument("--demos", type=int, default=50, help="demonstrations per task")
    p.add_argument("--episodes", type=int, default=50, help="evaluation episodes per task")
    p.add_argument("--steps", type=int, default=8000, help="training steps of a conditioned policy")
    p.add_argument("--single-steps", type=int, default=3000, help="training steps of each single-task policy")
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--report", action="store_true", help="only rewrite the report from saved cells")
    args = p.parse_args()
    cell_dir = RUNS / "cells"
    cell_dir.mkdir(parents=True, exist_ok=True)
    if not args.report:
        data_dir = RUNS / "mt10_data"
        record_tasks(SET, args.demos, data_dir, progress=TqdmProgress(), report=print)
        data = load_dataset(data_dir)
        for seed in args.seeds:
            for cell in args.cells:
                path = cell_dir / f"{cell}_s{seed}_e{args.episodes}.json"
                if path.exists():
                    continue
                rec = run_cell(cell, seed, data, args)
                tmp = path.with_suffix(".tmp")
                tmp.write_text(json.dumps(rec, indent=1))
                tmp.replace(path)
                print(f"{cell} seed {seed}: mean success {100 * rec['result']['mean_success']:.1f}%", flush=True)
    cells = [json.loads(f.read_text()) for f in sorted(cell_dir.glob(f"*_e{args.episodes}.json"))]
    if cells:
        report(cells, args)


if __name__ == "__main__":
    main()
