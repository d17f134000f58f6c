"""`protege train` with every default: how long each head trains on 50 Meta-World demonstrations and how
well the result does (issue 14's "default training of any head on 50 Meta-World demonstrations finishes
in under 5 minutes on this CPU").

Protocol: for each task and head, the command a user runs, `protege train --data D --policy H --out C`
with nothing else (no --steps: the budget the library picks from the data; its default thread count),
timed as a whole (start-up included), one job at a time on an otherwise idle machine; then the checkpoint
is evaluated on `--eval-episodes` held-out seeds (evaluation seed 0, disjoint from the demonstrations;
not timed). The demonstrations are those of benchmarks/heads.py (50 per task, recording seeds 0..49,
reused from runs/bench/data when recorded there). Training seed 0 only: the heads table has 3 seeds of
each head on the same data at 2000 x 128; this table adds what the default run costs and gives.

    python benchmarks/train_defaults.py                                      # pick-place, every head
    python benchmarks/train_defaults.py --tasks metaworld/basketball --heads diffusion
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import pooled_rate, write_outputs  # noqa: E402
from heads import HEADS, RUNS, dataset_for, measured_label, slug  # noqa: E402

from protege.checkpoint import CheckpointActorFactory  # noqa: E402
from protege.data.native import load_dataset  # noqa: E402
from protege.envs import get_task  # noqa: E402
from protege.evaluation.evaluate import evaluate  # noqa: E402
from protege.progress import TqdmProgress  # noqa: E402

TARGET_S = 300.0
OUT_DIR = RUNS / "defaults"


def run_one(task: str, head: str, episodes: int, progress) -> dict:
    folder = OUT_DIR / slug(task) / head
    cache = folder / "result.json"
    if cache.exists():
        return json.loads(cache.read_text())
    data = dataset_for(task, progress)
    ckpt = folder / "checkpoint"
    cmd = [sys.executable, "-m", "protege", "train", "--data", str(data), "--policy", head, "--out", str(ckpt),
           "--overwrite"]
    start = time.perf_counter()
    subprocess.run(cmd, check=True)
    wall = time.perf_counter() - start
    config = json.loads((ckpt / "config.json").read_text())["train"]
    ds = load_dataset(data)
    ev = evaluate(get_task(task), CheckpointActorFactory(ckpt), episodes, seed=0,
                  training_seeds=ds.meta["provenance"]["episode_seeds"], progress=progress).summary
    out = {"task": task, "head": head, "samples": ds.num_steps, "steps": config["steps"],
           "batch_size": config["batch_size"], "threads": config["threads"], "train_wall_s": wall,
           "successes": ev.successes, "episodes": ev.episodes, "success_rate": ev.success_rate,
           "command": " ".join(["protege", *cmd[3:]]), "measured": measured_label()}
    folder.mkdir(parents=True, exist_ok=True)
    cache.write_text(json.dumps(out, indent=2) + "\n")
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--tasks", nargs="+", default=["metaworld/pick-place"])
    p.add_argument("--heads", nargs="+", default=HEADS, choices=HEADS)
    p.add_argument("--eval-episodes", type=int, default=50)
    args = p.parse_args()
    progress = TqdmProgress()
    for task in args.tasks:
        for head in args.heads:
            print(json.dumps(run_one(task, head, args.eval_episodes, progress)), flush=True)
    runs = [json.loads(f.read_text()) for f in sorted(OUT_DIR.glob("*/*/result.json"))]
    rows = [f"| {r['task']} | {r['head']} | {r['samples']} | {r['steps']} x {r['batch_size']} | {r['threads']} | "
            f"{r['train_wall_s']:.0f} | {'yes' if r['train_wall_s'] < TARGET_S else '**no**'} | "
            f"{pooled_rate(r['successes'], r['episodes'])} | {r['measured']} |"
            for r in sorted(runs, key=lambda r: (r["task"], HEADS.index(r["head"])))]
    md = "\n".join([
        "# `protege train` with every default: time and success", "",
        "Produced by `python benchmarks/train_defaults.py` (protocol in its docstring): `protege train --data D "
        "--policy H --out C`, nothing else, timed whole and one job at a time; 50 demonstrations; training seed 0; "
        "success on held-out evaluation seeds (95% Wilson). Target: under "
        f"{TARGET_S / 60:.0f} minutes for every head.", "",
        "| task | head | samples | steps x batch (picked) | threads | train wall (s) | under 5 min | success | measured |",
        "|---|---|---|---|---|---|---|---|---|", *rows, ""])
    write_outputs("train_defaults", {"runs": runs, "target_s": TARGET_S}, md)


if __name__ == "__main__":
    main()
