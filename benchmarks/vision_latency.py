"""vision_latency: batch-1 latency of every head with each image encoder, and camera-to-action in deploy (issue 13).

Part 1, heads x encoders. Each head (untrained weights: the cost does not depend on their values) is built with
`make_policy` on the `metaworld-vision/<task>` spec (two 84x84 cameras + the 7-D state) with normalisation
statistics from a short random-action rollout of that task, exported to ONNX (parity checked as `protege export`
checks it: max |PyTorch - ONNX| over `--parity-samples` observations and noise draws), and timed at batch 1 on one
CPU thread: one `predict_chunk` (through `TorchPredictor`, what deploy calls) and one exported-graph call on ONNX
Runtime (1 intra-op thread), on the same rendered observations and the same noise, calls interleaved one by one
so both backends see the same machine load. Chunking heads predict a whole chunk per call; the table also gives
the chunk length and the actions executed per call.

Part 2, deploy. `run_deployment` drives `SimRobot` on the task with the small encoder and the mlp head (PyTorch,
then the exported ONNX file) at each `--hz` for `--steps` steps, the runs ordered ABBA so drift in the shared
machine's load falls on both backends. The simulated robot renders its two frames inside `env.step` (the
previous step's `send_action`); the benchmark times that render and the whole env step in the same run.
Camera-to-action for the simulated robot is defined per step as the render time of the frames it acted on plus
observation-to-action (the observation's timestamp to the moment its action is handed to the robot, the
deploy report's `observation_to_action_ms`). A real camera's exposure and capture-to-host transfer are not
modelled. Target (issue 13): camera-to-action under 25 ms at batch 1 on the CPU with the small encoder.

Writes docs/benchmarks/vision_latency.{json,md}.

    OMP_NUM_THREADS=1 python benchmarks/vision_latency.py                       # everything, ~6 min
    OMP_NUM_THREADS=1 python benchmarks/vision_latency.py --heads mlp --encoders small --calls 50 --steps 100
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import write_outputs  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402

from protege.data.stats import array_stats  # noqa: E402
from protege.deploy import ChunkExecutor, DeployConfig, ExportedPredictor, TorchPredictor, run_deployment  # noqa: E402
from protege.deploy.export import export_policy  # noqa: E402
from protege.deploy.robot import TIMESTAMP_KEY  # noqa: E402
from protege.deploy.exported import load_exported  # noqa: E402
from protege.envs import get_task  # noqa: E402
from protege.envs.cameras import CameraEnv  # noqa: E402
from protege.envs.sim_robot import SimRobot  # noqa: E402
from protege.policies import EncoderConfig, make_policy  # noqa: E402

HEADS = ["mlp", "gmm", "discrete", "chunked", "act", "diffusion", "flow", "gaussian"]
ENCODERS = ["small", "resnet18"]
TASK = "metaworld-vision/button-press"
TARGET_MS = 25.0


def _load() -> str:
    """1-minute load average: the machine is shared, so it goes beside every timing."""
    return f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"


def _ms(values_s: list[float]) -> dict[str, float]:
    v = np.asarray(values_s) * 1000.0
    return {"median": float(np.median(v)), "p99": float(np.percentile(v, 99)), "max": float(v.max()), "n": len(v)}


# --- observations and statistics -------------------------------------------------------------------
def rollout(task_name: str, steps: int, seed: int) -> tuple[list[dict], dict]:
    """Rendered observations of a random-action rollout (for timing) and statistics built from it (state
    statistics from the rollout, action statistics from the action bounds' uniform draws)."""
    task = get_task(task_name)
    env = task.make_env()
    rng = np.random.default_rng(seed)
    obs, _ = env.reset(seed=seed)
    observations, actions = [obs], []
    low, high = np.asarray(task.spec.action.low, np.float32), np.asarray(task.spec.action.high, np.float32)
    for _ in range(steps):
        a = rng.uniform(low, high).astype(np.float32)
        obs, *_ = env.step(a)
        observations.append(obs)
        actions.append(a)
    env.close()
    vector = [k for k, s in task.spec.observation.items() if len(s.shape) <= 1]
    stats = {f"observation.{k}": array_stats(np.stack([o[k] for o in observations])) for k in vector}
    stats["action"] = array_stats(np.stack(actions))
    return observations, stats


def build(head: str, encoder: str, spec, stats: dict) -> torch.nn.Module:
    torch.manual_seed(0)
    policy = make_policy(head, None, spec, stats, EncoderConfig(name=encoder))
    low, high = torch.as_tensor(spec.action.low), torch.as_tensor(spec.action.high)
    policy.fit_data(low + (high - low) * torch.rand(1000, len(low)))  # e.g. the discrete head's bins
    return policy.eval()


# --- part 1: heads x encoders ----------------------------------------------------------------------
def head_latency(head: str, encoder: str, spec, stats: dict, observations: list[dict], calls: int,
                 parity_samples: int, work: Path) -> dict:
    """Median / p99 ms (wall clock and thread CPU time) of one batch-1 prediction, PyTorch and ONNX Runtime
    interleaved call by call on the same observations and noise; ONNX export parity."""
    policy = build(head, encoder, spec, stats)
    t0 = time.perf_counter()
    report = export_policy(policy, work / f"{encoder}-{head}.onnx", "onnx", parity_samples=parity_samples)
    export_s = time.perf_counter() - t0
    preds = {"torch": TorchPredictor(policy, threads=1), "onnx": ExportedPredictor(load_exported(report.path, 1))}
    s = preds["torch"].settings
    rng = np.random.default_rng(0)
    n_obs = policy.n_obs
    wall: dict[str, list[float]] = {k: [] for k in preds}
    cpu: dict[str, list[float]] = {k: [] for k in preds}
    warmup = 5
    for i in range(calls + warmup):
        t = (i * n_obs) % (len(observations) - n_obs)  # a real history: consecutive rendered observations
        history = {k: np.stack([o[k] for o in observations[t:t + n_obs]])[None] for k in policy.obs_keys}
        noise = None if s.noise_shape is None else rng.standard_normal((1, *s.noise_shape)).astype(np.float32)
        order = list(preds) if i % 2 == 0 else list(preds)[::-1]  # neither backend always runs first
        for name in order:
            w0, c0 = time.perf_counter(), time.thread_time()
            chunk = preds[name].predict(history, noise)
            c1, w1 = time.thread_time(), time.perf_counter()
            if i >= warmup:
                wall[name].append(w1 - w0)
                cpu[name].append(c1 - c0)
    assert chunk.shape == (1, policy.horizon, spec.action.shape[0]), chunk.shape
    per_call = s.n_action_steps if s.execution == "receding" else 1
    out = {"head": head, "encoder": encoder, "horizon": policy.horizon, "n_obs": n_obs, "execution": s.execution,
           "actions_per_call": per_call, "sampling": s.noise_shape is not None,
           "params": sum(p.numel() for p in policy.parameters()),
           "encoder_params": sum(p.numel() for p in policy.image_encoders.parameters()),
           "onnx_max_abs_diff": report.max_abs_diff, "onnx_ulp_sensitivity": report.ulp_sensitivity,
           "onnx_size_bytes": report.size_bytes, "export_s": export_s, "calls": calls}
    for name in preds:
        out[name] = {"wall_ms": _ms(wall[name]), "cpu_ms": _ms(cpu[name])}
    out["torch_over_onnx_median"] = out["torch"]["wall_ms"]["median"] / out["onnx"]["wall_ms"]["median"]
    return out


# --- part 2: deploy ------------------------------------------------------------------------------------
class TimedSimRobot(SimRobot):
    """SimRobot that times, in the same run, the cameras' render inside every env step, the whole env step,
    and (per step) observation-to-action as the runner measures it, so camera-to-action can be summed per
    step: the render of the frames a step acts on + that step's observation-to-action."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.render_s: list[float] = []
        self.render_cpu_s: list[float] = []
        self.step_s: list[float] = []
        self.obs_to_action_s: list[float] = []
        self.camera_to_action_s: list[float] = []
        self._stamp: float | None = None
        self._last_render: float | None = None
        self._last_render_cpu = 0.0

    def connect(self) -> None:
        super().connect()
        env = self.env
        while not isinstance(env, CameraEnv):  # the camera wrapper sits somewhere in the wrapper chain
            env = env.env
        frames = env._frames

        def timed_frames():
            t0, c0 = time.perf_counter(), time.process_time()
            out = frames()
            self._last_render_cpu = time.process_time() - c0  # all threads: the GL rasteriser has its own
            self._last_render = time.perf_counter() - t0
            return out

        env._frames = timed_frames  # from here on: every step's frames (and resets at episode ends)

    def get_observation(self):
        obs = super().get_observation()
        self._stamp = float(obs[TIMESTAMP_KEY]) if TIMESTAMP_KEY in obs else None
        return obs

    def send_action(self, action) -> None:
        now = time.monotonic()  # the runner measures observation-to-action just before this call
        if self._stamp is not None:
            self.obs_to_action_s.append(now - self._stamp)
            if self._last_render is not None:  # the render of the frames this action was computed from
                self.camera_to_action_s.append(self._last_render + now - self._stamp)
        self._stamp = None
        t0 = time.perf_counter()
        self._last_render = None
        super().send_action(action)
        self.step_s.append(time.perf_counter() - t0)
        if self._last_render is not None:
            self.render_s.append(self._last_render)
            self.render_cpu_s.append(self._last_render_cpu)


def render_back_to_back(task: str, n: int) -> dict:
    """The same two frames rendered `n` times in a row (no control loop around them): what the render costs
    when its GL rasteriser threads stay hot, next to the in-loop figure."""
    env = get_task(task).make_env()
    env.reset(seed=0)
    cam = env
    while not isinstance(cam, CameraEnv):
        cam = cam.env
    wall, cpu = [], []
    for _ in range(n):
        t0, c0 = time.perf_counter(), time.process_time()
        cam._frames()
        cpu.append(time.process_time() - c0)
        wall.append(time.perf_counter() - t0)
    env.close()
    return {"wall_ms": _ms(wall), "cpu_ms": _ms(cpu)}


def deploy_run(backend: str, hz: float, steps: int, policy, onnx_path: str, task: str, seed: int) -> dict:
    predictor = ExportedPredictor(load_exported(onnx_path, 1), seed=seed) if backend == "onnx" \
        else TorchPredictor(policy, threads=1, seed=seed)
    executor = ChunkExecutor(predictor, asynchronous=False, period_s=1.0 / hz)
    robot = TimedSimRobot(task, seed=seed)
    load = _load()
    report = run_deployment(robot, executor, DeployConfig(hz=hz, steps=steps))
    # the robot's own lists also hold the safe stop action sent after the last step (no timestamp before it)
    return {"backend": backend, "hz": hz, "steps": report.steps, "stop_reason": report.stop_reason,
            "load_at_start": load, "report": report.to_dict(), "render_back_to_back": render_back_to_back(task, 50),
            "render_ms": _ms(robot.render_s), "render_cpu_ms": _ms(robot.render_cpu_s),
            "env_step_ms": _ms(robot.step_s),
            "robot_obs_to_action_ms": _ms(robot.obs_to_action_s),
            "camera_to_action_ms": _ms(robot.camera_to_action_s),
            "camera_to_action_under_target": float(np.mean(np.asarray(robot.camera_to_action_s) * 1000 < TARGET_MS)),
            "episodes": robot.episodes}


# --- output ------------------------------------------------------------------------------------------
def markdown(results: dict) -> str:
    r = results
    lines = ["# vision_latency: heads x image encoders at batch 1, and camera-to-action in deploy", "",
             f"Generated by `{r['command']}` (`benchmarks/vision_latency.py`). Spec: `{r['task']}` (two 84x84 "
             "uint8 cameras, corner2 + gripperPOV, + the 7-D state; centre crop 0.9 inside the encoder). Untrained "
             "weights (latency does not depend on their values), each head's default config. One CPU thread for "
             "PyTorch (`torch.set_num_threads(1)`) and one intra-op thread for ONNX Runtime. The machine "
             f"({os.cpu_count()} CPUs) is shared with other jobs (a training run among them); load average "
             f"{r['load_start']} at start, "
             f"{r.get('load_end', '?')} at the end. Compare within these tables: PyTorch and ONNX Runtime calls are "
             "interleaved one by one, the deploy runs ordered ABBA.", ""]
    if r["heads"]:
        lines += ["## Batch-1 latency per head and encoder", "",
                  f"One call = one `predict_chunk` (through `TorchPredictor`, what deploy calls) or one exported-graph "
                  f"call, on rendered observations of the task, {r['calls']} calls each after 5 warm-up calls. "
                  "H: actions predicted per call; exec: actions executed per call (receding horizon; 1 with a "
                  "temporal ensemble, which predicts every step). Wall clock includes time the shared CPU spent on "
                  "other jobs; thread CPU time does not. Parity: max |PyTorch - ONNX| over the parity samples "
                  "(target 1e-4).", "",
                  "| encoder | head | H / exec | PyTorch p50 / p99 ms | ONNX p50 / p99 ms | PyTorch CPU p50 ms | "
                  "ONNX CPU p50 ms | PyTorch / ONNX | ONNX p50 per executed action ms | parity |",
                  "|---|---|---|---|---|---|---|---|---|---|"]
        for c in r["heads"]:
            t, o = c["torch"], c["onnx"]
            lines.append(f"| {c['encoder']} | {c['head']} | {c['horizon']} / {c['actions_per_call']} | "
                         f"{t['wall_ms']['median']:.2f} / {t['wall_ms']['p99']:.2f} | "
                         f"{o['wall_ms']['median']:.2f} / {o['wall_ms']['p99']:.2f} | {t['cpu_ms']['median']:.2f} | "
                         f"{o['cpu_ms']['median']:.2f} | {c['torch_over_onnx_median']:.2f}x | "
                         f"{o['wall_ms']['median'] / c['actions_per_call']:.2f} | {c['onnx_max_abs_diff']:.1e} |")
        worst = max(c["onnx_max_abs_diff"] for c in r["heads"])
        lines += ["", f"Export parity: largest max |PyTorch - ONNX| over all cells {worst:.1e} "
                  f"({'met' if worst <= 1e-4 else 'NOT met'} against 1e-4).", ""]
    if r["deploy"]:
        d0 = r["deploy"][0]
        lines += ["## Camera-to-action in `protege deploy` (simulated robot)", "",
                  f"`run_deployment` with `SimRobot('{r['task']}')`, small encoder + mlp head (synchronous, one "
                  f"prediction per step), {d0['steps']} steps per run. Render: the two 84x84 frames, rendered inside "
                  "the previous `env.step` (OSMesa on the CPU; wall clock, and CPU time of all the process's threads, "
                  "since "
                  "the GL rasteriser runs its own). Observation-to-action: the observation's timestamp to the action "
                  "handed to the robot (reading, inference, safety checks: the deploy report's "
                  "`observation_to_action_ms`). **Camera-to-action = render + observation-to-action**, summed per "
                  "step; "
                  "a real camera's exposure and capture-to-host latency are not modelled. Env step: the whole "
                  "`send_action` (physics + render). Step latency: tick wake-up to `send_action` returned, so on the "
                  "simulated robot it includes the env step; a deadline miss is a step that returned after the next "
                  f"tick was due. Target: camera-to-action < {TARGET_MS:g} ms.", "",
                  "| Hz | backend | render p50 / p99 ms | render CPU p50 ms | render back to back p50 ms | "
                  "obs-to-action p50 / p99 ms | **camera-to-action p50 / p99 ms** | steps under target | "
                  "inference p50 / p99 ms | env step p50 ms | step latency p50 / p99 ms | deadline misses | "
                  "load at start |",
                  "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
        for d in sorted(r["deploy"], key=lambda d: (d["hz"], d["backend"] != "torch")):
            rep, c2a = d["report"], d["camera_to_action_ms"]
            o2a, st, inf = rep["observation_to_action_ms"], rep["step_latency_ms"], rep["inference_ms"]
            lines.append(f"| {d['hz']:g} | {d['backend']} | "
                         f"{d['render_ms']['median']:.1f} / {d['render_ms']['p99']:.1f} | "
                         f"{d['render_cpu_ms']['median']:.1f} | {d['render_back_to_back']['wall_ms']['median']:.1f} | "
                         f"{o2a['median']:.2f} / {o2a['p99']:.2f} | "
                         f"**{c2a['median']:.1f} / {c2a['p99']:.1f}** | "
                         f"{100 * d['camera_to_action_under_target']:.0f}% | "
                         f"{inf['median']:.2f} / {inf['p99']:.2f} | {d['env_step_ms']['median']:.1f} | "
                         f"{st['median']:.1f} / {st['p99']:.1f} | {rep['deadline_misses']} "
                         f"({100 * rep['miss_fraction']:.1f}%) | {d['load_at_start']} |")
        lines += ["", "Render back to back: the same two frames rendered 50 times in a row right after the run, "
                  "outside the loop (the GL rasteriser's threads stay hot and may use both cores: "
                  f"LP_NUM_THREADS={r['gl']['LP_NUM_THREADS'] or 'unset (one per CPU)'}, "
                  f"MUJOCO_GL={r['gl']['MUJOCO_GL']}).", "", verdict(r), ""]
    return "\n".join(lines)


def verdict(r: dict) -> str:
    runs = r["deploy"]
    c2a = [d["camera_to_action_ms"]["median"] for d in runs]
    o2a = [d["report"]["observation_to_action_ms"]["median"] for d in runs]
    render = [d["render_ms"]["median"] for d in runs]
    met = max(c2a) < TARGET_MS
    text = (f"**Target (camera-to-action < {TARGET_MS:g} ms at batch 1 on the CPU, small encoder): "
            f"{'met' if met else 'NOT met'}** on the simulated robot (medians over the runs: camera-to-action "
            f"{min(c2a):.1f}-{max(c2a):.1f} ms = render {min(render):.1f}-{max(render):.1f} ms + observation-to-action "
            f"{min(o2a):.1f}-{max(o2a):.1f} ms). ")
    if not met and max(o2a) < TARGET_MS:
        b2b = [d["render_back_to_back"]["wall_ms"]["median"] for d in runs]
        est = [d["render_back_to_back"]["wall_ms"]["median"] + d["report"]["observation_to_action_ms"]["median"]
               for d in runs]
        text += ("The policy's side (observation-to-action: reading, inference, safety checks) is within the "
                 f"target in every run; the rest is the simulated cameras' render of two 84x84 frames inside the "
                 f"loop on this shared CPU ({min(render):.1f}-{max(render):.1f} ms). Rendered back to back the same "
                 f"frames took "
                 f"{min(b2b):.1f}-{max(b2b):.1f} ms; with that render, camera-to-action would be "
                 f"{min(est):.1f}-{max(est):.1f} ms (an estimate, not measured in the loop). ")
    small_mlp = [c for c in r["heads"] if c["encoder"] == "small" and c["head"] == "mlp"]
    if small_mlp:
        c = small_mlp[0]
        loop = {b: [d["report"]["inference_ms"]["median"] for d in runs if d["backend"] == b]
                for b in ("torch", "onnx")}
        text += (f"One small-encoder mlp prediction back to back (table above): "
                 f"{c['torch']['wall_ms']['median']:.1f} ms "
                 f"(PyTorch) / {c['onnx']['wall_ms']['median']:.1f} ms (ONNX Runtime), median wall clock; inside the "
                 f"loop, between renders: {'/'.join(f'{v:.1f}' for v in loop['torch'])} ms / "
                 f"{'/'.join(f'{v:.1f}' for v in loop['onnx'])} ms. ")
    env_step = [d["env_step_ms"]["median"] for d in runs]
    misses = {d["hz"]: [] for d in runs}
    for d in runs:
        misses[d["hz"]].append(100 * d["report"]["miss_fraction"])
    return text + (f"On the simulated robot the env step (physics + render, {min(env_step):.0f}-{max(env_step):.0f} ms "
                   "median) runs inside the loop's `send_action` and counts in the step latency: deadline misses "
                   + ", ".join(f"{min(v):.1f}-{max(v):.1f}% at {hz:g} Hz" for hz, v in misses.items())
                   + ". A real robot's `send_action` returns at once and its camera captures on its own clock.")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--task", default=TASK, help="a metaworld-vision task (its spec and its simulated robot)")
    ap.add_argument("--heads", nargs="*", default=HEADS, help="heads for part 1 (none: skip it)")
    ap.add_argument("--encoders", nargs="+", default=ENCODERS, choices=ENCODERS)
    ap.add_argument("--calls", type=int, default=200, help="timed calls per backend per head and encoder")
    ap.add_argument("--parity-samples", type=int, default=8)
    ap.add_argument("--hz", nargs="*", type=float, default=[10.0, 20.0], help="deploy rates (none: skip part 2)")
    ap.add_argument("--steps", type=int, default=300, help="deploy steps per run")
    ap.add_argument("--rollout-steps", type=int, default=40, help="rendered observations for timing and stats")
    args = ap.parse_args()
    torch.set_num_threads(1)
    task = get_task(args.task)
    results: dict = {"task": args.task, "gl": {k: os.environ.get(k) for k in ("MUJOCO_GL", "LP_NUM_THREADS")},
                     "calls": args.calls, "parity_samples": args.parity_samples,
                     "target_camera_to_action_ms": TARGET_MS, "load_start": _load(), "heads": [], "deploy": [],
                     "command": " ".join(["OMP_NUM_THREADS=1 python benchmarks/vision_latency.py", *sys.argv[1:]])}
    work = Path(tempfile.mkdtemp(prefix="vision_latency_"))
    try:
        t0 = time.perf_counter()
        observations, stats = rollout(args.task, args.rollout_steps, seed=0)
        print(f"rollout: {args.rollout_steps} steps in {time.perf_counter() - t0:.1f} s", file=sys.stderr, flush=True)
        for encoder in args.encoders:
            for head in args.heads:
                c = head_latency(head, encoder, task.spec, stats, observations, args.calls, args.parity_samples, work)
                results["heads"].append(c)
                print(f"{encoder} {head}: torch {c['torch']['wall_ms']['median']:.2f} ms, onnx "
                      f"{c['onnx']['wall_ms']['median']:.2f} ms, parity {c['onnx_max_abs_diff']:.1e}",
                      file=sys.stderr, flush=True)
        if args.hz:
            policy = build("mlp", "small", task.spec, stats)
            onnx_path = export_policy(policy, work / "deploy-mlp.onnx", "onnx", parity_samples=args.parity_samples).path
            order = [("torch", "onnx"), ("onnx", "torch")]  # ABBA over the rates
            for i, hz in enumerate(args.hz):
                for backend in order[i % 2]:
                    d = deploy_run(backend, hz, args.steps, policy, onnx_path, args.task, seed=2_000_000)
                    results["deploy"].append(d)
                    print(f"deploy {hz:g} Hz {backend}: camera-to-action {d['camera_to_action_ms']['median']:.1f} ms "
                          f"(render {d['render_ms']['median']:.1f} + obs-to-action "
                          f"{d['report']['observation_to_action_ms']['median']:.2f}), "
                          f"misses {d['report']['deadline_misses']}",
                          file=sys.stderr, flush=True)
        results["load_end"] = _load()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    write_outputs("vision_latency", results, markdown(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
