"""How fast `protege view` opens a large dataset: 1,000 episodes, the target is under 2 s to the episode list.

Writes synthetic datasets with Meta-World's shapes (39-D state, 4-D action in [-1, 1], 80-500 steps per
episode, rewards; the viewer's cost depends on files and sizes, not on the values), and a camera dataset
(84x84 frames stored as PNG), then measures, each REPEATS times in a fresh child process (median):

- index:   `ViewerServer(path)`: detecting the kind and building the episode index, what `protege view`
           does before it serves (the index of a native dataset reads a few small arrays per file)
- list:    time from navigation to the drawn episode list in headless Chromium (the page's own
           `performance.now()`, fetches and rendering included), when Chromium is installed
- opens:   index + list, the number the target is about
- episode: GET /api/episode for the longest episode (JSON size), and /api/frames for a camera episode
- stats:   GET /api/stats (histograms and warnings; reads every episode, on demand in the Statistics tab)
- load_dataset: reading the whole dataset with the native reader, for comparison (what the index avoids)

The datasets are read from the page cache (just written); a cold disk adds its own read time.

    python benchmarks/viewer.py [--episodes 1000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

CHILD = r"""
import json, sys, time, urllib.request
t0 = time.perf_counter()
from protege.viewer import ViewerServer
t_import = time.perf_counter() - t0
path, what = sys.argv[1], sys.argv[2]
out = {"import_s": t_import}
if what == "load_dataset":
    from protege.data import load_dataset
    t = time.perf_counter(); load_dataset(path); out["load_dataset_s"] = time.perf_counter() - t
    print(json.dumps(out)); raise SystemExit
t = time.perf_counter(); server = ViewerServer(path, port=0).start(); out["index_s"] = time.perf_counter() - t
def get(u):
    t = time.perf_counter(); body = urllib.request.urlopen(server.url + u).read(); return time.perf_counter() - t, body
out["api_list_s"], body = get("api/episodes?p=")
rows = json.loads(body)["rows"]
longest = max(rows, key=lambda r: r[1])[0]
out["episode_s"], body = get(f"api/episode?p=&i={longest}"); out["episode_kb"] = len(body) / 1024
out["episode_steps"] = max(r[1] for r in rows)
cams = json.loads(body)["cameras"]
if cams:
    out["frames_s"], fb = get(f"api/frames?p=&i={longest}&key={next(iter(cams))}"); out["frames_kb"] = len(fb) / 1024
if what == "stats":
    out["stats_s"], _ = get("api/stats?p=")
print(json.dumps(out), flush=True)
if what == "browser":
    print("URL " + server.url, flush=True)
    sys.stdin.readline()  # until the browser is done
server.close()
"""


def write_state(root: Path, n: int, seed: int = 0) -> None:
    import numpy as np

    from protege.data import Episode
    from protege.data.native import DatasetWriter
    from protege.specs import ArraySpec, Spec

    spec = Spec({"state": ArraySpec((39,))}, ArraySpec((4,), low=(-1.0,) * 4, high=(1.0,) * 4), 80.0)
    rng = np.random.default_rng(seed)
    with DatasetWriter(root, spec, task="metaworld/pick-place") as w:
        for i in range(n):
            T = int(rng.integers(80, 501))
            w.add(Episode({"state": rng.normal(size=(T + 1, 39)).astype(np.float32)},
                          np.clip(rng.normal(0, 0.5, (T, 4)), -1, 1).astype(np.float32),
                          rewards=rng.normal(size=T).astype(np.float32), success=bool(rng.random() < 0.8),
                          info={"seed": i}))


def write_camera(root: Path, n: int, T: int = 100, size: int = 84) -> None:
    import numpy as np

    from protege.data import Episode
    from protege.data.native import DatasetWriter
    from protege.specs import ArraySpec, Spec

    spec = Spec({"state": ArraySpec((7,)), "corner": ArraySpec((size, size, 3), "uint8")},
                ArraySpec((4,), low=(-1.0,) * 4, high=(1.0,) * 4), 80.0)
    rng = np.random.default_rng(1)
    yy, xx = np.mgrid[:size, :size]
    with DatasetWriter(root, spec, task="metaworld/reach[corner@84]") as w:
        for i in range(n):
            frames = np.empty((T, size, size, 3), np.uint8)
            for t in range(T):  # a smooth scene with a moving blob: PNGs of realistic size, not noise
                cx, cy = 20 + 40 * t / T, 42 + 10 * np.sin(t / 9 + i)
                blob = np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / 60.0)
                frames[t] = np.stack([90 + 150 * blob, 80 + 40 * blob, 70 + 20 * (yy / size)], -1).astype(np.uint8)
            w.add(Episode({"state": rng.normal(size=(T, 7)).astype(np.float32), "corner": frames},
                          np.clip(rng.normal(0, 0.5, (T, 4)), -1, 1).astype(np.float32), success=True))


def child(path: Path, what: str) -> dict:
    env = dict(os.environ, OMP_NUM_THREADS="1")
    r = subprocess.run([sys.executable, "-c", CHILD, str(path), what], capture_output=True, text=True, env=env)
    if r.returncode:
        raise RuntimeError(r.stderr[-2000:])
    return json.loads(r.stdout.splitlines()[0])


def browser_list_ms(path: Path, chromium: str) -> tuple[dict, float]:
    """(the child's measurements, ms from navigation to the drawn list, measured by the page)."""
    env = dict(os.environ, OMP_NUM_THREADS="1")
    p = subprocess.Popen([sys.executable, "-c", CHILD, str(path), "browser"], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, text=True, env=env)
    try:
        out = json.loads(p.stdout.readline())
        url = p.stdout.readline().split(" ", 1)[1].strip()
        profile = tempfile.mkdtemp(prefix="pv-")
        cmd = [chromium, "--headless", "--disable-gpu", "--no-first-run", f"--user-data-dir={profile}",
               "--virtual-time-budget=20000", "--dump-dom", url + "#view="]
        if os.geteuid() == 0:
            cmd.insert(1, "--no-sandbox")
        dom = subprocess.run(cmd, capture_output=True, text=True, timeout=120).stdout
        shutil.rmtree(profile, ignore_errors=True)
        m = re.search(r'<table id="episodes" data-first-ms="(\d+)"', dom)
        rows = len(re.findall(r'<tr class="link"', dom))
        return {**out, "browser_rows": rows}, float(m.group(1)) if m else float("nan")
    finally:
        p.stdin.write("\n")
        p.stdin.flush()
        p.wait(timeout=30)


def command_to_serving(path: Path) -> float:
    """Seconds from starting `protege view PATH` to its "serving at URL" line: Python and the CLI's imports
    (the view verb's module only: no torch) plus the index."""
    exe = Path(sys.executable).parent / "protege"
    env = dict(os.environ, OMP_NUM_THREADS="1")
    t = time.perf_counter()
    p = subprocess.Popen([str(exe), "view", str(path), "--port", "0"], stdout=subprocess.PIPE, text=True, env=env)
    try:
        line = p.stdout.readline()
        elapsed = time.perf_counter() - t
        assert " at http://127.0.0.1:" in line, line
        return elapsed
    finally:
        p.terminate()
        p.wait(timeout=30)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--episodes", type=int, default=1000)
    ap.add_argument("--camera-episodes", type=int, default=200)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    from _common import write_outputs

    chromium = next((shutil.which(b) for b in ("chromium", "chromium-browser", "google-chrome") if shutil.which(b)), None)
    tmp = Path(tempfile.mkdtemp(prefix="viewer-bench-"))
    try:
        datasets = {f"state, {args.episodes} episodes": tmp / "state", f"camera 84x84, {args.camera_episodes} episodes": tmp / "camera"}
        t = time.perf_counter()
        write_state(tmp / "state", args.episodes)
        write_camera(tmp / "camera", args.camera_episodes)
        print(f"datasets written in {time.perf_counter() - t:.0f} s", flush=True)
        results = {}
        for name, path in datasets.items():
            runs = [child(path, "stats") for _ in range(args.repeats)]
            loads = [child(path, "load_dataset")["load_dataset_s"] for _ in range(args.repeats)]
            lists = [browser_list_ms(path, chromium) for _ in range(args.repeats)] if chromium else []
            med = lambda k, rs=runs: statistics.median(r[k] for r in rs) if all(k in r for r in rs) else None  # noqa: E731
            res = {k: med(k) for k in runs[0]}
            res["load_dataset_s"] = statistics.median(loads)
            res["command_s"] = statistics.median(command_to_serving(path) for _ in range(args.repeats))
            res["size_mb"] = sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 2**20
            if lists:
                res["index_s"] = statistics.median([res["index_s"]] + [r["index_s"] for r, _ in lists])
                res["browser_list_s"] = statistics.median(ms for _, ms in lists) / 1000
                res["browser_rows"] = lists[0][0]["browser_rows"]
                res["opens_s"] = res["index_s"] + res["browser_list_s"]
            results[name] = res
            print(name, json.dumps(res), flush=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    lines = ["# protege view: opening large datasets", "",
             f"Synthetic native datasets (Meta-World shapes: 39-D state, 4-D action, 80-500 steps; and 84x84 camera "
             f"frames as PNG), median of {args.repeats} fresh processes, files in the page cache. "
             "*opens* = building the episode index (before serving) + navigation to the drawn list in headless "
             f"Chromium{'' if chromium else ' (not installed: not measured)'}. Produced by `benchmarks/viewer.py`.", "",
             "| dataset | size | opens (target < 2 s) | index | list in browser | rows shown | episode JSON (longest) "
             "| camera frames | statistics | load_dataset (whole) | `protege view` start to serving |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    f = lambda v, unit="s": "–" if v is None else f"{v:.2f} {unit}"  # noqa: E731
    for name, r in results.items():
        frames = f"{f(r.get('frames_s'))}, {r['frames_kb']:.0f} kB" if r.get("frames_s") is not None else "–"
        lines.append(f"| {name} | {r['size_mb']:.0f} MB | **{f(r.get('opens_s'))}** | {f(r['index_s'])} | "
                     f"{f(r.get('browser_list_s'))} | {r.get('browser_rows', '–')} | {f(r['episode_s'])}, "
                     f"{r['episode_kb']:.0f} kB ({r['episode_steps']} steps) | {frames} | {f(r['stats_s'])} | "
                     f"{f(r['load_dataset_s'])} | {f(r['command_s'])} |")
    lines += ["", "*index* is all the viewer adds before serving; *`protege view` start to serving* also counts "
              "starting Python and importing the CLI and the view verb (torch is not imported). *statistics* (the "
              "Statistics tab) reads every episode."]
    write_outputs("viewer", {"episodes": args.episodes, "camera_episodes": args.camera_episodes,
                             "repeats": args.repeats, "chromium": bool(chromium), "results": results},
                  "\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
