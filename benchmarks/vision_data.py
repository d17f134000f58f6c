"""The camera data path: training throughput per image encoder against pre-decoded tensors, and peak memory
as the number of recorded episodes grows.

(a) Throughput, batch 64, for each image encoder of the registry (`policies.encoders.ENCODERS`), head `mlp`:
    - bare: the same policy, optimiser, schedule and clipping over batches gathered and decoded before
      timing starts (forward/backward/step only);
    - protege, frames decoded ahead on worker threads (`train_bc`, `--workers`, the default path);
    - protege, frames decoded in the loop (`--workers 0`), to show what prefetching hides.
    Runs are interleaved (bare, ahead, inline, bare, ...) so machine noise hits all alike; the figure is
    the ratio of median images/s, and the share of wall time the loop waited for a batch (`data_wait`).
    Also: how decoding scales from 1 to 2 threads (Pillow releases the GIL while it inflates a PNG).
(b) Peak memory (RSS) of a fresh process that loads a native dataset with N recorded episodes (cameras
    stored as PNG frames, read lazily: `data/framestore.py`) and trains a few steps on it, for each N.

Episodes are synthetic (a gradient background, a moving square, pixel noise: PNGs of a size like rendered
Meta-World frames), written with the native writer, so the figures are about the data path, not a task.

    python benchmarks/vision_data.py                 # the defaults take a few minutes on 2 CPU cores
    python benchmarks/vision_data.py --encoders small --steps 40 --repeats 3 --memory-episodes 50 200 500
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
import torch  # noqa: E402
from _common import OUT, bare_loop_samples_per_second, write_outputs  # noqa: E402

from protege.algos.bc import TrainConfig, train_bc  # noqa: E402
from protege.data import Dataset, Episode  # noqa: E402
from protege.data.native import load_dataset, save_dataset  # noqa: E402
from protege.data.stats import compute_stats  # noqa: E402
from protege.data.windows import EpisodeDataset  # noqa: E402
from protege.policies import make_policy  # noqa: E402
from protege.specs import ArraySpec, Spec  # noqa: E402

BATCH = 64
STATE_DIM, ACTION_DIM = 7, 4


def encoder_names() -> list[str]:
    """Every image encoder the registry offers ("none" reads no camera)."""
    from protege.policies.encoders import ENCODERS

    return [e for e in ENCODERS if e != "none"]


def encoder_config(name: str):
    from protege.policies.encoders import EncoderConfig

    return EncoderConfig(name=name)


# --- synthetic recorded episodes ---------------------------------------------------------------------

def _spec(size: int) -> Spec:
    return Spec({"state": ArraySpec((STATE_DIM,)), "cam": ArraySpec((size, size, 3), dtype="uint8")},
                ArraySpec((ACTION_DIM,)))


def _episode(i: int, T: int, size: int) -> Episode:
    rng = np.random.default_rng(i)
    yy, xx = np.mgrid[:size, :size]
    background = np.stack([xx * 200 // size, yy * 200 // size, np.full_like(xx, 60 + i % 100)], -1)
    frames = np.empty((T, size, size, 3), np.uint8)
    pos = rng.uniform(0, size - 12, 2)
    for t in range(T):
        pos = np.clip(pos + rng.normal(0, 1.5, 2), 0, size - 12)
        f = background + rng.integers(0, 12, (size, size, 3))  # sensor-like noise: realistic PNG sizes
        r, c = pos.astype(int)
        f[r:r + 12, c:c + 12] = (230, 40, 40)
        frames[t] = np.clip(f, 0, 255)
    return Episode(observations={"state": rng.normal(size=(T, STATE_DIM)).astype(np.float32), "cam": frames},
                   actions=rng.uniform(-1, 1, (T, ACTION_DIM)).astype(np.float32), info={"seed": i})


def write_dataset(root: Path, n: int, T: int, size: int) -> None:
    save_dataset((_episode(i, T, size) for i in range(n)), root, spec=_spec(size))


# --- (a) throughput ----------------------------------------------------------------------------------

def bare_loop(dataset: Dataset, encoder: str, config: TrainConfig) -> tuple[float, float]:
    """(samples/s over pre-decoded batches, seconds it took to decode them in one thread)."""
    torch.manual_seed(config.seed)
    policy = make_policy("mlp", None, dataset.spec, compute_stats(dataset.episodes), encoder_config(encoder))
    data = EpisodeDataset(dataset.episodes, n_obs=policy.n_obs, horizon=policy.horizon, spec=dataset.spec)
    gen = torch.Generator().manual_seed(config.seed)
    start = time.perf_counter()
    batches = [data.batch(torch.randint(len(data), (config.batch_size,), generator=gen)) for _ in range(config.steps)]
    decode = time.perf_counter() - start
    return bare_loop_samples_per_second(policy, batches, config), decode


def decode_scaling(dataset: Dataset, frames: int = 512) -> dict[str, float]:
    """Frames/s decoding random steps with 1 thread and with 2 threads (each half the requests)."""
    data = EpisodeDataset(dataset.episodes, spec=dataset.spec)
    rng = np.random.default_rng(0)
    steps = [rng.integers(0, len(data), (BATCH, 1)) for _ in range(frames // BATCH)]

    def run(chunks):
        for s in chunks:
            data._frames("cam", s)

    start = time.perf_counter()
    run(steps)
    one = frames / (time.perf_counter() - start)
    threads = [threading.Thread(target=run, args=(steps[i::2],)) for i in range(2)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    two = frames / (time.perf_counter() - start)
    return {"frames_per_s_1_thread": one, "frames_per_s_2_threads": two, "speedup": two / one}


def throughput(dataset: Dataset, encoders: list[str], steps: int, repeats: int, workers: int) -> dict:
    results = {}
    n_obs = 1  # head mlp: one observation step, so images per sample = number of cameras (1)
    for name in encoders:
        base = dict(steps=steps, batch_size=BATCH, val_fraction=0.0, eval_every=steps, seed=0, warmup_steps=10)
        runs: dict[str, list[float]] = {"bare": [], "ahead": [], "inline": []}
        wait: dict[str, list[float]] = {"ahead": [], "inline": []}
        decode = []
        for r in range(repeats):
            sps, dec = bare_loop(dataset, name, TrainConfig(**base))
            runs["bare"].append(sps * n_obs)
            decode.append(dec)
            for label, w in (("ahead", workers), ("inline", 0)):
                res = train_bc(dataset, "mlp", None, TrainConfig(**base, workers=w, prefetch=4),
                               encoder=encoder_config(name))
                runs[label].append(res.samples_per_second * n_obs)
                wait[label].append(res.data_wait_fraction)
            print(f"{name} repeat {r}: images/s bare {runs['bare'][-1]:.0f}, ahead {runs['ahead'][-1]:.0f} "
                  f"(waiting {wait['ahead'][-1]:.1%}), inline {runs['inline'][-1]:.0f} "
                  f"(waiting {wait['inline'][-1]:.1%})", flush=True)
        med = {k: statistics.median(v) for k, v in runs.items()}
        results[name] = {"images_per_s": runs, "median": med, "data_wait": wait,
                         "ratio_ahead": med["ahead"] / med["bare"], "ratio_inline": med["inline"] / med["bare"],
                         "decode_seconds_per_batch": statistics.median(decode) / steps}
    return results


# --- (b) memory --------------------------------------------------------------------------------------

def peak_rss_mib() -> float:
    """This process's peak resident memory. VmHWM, not getrusage's ru_maxrss: Linux carries ru_maxrss over
    an exec, so a child would report its parent's peak."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def memory_child(root: str, n: int, steps: int, encoder: str) -> None:
    """In a fresh process: load the dataset, keep the first n episodes, train; print peak RSS (MiB)."""
    ds = load_dataset(root)
    cams = [type(e.observations["cam"]).__name__ for e in ds.episodes[:1]]
    subset = Dataset(ds.episodes[:n], ds.spec, meta=ds.meta)
    after_load = peak_rss_mib()
    train_bc(subset, "mlp", None, TrainConfig(steps=steps, batch_size=BATCH, val_fraction=0.1, eval_every=steps,
                                              seed=0), encoder=encoder_config(encoder))
    peak = peak_rss_mib()
    print(json.dumps({"episodes": n, "steps": subset.num_steps, "peak_rss_mib": peak,
                      "peak_rss_after_load_mib": after_load, "camera_storage": cams[0]}))


def memory(root: Path, counts: list[int], steps: int, encoder: str, T: int, size: int) -> list[dict]:
    rows = []
    for n in counts:
        cmd = [sys.executable, __file__, "--memory-child", str(root), str(n), "--steps", str(steps),
               "--encoders", encoder]
        out = subprocess.run(cmd, check=True, capture_output=True, text=True, env={**os.environ}).stdout
        row = json.loads(out.strip().splitlines()[-1])
        row["frames_in_memory_mib"] = n * T * size * size * 3 / 2**20  # what concatenating them would take
        rows.append(row)
        print(f"{n} episodes: peak RSS {row['peak_rss_mib']:.0f} MiB (frames decoded would be "
              f"{row['frames_in_memory_mib']:.0f} MiB)", flush=True)
    return rows


def _plot(rows: list[dict]) -> str | None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    n = [r["episodes"] for r in rows]
    fig, ax = plt.subplots(figsize=(5, 3.2))
    ax.plot(n, [r["peak_rss_mib"] for r in rows], "o-", label="peak RSS, lazy PNG frames")
    ax.plot(n, [r["frames_in_memory_mib"] for r in rows], "s--", label="the frames decoded in memory")
    ax.set_xlabel("recorded episodes")
    ax.set_ylabel("MiB")
    ax.legend()
    fig.tight_layout()
    OUT.mkdir(parents=True, exist_ok=True)
    fig.savefig(OUT / "vision_data_memory.png", dpi=120)
    return "vision_data_memory.png"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--encoders", nargs="+", default=None, help="image encoders (default: every one registered)")
    p.add_argument("--steps", type=int, default=20, help="optimiser steps per timed run")
    p.add_argument("--repeats", type=int, default=2, help="interleaved repeats per encoder (median)")
    p.add_argument("--workers", type=int, default=2, help="decoding threads of the prefetching runs")
    p.add_argument("--episodes", type=int, default=20, help="episodes of the throughput dataset")
    p.add_argument("--episode-steps", type=int, default=40, help="steps per synthetic episode")
    p.add_argument("--image-size", type=int, default=84)
    p.add_argument("--memory-episodes", type=int, nargs="+", default=[50, 200, 500])
    p.add_argument("--memory-encoder", default="small")
    p.add_argument("--memory-child", nargs=2, metavar=("ROOT", "N"), help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.memory_child:
        memory_child(args.memory_child[0], int(args.memory_child[1]), args.steps, (args.encoders or ["small"])[0])
        return
    encoders = args.encoders or encoder_names()
    T, size = args.episode_steps, args.image_size
    work = Path(tempfile.mkdtemp(prefix="vision_data_"))

    n_max = max([args.episodes, *args.memory_episodes])
    start = time.perf_counter()
    write_dataset(work / "data", n_max, T, size)
    written = time.perf_counter() - start
    disk = sum(f.stat().st_size for f in (work / "data").rglob("*.npz")) / 2**20
    print(f"wrote {n_max} episodes ({n_max * T} frames {size}x{size}, {disk:.0f} MiB) in {written:.0f} s", flush=True)

    full = load_dataset(work / "data")
    storage = type(full.episodes[0].observations["cam"]).__name__
    small = Dataset(full.episodes[:args.episodes], full.spec, meta=full.meta)
    scaling = decode_scaling(small)
    print(f"decoding: {scaling['frames_per_s_1_thread']:.0f} frames/s on 1 thread, "
          f"{scaling['frames_per_s_2_threads']:.0f} on 2 (x{scaling['speedup']:.2f})", flush=True)
    tput = throughput(small, encoders, args.steps, args.repeats, args.workers)
    mem = memory(work / "data", sorted(args.memory_episodes), max(5, args.steps // 2), args.memory_encoder, T, size)
    plot = _plot(mem)

    command = "python benchmarks/vision_data.py " + " ".join(sys.argv[1:])
    md = ["# The camera data path: throughput and memory", "",
          f"`{command.strip()}`; torch threads {torch.get_num_threads()}, {os.cpu_count()} CPU cores; "
          f"synthetic episodes of {T} steps, one {size}x{size} camera plus a {STATE_DIM}-D state, stored by the "
          f"native writer as PNG frames read lazily (`{storage}`), {disk / n_max:.2f} MiB per episode on disk.", "",
          f"## Training throughput, head `mlp`, batch {BATCH}, {args.steps} steps, {args.repeats} interleaved "
          f"repeats (median)", "",
          "`bare` trains the same policy over batches decoded before timing; `ahead` is `train_bc` decoding on "
          f"{args.workers} worker threads, 4 batches ahead (the default); `inline` decodes in the loop "
          "(`--workers 0`). Waiting: share of the loop's wall time spent blocked on the next batch.", "",
          "| encoder | bare images/s | ahead images/s | ratio | waiting | inline images/s | ratio | waiting | decode ms/batch (1 thread) |",
          "|---|---|---|---|---|---|---|---|---|"]
    for name, r in tput.items():
        m = r["median"]
        md.append(f"| {name} | {m['bare']:.0f} | {m['ahead']:.0f} | {r['ratio_ahead']:.3f} | "
                  f"{statistics.median(r['data_wait']['ahead']):.1%} | {m['inline']:.0f} | {r['ratio_inline']:.3f} | "
                  f"{statistics.median(r['data_wait']['inline']):.1%} | {1000 * r['decode_seconds_per_batch']:.1f} |")
    md += ["", "Goal: the data path costs at most 10% of training wall time (ratio at least 0.90).", "",
           f"Decoding a batch's frames (`EpisodeDataset._frames`) on 1 thread: {scaling['frames_per_s_1_thread']:.0f} "
           f"frames/s; the same requests split over 2 threads: {scaling['frames_per_s_2_threads']:.0f} frames/s "
           f"(x{scaling['speedup']:.2f}; Pillow releases the GIL while it inflates a PNG, the per-batch Python "
           f"around it does not; cores may be shared with other jobs).", "",
           f"## Peak memory against recorded episodes (encoder `{args.memory_encoder}`, "
           f"{max(5, args.steps // 2)} steps, a fresh process each)", "",
           "| episodes | steps | peak RSS MiB | after loading MiB | the frames decoded would take MiB |", "|---|---|---|---|---|"]
    for r in mem:
        md.append(f"| {r['episodes']} | {r['steps']} | {r['peak_rss_mib']:.0f} | {r['peak_rss_after_load_mib']:.0f} | "
                  f"{r['frames_in_memory_mib']:.0f} |")
    if plot:
        md += ["", f"![peak memory]({plot})"]
    md.append("")
    write_outputs("vision_data", {"command": command.strip(), "storage": storage, "episode_steps": T,
                                  "image_size": size, "batch_size": BATCH, "steps": args.steps,
                                  "workers": args.workers, "decode_scaling": scaling, "throughput": tput,
                                  "memory": mem}, "\n".join(md))


if __name__ == "__main__":
    main()
