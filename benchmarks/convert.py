"""Converting a 100-episode Meta-World dataset to and from each format, and loading each for training.

Records `metaworld/pick-place` x 100 with the scripted expert (state observations, 39-D; the episodes
keep their final observation), then for each format (LeRobot v3.0, robomimic HDF5, Minari HDF5 / Arrow /
Parquet, and native as the reference) measures:

- to:   native -> format (write to a temporary path, read back, compare, rename: what `protege convert` does)
- from: format -> native (the same, the other way)
- load: `load_any(path)` + building the training tensors (`EpisodeDataset`), what `protege train` does first

Each operation runs in its own child process (so peak memory is that operation's own), REPEATS times;
the table gives the median wall time, the ratio to the native operation measured in the same run, the
peak resident memory of the child and the peak over the child's baseline after imports, and the size on
disk. Timings are only compared within this run.

    python benchmarks/convert.py [--episodes 100] [--repeats 5]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

FORMATS = [("protege", {}), ("lerobot", {}), ("robomimic", {}), ("minari", {"data_format": "hdf5"}),
           ("minari", {"data_format": "arrow"}), ("minari", {"data_format": "parquet"})]


def _label(fmt: str, opts: dict) -> str:
    return f"{fmt} ({opts['data_format']})" if "data_format" in opts else fmt


def _dst(work: Path, fmt: str, opts: dict, tag: str) -> Path:
    name = f"{tag}-{fmt}-{opts.get('data_format', '')}".rstrip("-")
    return work / (name + ".hdf5" if fmt == "robomimic" else name)


def _current_rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


class _PeakRSS:
    """Samples this process's resident memory every 2 ms while an operation runs (ru_maxrss cannot be
    used: its high-water mark is usually set while importing torch, before the operation starts)."""

    def __enter__(self) -> "_PeakRSS":
        self.base = self.peak = _current_rss_mb()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.wait(0.002):
            self.peak = max(self.peak, _current_rss_mb())

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, _current_rss_mb())


def child(op: str, src: str, dst: str, fmt: str, opts: str) -> None:
    """One measured operation in a fresh process; prints a JSON line."""
    import torch

    torch.set_num_threads(1)
    from protege.data.formats import convert, load_any  # noqa: F401  (imports before the baseline)
    from protege.data.formats import lerobot, lerobot_write, minari, robomimic  # noqa: F401
    from protege.data.windows import EpisodeDataset

    with _PeakRSS() as mem:
        t0 = time.perf_counter()
        if op == "load":
            ds = load_any(src, fmt=fmt)
            data = EpisodeDataset(ds.episodes)
            n = len(data)
        else:
            to = fmt if op == "to" else "protege"
            report = convert(src, dst, from_fmt=None, to_fmt=to, **(json.loads(opts) if op == "to" else {}))
            n = report.steps
        seconds = time.perf_counter() - t0
    print(json.dumps({"seconds": seconds, "peak_mb": mem.peak, "base_mb": mem.base, "steps": n}))


def _size_mb(path: Path) -> float:
    if path.is_file():
        return path.stat().st_size / 1e6
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 1e6


def _run_child(*args: str) -> dict:
    env = dict(os.environ, OMP_NUM_THREADS="1")
    r = subprocess.run([sys.executable, __file__, "--child", *args], capture_output=True, text=True, env=env)
    if r.returncode != 0:
        raise RuntimeError(r.stderr)
    return json.loads(r.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--episodes", type=int, default=100)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--child", nargs=5)
    a = ap.parse_args()
    if a.child:
        child(*a.child)
        return

    import torch
    from _common import write_outputs

    from protege.progress import TqdmProgress
    from protege.recording import record_expert

    torch.set_num_threads(1)
    work = Path(tempfile.mkdtemp(prefix="convert_bench_"))
    native = work / "native"
    record_expert("metaworld/pick-place", a.episodes, native, seed=0, progress=TqdmProgress())

    rows = []
    for fmt, opts in FORMATS:
        label = _label(fmt, opts)
        row = {"format": label}
        for op in ("to", "from", "load"):
            runs = []
            for rep in range(a.repeats):
                dst = _dst(work, fmt, opts, f"{op}{rep}")
                if op == "to":
                    src = native
                elif op == "from":
                    src, dst = _dst(work, fmt, opts, "to0"), work / f"from{rep}-{label.replace(' ', '')}"
                else:
                    src = _dst(work, fmt, opts, "to0") if fmt != "protege" else native
                runs.append(_run_child(op, str(src), str(dst), fmt, json.dumps(opts)))
                if op != "to" or rep > 0:
                    shutil.rmtree(dst, ignore_errors=True) if dst.is_dir() else dst.unlink(missing_ok=True)
            row[op] = {"seconds": statistics.median(r["seconds"] for r in runs),
                       "runs": [r["seconds"] for r in runs],
                       "peak_mb": max(r["peak_mb"] for r in runs),
                       "over_base_mb": max(r["peak_mb"] - r["base_mb"] for r in runs)}
            print(f"{label:16s} {op:5s} {row[op]['seconds']:.2f} s  peak {row[op]['peak_mb']:.0f} MB", flush=True)
        row["size_mb"] = _size_mb(_dst(work, fmt, opts, "to0") if fmt != "protege" else native)
        rows.append(row)
    ref = rows[0]
    steps = _run_child("load", str(native), "-", "protege", "{}")["steps"]
    md = [f"# Dataset conversion: {a.episodes} Meta-World pick-place episodes ({steps} steps, 39-D state)", "",
          f"Median of {a.repeats} runs, each operation in its own process (`nice`, 1 thread). *x native* is the "
          "ratio to the same operation on the native format in this run. *to* = native -> format and *from* = "
          "format -> native, each written to a temporary path, read back, compared and renamed; *load* = "
          "`load_any` + training tensors. Peak = peak resident memory of the process during the operation "
          "(sampled every 2 ms; imports included); +op = that peak minus the resident memory just before the "
          "operation. Machine: 2 shared cores, busy with other jobs while this ran, so times are noisy; compare "
          "ratios within this table only.", "",
          "| format | to (s) | x native | from (s) | x native | load (s) | x native | peak to / from / load (MB) | +op to / from / load (MB) | on disk (MB) |",
          "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        md.append(f"| {r['format']} | {r['to']['seconds']:.2f} | {r['to']['seconds'] / ref['to']['seconds']:.2f} | "
                  f"{r['from']['seconds']:.2f} | {r['from']['seconds'] / ref['from']['seconds']:.2f} | "
                  f"{r['load']['seconds']:.3f} | {r['load']['seconds'] / ref['load']['seconds']:.2f} | "
                  f"{r['to']['peak_mb']:.0f} / {r['from']['peak_mb']:.0f} / {r['load']['peak_mb']:.0f} | "
                  f"{r['to']['over_base_mb']:.0f} / {r['from']['over_base_mb']:.0f} / {r['load']['over_base_mb']:.0f} | "
                  f"{r['size_mb']:.1f} |")
    md += ["", "Reproduce: `nice -n 10 python benchmarks/convert.py` (writes this file, convert.json and convert.png)."]
    write_outputs("convert", {"episodes": a.episodes, "steps": steps, "repeats": a.repeats, "rows": rows},
                  "\n".join(md) + "\n")
    _plot(rows)
    shutil.rmtree(work, ignore_errors=True)


def _plot(rows: list[dict]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np
    from _common import OUT

    fig, ax = plt.subplots(figsize=(8, 3.6))
    x = np.arange(len(rows))
    for i, op in enumerate(("to", "from", "load")):
        ax.bar(x + (i - 1) * 0.27, [r[op]["seconds"] for r in rows], 0.27, label=op)
    ax.set_xticks(x, [r["format"] for r in rows])
    ax.set_ylabel("seconds (median)")
    ax.set_title("100 Meta-World episodes: convert to / from native, load for training")
    ax.legend()
    fig.tight_layout()
    fig.savefig(OUT / "convert.png", dpi=120)


if __name__ == "__main__":
    main()
