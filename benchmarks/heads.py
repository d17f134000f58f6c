"""Every policy head on the same demonstrations: success, training time, inference latency (issue 3).

Protocol: record 50 demonstrations per task once with the scripted expert (recording seeds 0..49) and
reuse them for every head; for each head and training seed, train with `train_bc` (the head's default
config, TrainConfig defaults except `steps`, per task below) and evaluate on 50 episodes with evaluation
seeds (disjoint from the recording seeds). Report the mean success over training seeds with the pooled
95% Wilson interval over all evaluation episodes, the training wall time, and inference latency at
batch 1 on the CPU (one thread): per `select_action` call over whole episodes (median and 99th
percentile, wall clock and thread CPU time; the CPU is shared, so CPU time is the steadier figure) and
per full `predict_chunk` call.

Runs are cached under runs/bench/heads/ (one result.json per task/head/seed), so an interrupted run
resumes and the tables are rewritten after every run with whatever has been measured. Each run records
when and at which commit it was measured; a task/head with no cached run keeps the runs of the previous
docs/benchmarks/heads.json (an earlier grid, possibly older code), and the table's "measured" column says
which rows those are. A task/head that has any cached run shows only cached runs, never a mix of the two.
Text in heads.md from the HAND_WRITTEN heading on (root-cause notes) is kept when the table is rewritten.

    python benchmarks/heads.py                                   # the full grid (7 heads x 6 tasks x 3 seeds)
    python benchmarks/heads.py --tasks bimodal --seeds 0 1 2     # a part of it
    python benchmarks/heads.py --latency-only                    # only the latency table
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import ROOT, write_outputs  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402

from protege.algos.bc import TrainConfig, train_bc  # noqa: E402
from protege.checkpoint import CheckpointActorFactory, PolicyActor, load_actor  # noqa: E402
from protege.errors import ProtegeError  # noqa: E402
from protege.data.native import load_dataset  # noqa: E402
from protege.envs import get_task  # noqa: E402
from protege.evaluation.evaluate import evaluate  # noqa: E402
from protege.evaluation.metrics import wilson_interval  # noqa: E402
from protege.evaluation.rollout import eval_seeds  # noqa: E402
from protege.policies import POLICIES, make_policy  # noqa: E402
from protege.progress import TqdmProgress  # noqa: E402
from protege.recording import record_expert  # noqa: E402

HEADS = ["mlp", "gmm", "discrete", "chunked", "act", "diffusion", "flow"]
# hammer and basketball (issue 14's two Meta-World tasks no single-task benchmark used; both only in the MT50
# multi-task grid): multi-stage manipulation unlike pick-place and assembly (a tool swung into a nail; a
# ball grasped and dropped through a raised hoop), and the scripted expert succeeded in all 50 of each task's
# MT50 recordings, so a head far below 90% there fails where the demonstrator does not
TASKS = ["bimodal", "metaworld/pick-place", "pendulum", "metaworld/assembly", "metaworld/hammer", "metaworld/basketball"]
# (gradient steps, batch size) per task: 2000 x 128 everywhere, the budget `protege train` picks for
# datasets of this size (bimodal ran 5000 steps before issue 14)
STEPS = {"bimodal": (2000, 128), "pendulum": (2000, 128), "metaworld/pick-place": (2000, 128),
         "metaworld/assembly": (2000, 128), "metaworld/hammer": (2000, 128), "metaworld/basketball": (2000, 128)}
RUNS = ROOT / "runs" / "bench"
DEMOS = 50
OUT_JSON = ROOT / "docs" / "benchmarks" / "heads.json"
OUT_MD = ROOT / "docs" / "benchmarks" / "heads.md"
HAND_WRITTEN = "## Root causes (issue 14)"
"""heads.md keeps everything from this heading on when the generated tables above it are rewritten."""


def measured_label() -> str:
    """Today's UTC date and the last commit that changed the library (src/), with "+changes" when src/
    differs from it: the code a run measured, whatever else was committed since."""
    day = time.strftime("%Y-%m-%d", time.gmtime())
    try:
        commit = subprocess.run(["git", "log", "-1", "--format=%h", "--", "src"], cwd=ROOT, capture_output=True,
                                text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", "src"], cwd=ROOT,
                               capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return day
    return f"{day} ({commit}{'+changes' if dirty else ''})"


def slug(task: str) -> str:
    return task.replace("/", "_")


def dataset_for(task: str, progress=None) -> Path:
    """The task's 50 demonstrations, recorded once (recording seeds 0..49) and reused by every head."""
    path = RUNS / "data" / slug(task)
    if not (path / "meta.json").exists():
        record_expert(task, DEMOS, path, seed=0, overwrite=True, progress=progress)
    return path


def checkpoint_for(task: str, head: str, seed: int, steps: tuple[int, int], progress=None) -> tuple[Path, float]:
    """Train (or reuse) the checkpoint of `head` on `task` with training seed `seed`; (path, train seconds)."""
    ckpt = RUNS / "heads" / slug(task) / f"{head}-s{seed}"
    meta = ckpt / "train_time.json"
    if meta.exists() and (ckpt / "model.safetensors").exists():
        return ckpt, json.loads(meta.read_text())["wall_seconds"]
    ds = load_dataset(dataset_for(task, progress))
    result = train_bc(ds, head, None, TrainConfig(steps=steps[0], batch_size=steps[1], seed=seed), out=ckpt,
                      progress=progress)
    meta.write_text(json.dumps({"wall_seconds": result.wall_seconds, "steps": steps[0], "batch_size": steps[1]}))
    return ckpt, result.wall_seconds


EXECUTION_FIELDS = ("execution", "n_action_steps", "ensemble_m", "sample", "hold_draw")
"""Config fields that act only when the trained head runs (training never reads them)."""


def execution_overrides(head: str, ckpt: Path) -> dict:
    """Today's default of each execution-only field where the checkpoint's config differs: a checkpoint
    trained before such a default changed is evaluated with the new one instead of being trained again
    (the same weights a training run with today's defaults gives)."""
    saved = json.loads((ckpt / "config.json").read_text())["policy_config"]
    today = vars(POLICIES[head][0]())
    return {k: today[k] for k in EXECUTION_FIELDS if k in saved and k in today and saved[k] != today[k]}


@dataclass
class ExecutedAs:
    """Picklable: the checkpoint as an Actor with some execution-only config fields set to `overrides`."""
    path: str
    overrides: dict

    def __call__(self) -> PolicyActor:
        actor = load_actor(self.path)
        for key, value in self.overrides.items():
            if not hasattr(actor.policy.config, key):
                raise ProtegeError(f"{self.path}: {actor.policy.name} has no config field {key!r}")
            setattr(actor.policy.config, key, value)
        actor.policy.rebuild_controller()
        return actor


def actor_factory(ckpt: Path, overrides: dict):
    return ExecutedAs(str(ckpt), overrides) if overrides else CheckpointActorFactory(ckpt)


def _evaluated(task: str, ckpt: Path, overrides: dict, episodes: int, workers: int, progress) -> dict:
    """The checkpoint on `episodes` evaluation episodes (seeds disjoint from the demonstrations)."""
    seeds = load_dataset(dataset_for(task)).meta["provenance"]["episode_seeds"]
    ev = evaluate(get_task(task), actor_factory(ckpt, overrides), episodes, seed=0, workers=workers,
                  training_seeds=seeds, progress=progress).summary
    return {"successes": ev.successes, "episodes": ev.episodes, "success_rate": ev.success_rate,
            "mean_length": ev.mean_length, "measured": measured_label()}


def run_one(task: str, head: str, seed: int, episodes: int, steps: tuple[int, int], workers: int,
            progress) -> dict | None:
    folder = RUNS / "heads" / slug(task) / f"{head}-s{seed}"
    cache = folder / "result.json"
    cached = json.loads(cache.read_text()) if cache.exists() else None
    overrides = execution_overrides(head, folder) if cached else {}
    if cached and cached.get("execution_overrides", {}) == overrides:
        return cached
    # a new run, or a cached one whose execution-only defaults changed since: evaluated again, not retrained
    claim = folder / ("claimed-eval" if cached else "claimed")
    if claim.exists():  # another benchmark process is on it; its result is picked up when tables are written
        return None
    folder.mkdir(parents=True, exist_ok=True)
    claim.touch()
    if cached:
        out = {**cached, **_evaluated(task, folder, overrides, episodes, workers, progress),
               "execution_overrides": overrides, "trained": cached.get("trained", cached["measured"]),
               "before_overrides": cached.get("before_overrides", {
                   "success_rate": cached["success_rate"], "successes": cached["successes"]})}
        claim.unlink()
    else:
        ckpt, wall = checkpoint_for(task, head, seed, steps, progress)
        out = {"task": task, "head": head, "seed": seed, "steps": steps[0], "batch_size": steps[1],
               "train_seconds": wall, **_evaluated(task, ckpt, {}, episodes, workers, progress)}
    cache.write_text(json.dumps(out, indent=2))
    return out


# Each head's default config before issue 14 changed it, so its latency can be measured beside today's in
# one run: the values old checkpoints load with (each config's PREDATING), and act's execution and dropout,
# whose old values checkpoints store themselves.
BEFORE_ISSUE_14 = {head: dict(POLICIES[head][0].PREDATING) for head in HEADS
                   if getattr(POLICIES[head][0], "PREDATING", None)}
BEFORE_ISSUE_14["act"] = {"execution": "ensemble", "dropout": 0.1}
BEFORE_ISSUE_14["gmm"] = {**BEFORE_ISSUE_14.get("gmm", {}), "sample": "component"}
for _head in ("diffusion", "flow"):
    BEFORE_ISSUE_14[_head] = {**BEFORE_ISSUE_14[_head], "n_action_steps": 8}


def _timed(fn, n: int) -> tuple[list[float], list[float]]:
    wall, cpu = [], []
    for i in range(n):
        w0, c0 = time.perf_counter(), time.thread_time()
        fn(i)
        cpu.append(time.thread_time() - c0)
        wall.append(time.perf_counter() - w0)
    return wall, cpu


def _ms(v: list[float], q: float) -> float:
    return 1e3 * float(np.quantile(v, q))


@torch.inference_mode()
def latency(head: str, task: str, calls: int = 300, config: dict | None = None, label: str | None = None) -> dict:
    """Batch-1 CPU latency of `select_action` over consecutive steps (resetting every task horizon) and of
    `predict_chunk`, in ms: median and p99, wall clock and thread CPU time. Untrained weights: the cost
    does not depend on their values. config: fields overriding the head's defaults (None = defaults)."""
    t = get_task(task)
    policy = make_policy(head, config, t.spec, None).eval()
    env = t.make_env()
    obs, _ = env.reset(seed=eval_seeds(0, 1)[0])
    x = {k: torch.as_tensor(v)[None] for k, v in obs.items() if k in policy.obs_keys}
    hist = {k: v[:, None].expand(1, policy.n_obs, *v.shape[1:]) for k, v in x.items()}
    env.close()

    def step(i):
        if i % t.horizon == 0:
            policy.reset()
        policy.select_action(x)

    _timed(step, 20)  # warm-up
    policy.reset()
    s_wall, s_cpu = _timed(step, calls)
    _timed(lambda i: policy.predict_chunk(hist), 10)
    c_wall, c_cpu = _timed(lambda i: policy.predict_chunk(hist), max(50, calls // 4))
    return {"head": label or head, "task": task,
            "params": sum(p.numel() for p in policy.parameters() if p.requires_grad),
            "horizon": policy.horizon,
            "select_median_ms": _ms(s_wall, 0.5), "select_p99_ms": _ms(s_wall, 0.99),
            "select_cpu_median_ms": _ms(s_cpu, 0.5), "select_cpu_p99_ms": _ms(s_cpu, 0.99),
            "chunk_median_ms": _ms(c_wall, 0.5), "chunk_cpu_median_ms": _ms(c_cpu, 0.5)}


def reference_latency(task: str, steps: int, calls: int = 20) -> dict:
    """Batch-1 latency of one chunk from the Diffusion-Policy-sized denoiser (benchmarks/_dp_reference.py)
    on `task`'s sizes, with diffusion's horizon and observation history, sampled in `steps` network calls."""
    from _dp_reference import ReferenceUnet1D, parameter_count

    from protege.policies.diffusion import DiffusionConfig

    t, cfg = get_task(task), DiffusionConfig()
    obs_dim = sum(int(np.prod(s.shape)) for k, s in t.spec.observation.items() if len(s.shape) == 1)
    act_dim = int(np.prod(t.spec.action.shape))
    net = ReferenceUnet1D(act_dim, obs_dim * cfg.n_obs).eval()
    cond = torch.randn(1, obs_dim * cfg.n_obs)
    _timed(lambda i: net.sample(cond, cfg.horizon, act_dim, steps), 2)
    wall, cpu = _timed(lambda i: net.sample(cond, cfg.horizon, act_dim, steps), calls)
    return {"head": f"reference U-Net, {steps} steps", "task": task, "params": parameter_count(net),
            "horizon": cfg.horizon, "chunk_median_ms": _ms(wall, 0.5), "chunk_cpu_median_ms": _ms(cpu, 0.5)}


PAIR_REPEATS = 5


def _median_row(repeats: list[dict]) -> dict:
    """One latency row from repeated measurements of the same configuration: each timing its median."""
    return {k: statistics.median(r[k] for r in repeats) if k.endswith("_ms") else v for k, v in repeats[0].items()}


def latency_rows(task: str) -> list[dict]:
    """Every head with today's defaults and, where issue 14 changed them, with the defaults before it, then
    the reference denoiser at protege diffusion's step count and at Diffusion Policy's 100: one run, in
    that order, so the ratios compare like with like on the same machine state."""
    from protege.policies.diffusion import DiffusionConfig

    rows, load_before = [], os.getloadavg()[0]
    for head in HEADS:
        if head not in BEFORE_ISSUE_14:
            rows.append(latency(head, task))
            continue
        # a pair measured once each moved 10-20% between runs (gmm 1.11 then 1.21, flow 0.98 then 1.12, with
        # no change to either); alternated PAIR_REPEATS times, each figure the median of its repeats
        pairs = [(latency(head, task), latency(head, task, config=BEFORE_ISSUE_14[head],
                                               label=f"{head} (before issue 14)")) for _ in range(PAIR_REPEATS)]
        rows += [_median_row([p[i] for p in pairs]) for i in (0, 1)]
    rows.append(reference_latency(task, DiffusionConfig().inference_steps))
    rows.append(reference_latency(task, 100, calls=5))
    rows[0]["load_before"], rows[-1]["load_after"] = load_before, os.getloadavg()[0]
    return rows


def aggregate(results: list[dict]) -> list[dict]:
    rows = []
    for task in TASKS:
        for head in HEADS:
            rs = [r for r in results if r["task"] == task and r["head"] == head]
            if not rs:
                continue
            k, n = sum(r["successes"] for r in rs), sum(r["episodes"] for r in rs)
            lo, hi = wilson_interval(k, n)
            rows.append({"task": task, "head": head, "seeds": sorted(r["seed"] for r in rs),
                         "mean_success": statistics.mean(r["success_rate"] for r in rs),
                         "per_seed": [r["success_rate"] for r in sorted(rs, key=lambda r: r["seed"])],
                         "ci_low": lo, "ci_high": hi, "episodes": n,
                         "train_seconds": statistics.mean(r["train_seconds"] for r in rs), "steps": rs[0]["steps"],
                         "batch_size": rs[0]["batch_size"],
                         "measured": ", ".join(sorted({r.get("measured", "earlier grid, undated") for r in rs}))})
    return rows


def markdown(rows: list[dict], lat: list[dict], command: str) -> str:
    lines = ["# Policy heads: success, training time, latency", "",
             "Produced by `python benchmarks/heads.py` (each task/head/seed run is cached under runs/bench/ and "
             f"every finished run is merged into this table; the last invocation was `{command}`). Per task: "
             "steps x batch below, evaluation episodes per seed in the interval column. 50 demonstrations per task (recording seeds 0..49), the same for every "
             "head; each head with its default config; 50 evaluation episodes per training seed on seeds disjoint "
             "from the demonstrations. Success: mean over training seeds, with the 95% Wilson interval of all "
             "evaluation episodes pooled (the episode count says how many were run). Training time is wall clock on a 2-core CPU shared with other jobs "
             "(compare within one table only). Measured: the date of the row's runs and the last commit that changed "
             "src/ then (\"+changes\": src/ differed from that commit); a row whose runs are not cached here is carried over from "
             "the previous heads.json with its own date, so rows of different dates ran different code.", ""]
    if rows:
        lines += ["| task | head | success (mean over seeds) | 95% Wilson (pooled) | per seed (%) | steps x batch | "
                  "train time (s) | measured |", "|---|---|---|---|---|---|---|---|"]
        for r in rows:
            per = ", ".join(f"{100 * s:.0f}" for s in r["per_seed"])
            lines.append(f"| {r['task']} | {r['head']} | {100 * r['mean_success']:.0f}% | "
                         f"[{100 * r['ci_low']:.0f}, {100 * r['ci_high']:.0f}] ({r['episodes']} ep) | {per} | "
                         f"{r['steps']} x {r['batch_size']} | {r['train_seconds']:.0f} | {r['measured']} |")
        lines.append("")
    done = {(r["task"], r["head"], s) for r in rows for s in r["seeds"]}
    missing = [f"{t} ({', '.join(h for h in HEADS if any((t, h, s) not in done for s in (0, 1, 2)))})"
               for t in TASKS if any((t, h, s) not in done for h in HEADS for s in (0, 1, 2))]
    if missing:
        grid = f"{len(HEADS)} heads x {len(TASKS)} tasks x 3 seeds"
        lines += [f"Not yet run for all 3 training seeds (the grid is {grid}): " + "; ".join(missing)
                  + ". Rows show the seeds that were run.", ""]
    if lat:
        lines += [f"## Inference latency at batch 1 (CPU, 1 thread, {lat[0]['task']} observation/action sizes)", "",
                  "`select_action` is timed over consecutive steps, so chunking heads show cheap queue pops and "
                  "occasional full predictions (the p99). Wall clock includes time the shared CPU spent on "
                  "other jobs; thread CPU time does not. A head and its configuration before issue 14 are "
                  f"measured alternately {PAIR_REPEATS} times, each figure the median over those repeats.", "",
                  "| head | params | H | select_action median (ms) | p99 (ms) | CPU-time median | CPU-time p99 | "
                  "predict_chunk median (ms) | CPU-time median |", "|---|---|---|---|---|---|---|---|---|"]
        for r in lat:
            sel = (f"{r['select_median_ms']:.3f} | {r['select_p99_ms']:.2f} | {r['select_cpu_median_ms']:.3f} | "
                   f"{r['select_cpu_p99_ms']:.2f}") if "select_median_ms" in r else "- | - | - | -"
            lines.append(f"| {r['head']} | {r['params']:,} | {r['horizon']} | {sel} | "
                         f"{r['chunk_median_ms']:.2f} | {r['chunk_cpu_median_ms']:.2f} |")
        lines += [""] + latency_ratios(lat)
    return "\n".join(lines)


def latency_ratios(lat: list[dict]) -> list[str]:
    """Issue 14's latency targets as ratios of thread CPU time within one run: no head slower than its
    configuration before issue 14, and diffusion/flow chunks at least 10x faster than the reference."""
    by = {r["head"]: r for r in lat}
    refs = [r for r in lat if r["head"].startswith("reference")]
    if not refs:
        return []
    load = (f" (1-minute load average {lat[0]['load_before']:.1f} before the first row, {lat[-1]['load_after']:.1f} "
            "after the last, on 2 cores)") if "load_before" in lat[0] else ""
    out = [f"Ratios of thread CPU time medians in this run{load}; other jobs still slow a thread's CPU time "
           "through shared caches, so compare only within one run:", ""]
    for head in HEADS:
        before = by.get(f"{head} (before issue 14)")
        if before:
            now = by[head]
            key = "select_cpu_median_ms" if head not in ("diffusion", "flow") else "chunk_cpu_median_ms"
            out.append(f"- {head}: today / before issue 14 = {now[key] / before[key]:.2f} "
                       f"({'select_action' if key.startswith('select') else 'predict_chunk'}; target: not above 1 beyond "
                       "timing noise)")
    for ref in refs:
        for head in ("diffusion", "flow"):
            out.append(f"- {ref['head']} ({ref['params'] / 1e6:.1f}M parameters) / {head} chunk = "
                       f"{ref['chunk_cpu_median_ms'] / by[head]['chunk_cpu_median_ms']:.0f}x (target >= 10x)")
    return out + [""]


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--tasks", nargs="+", default=TASKS)
    p.add_argument("--heads", nargs="+", default=HEADS)
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    p.add_argument("--eval-episodes", type=int, default=50)
    p.add_argument("--steps", type=int, default=None, help="override every task's gradient steps")
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--latency-only", action="store_true")
    p.add_argument("--latency-task", default="metaworld/pick-place")
    args = p.parse_args()
    torch.set_num_threads(1)
    progress = TqdmProgress()
    command = "python benchmarks/heads.py " + " ".join(sys.argv[1:])
    previous = json.loads(OUT_JSON.read_text()) if OUT_JSON.exists() else {}
    earlier = previous.get("runs", [])
    lat = previous.get("latency", [])
    if args.latency_only or not lat:
        lat = latency_rows(args.latency_task)
    if not args.latency_only:
        # seeds outermost: a partial run covers every head and task with one seed before adding more
        for seed in args.seeds:
            for task in args.tasks:
                for head in args.heads:
                    steps = (args.steps or STEPS[task][0], STEPS[task][1])
                    if run_one(task, head, seed, args.eval_episodes, steps, args.workers, progress):
                        write(merged_results(earlier), lat, command)
    write(merged_results(earlier), lat, command)


def cached_results() -> list[dict]:
    """Every finished run, also those of earlier or parallel invocations."""
    return [json.loads(f.read_text()) for f in sorted((RUNS / "heads").glob("*/*/result.json"))]


def merged_results(earlier: list[dict]) -> list[dict]:
    """The cached runs, plus the earlier grid's runs (from the previous heads.json) of every task/head that
    has no cached run: a task/head's row is either all cached runs or all earlier ones."""
    cached = cached_results()
    have = {(r["task"], r["head"]) for r in cached}
    return cached + [r for r in earlier if (r["task"], r["head"]) not in have]


def write(results: list[dict], lat: list[dict], command: str) -> None:
    rows = aggregate(results)
    text = markdown(rows, lat, command)
    kept = OUT_MD.read_text().partition(HAND_WRITTEN) if OUT_MD.exists() else ("", "", "")
    if kept[1]:
        text = text.rstrip("\n") + "\n\n" + kept[1] + kept[2]
    write_outputs("heads", {"results": rows, "runs": results, "latency": lat, "steps": STEPS}, text)


if __name__ == "__main__":
    main()
