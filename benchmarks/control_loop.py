"""control_loop: every registered policy head at a fixed rate on the simulated robot, PyTorch vs ONNX Runtime.

For each head in POLICIES: train briefly on a small recorded pick-place dataset, export to ONNX and
TorchScript (parity: max absolute action difference against PyTorch), time inference side by side
(PyTorch vs ONNX Runtime, same observations, same process, interleaved), then run the deployment loop
at --hz for --steps steps on the simulated robot with each backend (async chunk inference for chunking
heads) and record period jitter, step and inference latency percentiles and deadline misses.

Writes docs/benchmarks/control_loop.{json,md,png}.

    nice -n 10 env OMP_NUM_THREADS=1 python benchmarks/control_loop.py            # 5,000 steps per run
    python benchmarks/control_loop.py --steps 500 --heads mlp                     # quick look
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "benchmarks"
TASK = "metaworld/pick-place"
# the same loop with PyTorch, with ONNX Runtime, and with PyTorch on a SCHED_FIFO loop thread (what a robot
# computer does; shows how much of the misses is the loop and how much the shared machine's scheduler)
BACKENDS = ("torch", "onnx", "torch+rt")


def _load() -> str:
    """1-minute load average: the machine is shared, so it goes beside every timing."""
    return f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"


def latency_side_by_side(policy, exported, n: int, seed: int) -> dict:
    """Median / p99 ms of one prediction, PyTorch and the exported model interleaved call by call."""
    from protege.deploy import ExportedPredictor, TorchPredictor
    from protege.deploy.export import _sample_obs

    rng = np.random.default_rng(seed)
    preds = {"torch": TorchPredictor(policy), "onnx": ExportedPredictor(exported, seed)}
    times = {k: [] for k in preds}
    for i in range(n + 5):
        obs = _sample_obs(policy, rng)
        for name, p in preds.items():
            t0 = time.perf_counter()
            s = p.settings
            p.predict(obs, None if s.noise_shape is None else p.normal((1, *s.noise_shape)))
            if i >= 5:  # warm-up calls left out
                times[name].append(time.perf_counter() - t0)
    out = {}
    for name, t in times.items():
        v = np.asarray(t) * 1000
        out[name] = {"median_ms": float(np.median(v)), "p99_ms": float(np.percentile(v, 99))}
    out["onnx_speedup_median"] = out["torch"]["median_ms"] / out["onnx"]["median_ms"]
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=5000, help="control steps per deployment run")
    ap.add_argument("--hz", type=float, default=50.0)
    ap.add_argument("--heads", nargs="*", default=None, help="heads to run (default: every registered head)")
    ap.add_argument("--episodes", type=int, default=10, help="demonstrations recorded for the brief training")
    ap.add_argument("--train-steps", type=int, default=100, help="brief: latency does not depend on training")
    ap.add_argument("--rt-priority", type=int, default=10, help="SCHED_FIFO priority of the torch+rt loop thread")
    ap.add_argument("--backends", nargs="+", default=list(BACKENDS), choices=BACKENDS,
                    help="deployment loops to run per head (default: all three)")
    ap.add_argument("--latency-calls", type=int, default=200)
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args()
    torch.set_num_threads(1)

    from protege.algos.bc import TrainConfig, train_bc
    from protege.checkpoint import load_checkpoint
    from protege.data import load_dataset
    from protege.deploy import ChunkExecutor, DeployConfig, ExportedPredictor, TorchPredictor, run_deployment
    from protege.deploy.export import export_policy
    from protege.deploy.exported import load_exported
    from protege.envs.sim_robot import SimRobot
    from protege.policies import POLICIES
    from protege.progress import TqdmProgress
    from protege.recording import record_expert

    heads = args.heads or sorted(POLICIES)
    work = Path(tempfile.mkdtemp(prefix="control_loop_"))
    results = {"task": TASK, "hz": args.hz, "steps": args.steps, "heads": heads, "train_steps": args.train_steps,
               "episodes": args.episodes, "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                                                     "torch": torch.__version__, "platform": platform.platform()},
               "runs": {}, "load_start": _load()}
    try:
        record_expert(TASK, args.episodes, work / "data", seed=0)
        data = load_dataset(work / "data")
        for head in heads:
            print(f"== {head}", file=sys.stderr, flush=True)
            r: dict = {}
            t0 = time.perf_counter()
            train_bc(data, head, None, TrainConfig(steps=args.train_steps, eval_every=args.train_steps, seed=0),
                     out=work / head)
            r["train_s"] = time.perf_counter() - t0
            policy = load_checkpoint(work / head)
            r["horizon"], r["n_obs"] = policy.horizon, policy.n_obs
            for fmt, suffix in (("onnx", ".onnx"), ("torchscript", ".pt")):
                rep = export_policy(policy, work / f"{head}{suffix}", fmt, parity_samples=16)
                r[f"{fmt}_max_abs_diff"] = rep.max_abs_diff
            exported = load_exported(work / f"{head}.onnx")
            r["latency"] = latency_side_by_side(policy, exported, args.latency_calls, seed=1)
            for backend in args.backends:
                predictor = ExportedPredictor(exported, seed=0) if backend == "onnx" else TorchPredictor(policy)
                s = predictor.settings  # async where it applies, as this benchmark has always measured
                executor = ChunkExecutor(predictor, asynchronous=s.execution == "receding" and s.horizon > 1,
                                         period_s=1.0 / args.hz)
                robot = SimRobot(TASK, seed=2_000_000)
                config = DeployConfig(hz=args.hz, steps=args.steps,
                                      realtime_priority=args.rt_priority if backend == "torch+rt" else 0)
                report = run_deployment(robot, executor, config, progress=TqdmProgress())
                r[backend] = {**report.to_dict(), "async": executor.asynchronous, "execute_steps": executor.execute,
                              "episodes": robot.episodes, "successes": robot.successes}
                print(f"{head} {backend}: {report.format()}", file=sys.stderr, flush=True)
            results["runs"][head] = r
            results["load_end"] = _load()
            write(results, args.out)  # partial results survive an interrupted run
    finally:
        shutil.rmtree(work, ignore_errors=True)
    write(results, args.out)
    return 0


def write(results: dict, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "control_loop.json").write_text(json.dumps(results, indent=2) + "\n")
    lines = [f"# control_loop: {results['hz']:g} Hz on the simulated robot ({results['task']}), "
             f"{results['steps']} steps per run",
             "",
             f"Each head trained {results['train_steps']} steps on {results['episodes']} expert episodes "
             f"(default config), then deployed; `torch+rt` runs the loop thread under SCHED_FIFO (inference "
             f"thread at ordinary priority). Load average at start: {results.get('load_start', '?')}, at end: "
             f"{results.get('load_end', '?')}. Machine: {results['machine']['cpus']} CPUs (shared), torch "
             f"{results['machine']['torch']}, one inference thread. Generated by `benchmarks/control_loop.py`.",
             "",
             "| head | H | backend | inference | jitter p50 / p99 ms | step latency p50 / p99 ms | "
             "inference p50 / p99 ms | deadline misses | starved |",
             "|---|---|---|---|---|---|---|---|---|"]
    for head, r in results["runs"].items():
        for backend in [b for b in BACKENDS if b in r]:
            d = r[backend]
            sched = " (SCHED_FIFO)" if d.get("realtime") else (" (FIFO refused)" if backend == "torch+rt" else "")
            lines.append(f"| {head} | {r['horizon']} | {backend}{sched} | {'async' if d['async'] else 'sync'} | "
                         f"{d['jitter_ms']['median']:.2f} / {d['jitter_ms']['p99']:.2f} | "
                         f"{d['step_latency_ms']['median']:.2f} / {d['step_latency_ms']['p99']:.2f} | "
                         f"{d['inference_ms']['median']:.2f} / {d['inference_ms']['p99']:.2f} | "
                         f"{d['deadline_misses']} ({100 * d['miss_fraction']:.2f}%) | {d['starved_steps']} |")
    lines += ["", "Inference latency side by side (same observations, calls interleaved, one process), and export "
              "parity (max absolute action difference against PyTorch over 16 observations):", "",
              "| head | PyTorch p50 / p99 ms | ONNX Runtime p50 / p99 ms | PyTorch / ONNX (median) | "
              "ONNX max abs diff | TorchScript max abs diff |", "|---|---|---|---|---|---|"]
    for head, r in results["runs"].items():
        lat = r["latency"]
        lines.append(f"| {head} | {lat['torch']['median_ms']:.3f} / {lat['torch']['p99_ms']:.3f} | "
                     f"{lat['onnx']['median_ms']:.3f} / {lat['onnx']['p99_ms']:.3f} | "
                     f"{lat['onnx_speedup_median']:.2f}x | {r['onnx_max_abs_diff']:.2e} | "
                     f"{r['torchscript_max_abs_diff']:.2e} |")
    lines += ["", "Deadline miss: the action left after the next tick was due. Jitter: how late each tick woke. "
              "Step latency: wake-up to action sent (observation, inference or queue pop, safety filter, sim step). "
              "Starved: steps where an async chunk was not ready and the last action was held."]
    (out / "control_loop.md").write_text("\n".join(lines) + "\n")
    plot(results, out / "control_loop.png")


def plot(results: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    heads = list(results["runs"])
    if not heads:
        return
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    x = np.arange(len(heads))
    for i, backend in enumerate(("torch", "onnx")):
        p50 = [results["runs"][h]["latency"][backend]["median_ms"] for h in heads]
        p99 = [results["runs"][h]["latency"][backend]["p99_ms"] for h in heads]
        axes[0].bar(x + (i - 0.5) * 0.4, p50, 0.4, label=f"{backend} p50")
        axes[0].scatter(x + (i - 0.5) * 0.4, p99, marker="_", s=200, color="k")
    axes[0].axhline(1000 / results["hz"], color="r", ls="--", lw=1, label="period")
    axes[0].set_yscale("log")
    axes[0].set_xticks(x, heads, rotation=30)
    axes[0].set_ylabel("inference latency, ms (bar p50, tick p99)")
    axes[0].legend(fontsize=8)
    for i, backend in enumerate(BACKENDS):
        miss = [100 * results["runs"][h][backend]["miss_fraction"] if backend in results["runs"][h] else 0.0
                for h in heads]
        axes[1].bar(x + (i - 1) * 0.27, miss, 0.27, label=backend)
    axes[1].axhline(1.0, color="r", ls="--", lw=1, label="1% target")
    axes[1].set_xticks(x, heads, rotation=30)
    axes[1].set_ylabel(f"deadline misses, % of {results['steps']} steps")
    axes[1].legend(fontsize=8)
    fig.suptitle(f"control loop at {results['hz']:g} Hz, simulated {results['task']}")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    sys.exit(main())
