"""Scaling beyond one process: DDP training samples/s (1 vs 2 gloo ranks), evaluation episodes/s (in-process
vs 2 worker processes vs Ray with 2 workers), and a fault run (a Ray worker and a training rank killed mid-run).

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/scale.py [--repeats 2] [--episodes 100]

Writes docs/benchmarks/scale.{json,md}. Every timing is printed beside the 1-minute load average when it
was taken: on a shared machine the ratios, measured in one run with the configurations alternated, are the
figures to read. No GPU row is measured unless CUDA is available here.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import OUT, write_outputs  # noqa: E402

import numpy as np  # noqa: E402

TASK = "metaworld/pick-place"


def load() -> float:
    return round(os.getloadavg()[0], 2)


# --- training ------------------------------------------------------------------------------------------
def _train_rank(data: str, steps: int, batch: int, kill_at: int, marker: str, out: str = "",
                eval_every: int = 0) -> dict:
    """One rank's training run (spawned by `launch`); rank 1 kills itself at step `kill_at` on the first attempt.
    With `out`, the run keeps its whole training state there at every validation point and resumes from it
    (`train --resume`), so a restarted attempt continues where the last validation point left it."""

    from protege.algos.bc import TrainConfig, train_bc
    from protege.data.formats import load_any
    from protege.distributed import ddp
    from protege.policies import MLPConfig

    if kill_at:
        original = ddp.loss_function

        def killing(policy, ctx, device):
            fn, sync = original(policy, ctx, device)
            calls = {"n": 0}

            def loss(b):
                calls["n"] += 1
                if ctx.rank == 1 and calls["n"] == kill_at and not os.path.exists(marker):
                    Path(marker).write_text("killed")
                    os.kill(os.getpid(), signal.SIGKILL)
                return fn(b)
            return loss, sync

        ddp.loss_function = killing
    from protege.algos import train_state

    resumed_from = train_state.saved_step(out) if out else None
    r = train_bc(load_any(data), "mlp", MLPConfig(hidden_dims=(256, 256)),
                 TrainConfig(steps=steps, batch_size=batch, eval_every=eval_every or steps // 2, warmup_steps=10,
                             seed=0, threads=1), out=out or None, resume=bool(out))
    return {"samples_per_second": r.samples_per_second, "best_val_loss": r.best_val_loss, "wall_s": r.wall_seconds,
            "resumed_from_step": resumed_from}


def bench_training(data: str, steps: int, batch: int, repeats: int) -> dict:
    from protege.distributed.launch import launch

    rows = []
    for rep in range(repeats):
        for nproc in (1, 2):  # alternated, so drift in the machine's load hits both
            before = load()
            out = launch(_train_rank, nproc, data, steps, batch, 0, "")[0]
            rows.append({"ranks": nproc, "repeat": rep, **out, "load_before": before, "load_after": load()})
            print(rows[-1], flush=True)
    sps = {n: [r["samples_per_second"] for r in rows if r["ranks"] == n] for n in (1, 2)}
    ratios = [b / a for a, b in zip(sps[1], sps[2])]
    val = {n: [r["best_val_loss"] for r in rows if r["ranks"] == n] for n in (1, 2)}
    return {"rows": rows, "ratio_2_over_1": ratios, "median_ratio": float(np.median(ratios)), "val_loss": val}


# --- evaluation ------------------------------------------------------------------------------------------
def bench_eval(episodes: int, repeats: int = 1) -> dict:
    """Episodes/s of in-process, 2 processes and Ray with 2 workers, alternated `repeats` times; the speed-up
    of each executor is taken against the in-process run of the same repeat, and the median is reported."""
    from protege.distributed.executor import LocalExecutor, ProcessExecutor
    from protege.distributed.ray_executor import RayExecutor
    from protege.envs import ExpertFactory, get_task
    from protege.evaluation.rollout import eval_seeds, run_episodes

    task = get_task(TASK)
    seeds = eval_seeds(0, episodes)
    rows, per_seed = [], {}
    for repeat in range(repeats):
        for name, make in (("in-process", LocalExecutor), ("2 processes", lambda: ProcessExecutor(2)),
                           ("ray, 2 workers", lambda: RayExecutor(2, "auto"))):
            t0 = time.perf_counter()
            ex = make()
            run_episodes(task, ExpertFactory(task.name), eval_seeds(9, 2), executor=ex)  # workers up, job built
            startup = time.perf_counter() - t0
            before = load()
            t0 = time.perf_counter()
            res = run_episodes(task, ExpertFactory(task.name), seeds, executor=ex)
            wall = time.perf_counter() - t0
            ex.close()
            per_seed.setdefault(name, []).append([(r.seed, r.success, r.ret, r.length) for r in res])
            rows.append({"executor": name, "repeat": repeat, "episodes": len(res), "wall_s": wall,
                         "episodes_per_s": len(res) / wall, "startup_s": startup,
                         "successes": sum(r.success for r in res), "load_before": before, "load_after": load()})
            print(rows[-1], flush=True)
    for r in rows:
        base = next(x for x in rows if x["executor"] == "in-process" and x["repeat"] == r["repeat"])
        r["speedup"] = r["episodes_per_s"] / base["episodes_per_s"]
    reference = per_seed["in-process"][0]
    identical = all(run == reference for runs in per_seed.values() for run in runs)
    median = {name: float(np.median([r["speedup"] for r in rows if r["executor"] == name])) for name in per_seed}
    return {"rows": rows, "identical_per_episode": identical, "median_speedup": median}


# --- faults ---------------------------------------------------------------------------------------------------
def fault_ray(episodes: int, folder: str) -> dict:
    from protege.distributed.faults import KillOnce, finished_seeds
    from protege.distributed.ray_executor import RayExecutor
    from protege.envs import ExpertFactory, get_task
    from protege.evaluation.rollout import EpisodeRunJob, eval_seeds, run_episodes

    task = get_task(TASK)
    seeds = eval_seeds(0, episodes)
    victim = seeds[episodes // 2]
    got = []
    with RayExecutor(2, "auto") as ex:
        job = KillOnce(EpisodeRunJob(task.name, ExpertFactory(task.name)), victim, folder)
        ex.map(job, seeds, lambda s, r: got.append((r.seed, r.success, r.ret, r.length)))
        retried = list(ex.retried)
    undisturbed = [(r.seed, r.success, r.ret, r.length) for r in run_episodes(task, ExpertFactory(task.name), seeds)]
    finished = finished_seeds(folder)
    return {"killed_at_seed": victim, "rerun_seeds": retried, "delivered": len(got),
            "distinct_delivered": len({g[0] for g in got}), "finished_runs_of_victim": finished.count(victim),
            "equal_to_undisturbed": got == undisturbed,
            "successes": sum(g[1] for g in got), "successes_undisturbed": sum(u[1] for u in undisturbed)}


def fault_rank(data: str, steps: int, batch: int, folder: str) -> dict:
    from protege.distributed.launch import launch

    every = max(1, steps // 5)
    clean = launch(_train_rank, 2, data, steps, batch, 0, "", os.path.join(folder, "clean"), every)[0]
    marker = os.path.join(folder, "rank-killed")
    t0 = time.perf_counter()
    faulted = launch(_train_rank, 2, data, steps, batch, steps // 2, marker, os.path.join(folder, "faulted"), every,
                     max_restarts=1)[0]
    resumed = faulted["resumed_from_step"]
    return {"killed": "rank 1 (SIGKILL) at step %d of %d, first attempt" % (steps // 2, steps),
            "killed_happened": os.path.exists(marker),
            "recovery": "torch elastic restarted both ranks (max_restarts=1); the restarted ranks resumed from the "
            f"training state saved at step {resumed} (validation every {every} steps): weights, optimiser, "
            "scheduler and random states", "resumed_from_step": resumed,
            "best_val_loss_clean": clean["best_val_loss"], "best_val_loss_after_restart": faulted["best_val_loss"],
            "equal": clean["best_val_loss"] == faulted["best_val_loss"], "wall_s_with_restart": time.perf_counter() - t0}


def record_data(folder: str, episodes: int) -> str:
    from protege.recording import record_expert

    path = os.path.join(folder, "pendulum")
    record_expert("pendulum", episodes, path, seed=0, workers=1)
    return path


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--episodes", type=int, default=100)
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--batch", type=int, default=4096)
    ap.add_argument("--skip", nargs="*", default=[], help="sections to skip: train eval faults")
    a = ap.parse_args()
    import torch

    tmp = tempfile.mkdtemp(prefix="protege-scale-")
    data = record_data(tmp, 20)
    result: dict = {"task": TASK, "load_start": load()}
    if "train" not in a.skip:
        result["training"] = {"steps": a.steps, "batch_size": a.batch, "policy": "mlp (256, 256)",
                              **bench_training(data, a.steps, a.batch, a.repeats)}
    result["gpu"] = "not measured: no GPU on this machine" if not torch.cuda.is_available() else "available, not run"
    if "eval" not in a.skip:
        result["evaluation"] = bench_eval(a.episodes, a.repeats)
    if "faults" not in a.skip:
        os.makedirs(os.path.join(tmp, "ray-fault"))
        if "ray-fault" not in a.skip:
            result["fault_ray"] = fault_ray(a.episodes, os.path.join(tmp, "ray-fault"))
            print(result["fault_ray"], flush=True)
        result["fault_rank"] = fault_rank(data, a.steps // 3, a.batch, tmp)
        print(result["fault_rank"], flush=True)
    result["load_end"] = load()
    result["carried"] = carry_skipped(result)
    write_outputs("scale", result, markdown(result))


def carry_skipped(result: dict) -> dict:
    """Sections skipped in this run keep the figures of the run that measured them (with its date and load),
    so rerunning one section does not erase the others. Returns {section: when it was measured}."""
    previous = OUT / "scale.json"
    if not previous.exists():
        return {}
    old = json.loads(previous.read_text())
    when = old.get("carried", {})
    stamp = f"{old.get('machine', {}).get('date', 'an earlier run')} (load {old.get('load_start')} at its start)"
    carried = {}
    for key in ("training", "evaluation", "fault_ray", "fault_rank"):
        if key not in result and key in old:
            result[key] = old[key]
            carried[key] = when.get(key, stamp)
    return carried


def markdown(r: dict) -> str:
    lines = ["# Scaling: DDP training, rollout executors, faults", "",
             f"Measured on a shared 2-core machine (1-minute load average {r['load_start']} at the start, "
             f"{r['load_end']} at the end; other jobs' load lowers absolute figures): read the ratios, taken in one run "
             "with the configurations alternated. GPU: " + r["gpu"] + ".", ""]
    lines += [f"Section `{k}` is carried from the run of {v}: it was skipped in this one." for k, v in
              r.get("carried", {}).items()] + ([""] if r.get("carried") else [])
    if "training" in r:
        t = r["training"]
        lines += [f"## Training ({t['policy']}, effective batch {t['batch_size']}, {t['steps']} steps, gloo)", "",
                  "| ranks | repeat | samples/s | best val loss | load before | load after |", "|---|---|---|---|---|---|"]
        lines += [f"| {x['ranks']} | {x['repeat']} | {x['samples_per_second']:,.0f} | {x['best_val_loss']:.5f} | "
                  f"{x['load_before']} | {x['load_after']} |" for x in t["rows"]]
        lines += ["", f"2 ranks / 1 rank samples/s, per pair: {', '.join(f'{x:.2f}' for x in t['ratio_2_over_1'])} "
                  f"(median {t['median_ratio']:.2f}; target 1.6)", ""]
    if "evaluation" in r:
        e = r["evaluation"]
        lines += [f"## Evaluation ({e['rows'][0]['episodes']} expert episodes of {r['task']})", "",
                  "| executor | repeat | episodes/s | speed-up | wall s | start-up s (not in wall) | successes | load before | load after |",
                  "|---|---|---|---|---|---|---|---|---|"]
        lines += [f"| {x['executor']} | {x.get('repeat', 0)} | {x['episodes_per_s']:.2f} | {x['speedup']:.2f}x | "
                  f"{x['wall_s']:.1f} | {x['startup_s']:.1f} | {x['successes']} | {x['load_before']} | "
                  f"{x['load_after']} |" for x in e["rows"]]
        if "median_speedup" in e:
            lines += ["", "Median speed-up over the repeats (each against the in-process run of its repeat): " +
                      ", ".join(f"{k} {v:.2f}x" for k, v in e["median_speedup"].items()) +
                      " (target for Ray with 2 workers: 1.7x)."]
        lines += ["", f"Per-episode results (seed, success, return, length) identical across executors: "
                  f"{e['identical_per_episode']}.", ""]
    if "fault_rank" in r:
        f, g = r.get("fault_ray"), r["fault_rank"]
        lines += ["## Faults", ""]
        lines += [] if f is None else [
                  f"- Ray, 2 workers, {f['delivered']} episodes: the worker running seed {f['killed_at_seed']} was killed "
                  f"(its process ended as by kill -9) at that episode's start; re-run: {f['rerun_seeds']}; "
                  f"{f['distinct_delivered']} distinct episodes delivered, the killed one finished "
                  f"{f['finished_runs_of_victim']} time(s); results equal to an undisturbed in-process run: "
                  f"{f['equal_to_undisturbed']} ({f['successes']} vs {f['successes_undisturbed']} successes)."]
        lines += [f"- Training, 2 ranks: {g['killed']} (happened: {g['killed_happened']}); {g['recovery']}; best "
                  f"validation loss {g['best_val_loss_after_restart']:.6f} vs {g['best_val_loss_clean']:.6f} "
                  f"undisturbed (equal: {g['equal']}).", ""]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
