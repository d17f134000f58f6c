"""Compounding error as the theory states it: J_BC - J* ~ eps T^2, J_DAgger - J* ~ eps T, on the `lane` task.

The task (`protege.envs.lane`) is built so the theory's assumptions hold: the expert stays centred
(J* = 0), the learner errs on a fraction eps of its decisions (a glared camera frame misreads the road),
the per-step cost is the theory's 0-1 cost (1 when the learner's action is off the expert's), and a
learner that never saw itself off-centre cannot come back. Protocol, per action-chunk size k and seed:

1. DAgger (protege's loop, `gate dagger`, beta 0.5 halved each round, every visited state labelled):
   `--demos` expert demonstrations of `--train-horizon` steps, then `--rounds` rounds of
   `--episodes-per-round` episodes; the `chunked` head (horizon k, k actions executed per prediction)
   retrained from scratch each round.
2. BC: the same head and training on expert demonstrations with at least as many labels as DAgger's total.
3. eps of each learner, measured on the expert's own states: the fraction of decisions (every k steps
   along expert rollouts) where the learner's rounded chunk differs from the expert's next k actions.
4. J(pi) for each horizon T in `--horizons`: the mean summed cost of independent episodes of `lane[T=..]`
   (about `--rollout-steps` / T episodes each, run in one batch through protege's controller); J(pi*)
   the same for the expert.
5. The slope of log(J - J*) against log T, with a 95% bootstrap interval (seeds and episodes resampled),
   and the offset of each chunk size's curve from k = 1's.

Cells (k, seed) are saved under runs/bench/compounding_theory/ and a rerun reuses them.

    OMP_NUM_THREADS=1 python benchmarks/compounding_theory.py                 # 3 seeds, k in 1 2 4 8 (~1 h)
    OMP_NUM_THREADS=1 python benchmarks/compounding_theory.py --chunks 1 --seeds 0   # one cell (~5 min)
    python benchmarks/compounding_theory.py --report-only
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _compounding_stats import absorbing_cost, shift_summary, slope_summary  # noqa: E402
from _dagger_common import DOCS, RUNS, setup, write  # noqa: E402

from protege.algos.bc import TrainConfig, train_bc  # noqa: E402
from protege.algos.dagger import DaggerConfig, run_dagger  # noqa: E402
from protege.checkpoint import load_checkpoint  # noqa: E402
from protege.controller import Controller  # noqa: E402
from protege.data.native import load_dataset  # noqa: E402
from protege.envs.lane import LaneBatch, LaneExpert, batch_rollout, lane_task_name  # noqa: E402
from protege.evaluation.rollout import EVAL_SEED_OFFSET  # noqa: E402
from protege.policies.chunked import ChunkedConfig  # noqa: E402
from protege.progress import TqdmProgress, bar  # noqa: E402
from protege.recording import record_expert  # noqa: E402

ROOT = RUNS / "compounding_theory"
METHODS = ("bc", "dagger")
PROTOCOL = ("horizons", "glare", "train_horizon", "demos", "rounds", "episodes_per_round", "steps", "batch_size",
            "hidden", "eps_episodes", "rollout_steps")
"""The arguments a saved cell was made with: a rerun with others refuses the cell rather than mixing them."""


def rollout_seeds(seed: int, horizon_index: int, n: int) -> list[int]:
    """Evaluation episodes of one horizon: disjoint from recording seeds, other horizons and other seeds."""
    return [EVAL_SEED_OFFSET * 1000 + seed * 10**7 + horizon_index * 10**6 + i for i in range(n)]


def policy_actor(policy):
    """A new batched actor: protege's controller around the policy (the chunk queue eval and deploy use),
    with nothing queued: one per batch of episodes."""
    return Controller(policy.execution_settings(), policy.predict_numpy, policy.obs_keys).act


def expert_error(policy, k: int, seeds: list[int], steps: int, glare: float) -> dict:
    """eps on the expert's own states: along expert rollouts, at every k-th step, does the learner's rounded
    chunk differ from the expert's next k actions? Per decision and per step."""
    env, expert = LaneBatch(seeds, steps, glare), LaneExpert()
    states, actions = [], []
    for _ in range(steps):
        obs = env.observation()
        a = expert.act(obs)
        states.append(obs["state"])
        actions.append(np.rint(a[:, 0]))
        env.step(a)
    wrong_decisions = wrong_steps = decisions = 0
    for t in range(0, steps - k + 1, k):
        chunk = np.rint(np.clip(policy.predict_numpy({"state": states[t][:, None]}, None)[:, :k, 0], -7, 7))
        wrong = chunk != np.stack(actions[t:t + k], axis=1)
        wrong_decisions += int(wrong.any(1).sum())
        wrong_steps += int(wrong.sum())
        decisions += len(seeds)
    return {"per_decision": wrong_decisions / decisions, "per_step": wrong_steps / (decisions * k),
            "decisions": decisions}


def horizon_costs(make_act, seed: int, horizons: list[int], budget: int, glare: float, progress) -> list[np.ndarray]:
    """Per-episode summed cost (N_T,) for each horizon T, N_T = max(200, budget // T) independent episodes;
    `make_act()` gives a fresh batched actor for each horizon's episodes."""
    out = []
    pbar = bar(progress, "rollouts", len(horizons), unit="T")
    for i, T in enumerate(horizons):
        seeds = rollout_seeds(seed, i, max(200, budget // T))
        out.append(batch_rollout(make_act(), seeds, T, glare).sum(1))
        pbar.update(1, T=T)
    pbar.close()
    return out


def run_cell(args: argparse.Namespace, k: int, seed: int) -> dict:
    base = ROOT / f"k{k}" / f"seed{seed}"
    done = base / "cell.npz"
    if done.exists():
        data = np.load(done, allow_pickle=False)
        meta = json.loads(str(data["meta"]))
        want = {a: getattr(args, a) for a in PROTOCOL}
        if meta.get("protocol") != want:
            raise SystemExit(f"{done}: field 'protocol': expected {want} (this run's arguments), found "
                             f"{meta.get('protocol')}; delete the cell or rerun with its arguments")
        return {**meta, "costs": {m: [data[f"{m}_{i}"] for i in range(len(meta["horizons"]))]
                                  for m in (*METHODS, "expert")}}
    progress = TqdmProgress()
    task = lane_task_name(args.train_horizon, args.glare)
    head = ChunkedConfig(horizon=k, n_action_steps=k, hidden_dims=tuple(args.hidden))
    train = TrainConfig(steps=args.steps, batch_size=args.batch_size, seed=seed, threads=1)
    dagger = run_dagger(DaggerConfig(task=task, gate="dagger", rounds=args.rounds, demos=args.demos,
                                     episodes_per_round=args.episodes_per_round, policy="chunked",
                                     eval_episodes=1, seed=seed, beta0=0.5, beta_decay=0.5),
                        base / "dagger", train=train, policy_config=head, progress=progress)
    labels = {"dagger": int(dagger.records[-1]["total_labels"])}
    bc_demos = math.ceil(labels["dagger"] / args.train_horizon)  # every demonstration runs the full horizon
    record_expert(task, bc_demos, base / "demos", seed=seed, progress=progress)
    demos = load_dataset(base / "demos")
    labels["bc"] = int(sum(len(e) for e in demos.episodes))
    if not (base / "bc" / "config.json").exists():
        train_bc(demos, "chunked", head, TrainConfig(**{**vars(train), "seed": 100_000 * seed + args.rounds}),
                 out=base / "bc", progress=progress)
    policies = {"bc": load_checkpoint(base / "bc"), "dagger": load_checkpoint(dagger.records[-1]["checkpoints"][0])}
    eps_seeds = rollout_seeds(seed, 99, args.eps_episodes)
    costs, eps = {}, {}
    with torch.inference_mode():
        for m, policy in policies.items():
            eps[m] = expert_error(policy, k, eps_seeds, args.train_horizon, args.glare)
            costs[m] = horizon_costs(lambda: policy_actor(policy), seed, args.horizons, args.rollout_steps, args.glare, progress)
            print(f"k={k} seed={seed} {m}: eps {eps[m]['per_decision']:.2e}, "
                  f"J {[round(float(c.mean()), 3) for c in costs[m]]}", flush=True)
    costs["expert"] = horizon_costs(lambda: LaneExpert().act, seed, args.horizons, args.rollout_steps, args.glare, None)
    meta = {"k": k, "seed": seed, "horizons": list(args.horizons), "labels": labels, "eps": eps,
            "dagger_rounds": len(dagger.records), "protocol": {a: getattr(args, a) for a in PROTOCOL}}
    arrays = {f"{m}_{i}": c for m, cs in costs.items() for i, c in enumerate(cs)}
    np.savez(base / "cell.tmp.npz", meta=json.dumps(meta), **arrays)
    (base / "cell.tmp.npz").rename(done)  # a finished cell appears whole or not at all
    return {**meta, "costs": costs}


def summarise(cells: list[dict], n_boot: int) -> dict:
    rng = np.random.default_rng(0)
    T = cells[0]["horizons"]
    by_k: dict[int, list[dict]] = {}
    for c in sorted(cells, key=lambda c: (c["k"], c["seed"])):
        by_k.setdefault(c["k"], []).append(c)
    out: dict = {"horizons": T, "chunks": {}}
    for k, group in by_k.items():
        expert = np.mean([[float(x.mean()) for x in c["costs"]["expert"]] for c in group], axis=0)
        row = {"seeds": [c["seed"] for c in group], "expert_J": expert.tolist()}
        for m in METHODS:
            eps = float(np.mean([c["eps"][m]["per_decision"] for c in group]))
            row[m] = {**slope_summary(T, [c["costs"][m] for c in group], n_boot, rng, baseline=expert),
                      "eps_per_decision": eps,
                      "eps_per_step": float(np.mean([c["eps"][m]["per_step"] for c in group])),
                      "labels": float(np.mean([c["labels"][m] for c in group])),
                      "absorbing_prediction": [absorbing_cost(eps, t, k) for t in T]}
        out["chunks"][k] = row
    if 1 in by_k:  # each chunk size's offset from k = 1, per method
        for k, group in by_k.items():
            for m in METHODS:
                out["chunks"][k][m]["shift_from_k1"] = shift_summary(
                    [c["costs"][m] for c in by_k[1]], [c["costs"][m] for c in group], n_boot, rng)
    return out


def report(summary: dict, args: argparse.Namespace) -> None:
    from _compounding_report import markdown, plot

    write("compounding_theory", {"config": {k: v for k, v in vars(args).items() if k != "report_only"},
                                 "results": summary}, markdown(summary, args))
    plot(summary, DOCS / "compounding_theory.png")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--chunks", type=int, nargs="+", default=[1, 2, 4, 8])
    p.add_argument("--horizons", type=int, nargs="+", default=[25, 40, 63, 100, 160, 250, 400, 630, 1000])
    p.add_argument("--glare", type=float, default=1e-3, help="probability that a frame misreads the road")
    p.add_argument("--train-horizon", type=int, default=1000, help="steps of every training episode")
    p.add_argument("--demos", type=int, default=5, help="DAgger's round-0 demonstrations")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--episodes-per-round", type=int, default=5)
    p.add_argument("--steps", type=int, default=1500, help="gradient steps of every training run")
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--hidden", type=int, nargs="+", default=[64, 64])
    p.add_argument("--eps-episodes", type=int, default=500, help="expert rollouts eps is measured on")
    p.add_argument("--rollout-steps", type=int, default=400_000, help="steps per horizon and learner")
    p.add_argument("--bootstrap", type=int, default=2000)
    p.add_argument("--report-only", action="store_true", help="summarise the saved cells, run nothing")
    args = p.parse_args()
    setup()
    cells = []
    for k in args.chunks:
        for seed in args.seeds:
            if args.report_only and not (ROOT / f"k{k}" / f"seed{seed}" / "cell.npz").exists():
                continue
            cells.append(run_cell(args, k, seed))
    report(summarise(cells, args.bootstrap), args)


if __name__ == "__main__":
    main()
