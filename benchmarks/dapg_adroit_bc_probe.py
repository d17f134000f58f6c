"""Why BC alone scores 0% on `adroit/door` from the paper's 25 human demonstrations (issue 15).

Each probe trains one behavioural-cloning policy on the demonstrations (`--adroit`/door-human, read as
protege reads them) and runs it on the benchmark's 50 held-out seeds (mean action unless stated, the
paper's success test). Besides success it records how far the door moved (mean over episodes of the
largest hinge angle, rad) and how close the palm came to the handle (mean of the smallest distance, m),
which tell "never reached the handle" from "reached it but did not open".

The probes follow DAPG's authors' BC (hand_dapg's job script with mjrl's BC, read to understand, not
copied): an MLP on observations normalised by the demonstrations' mean/std, its output rescaled by the
actions' mean/std, MSE on that mean, Adam, 5 epochs of batch 32 at 1e-3; then one change at a time.
`protege` is the benchmark's own BC cell (DAPG's BC stage, maximum likelihood, 2000 steps), re-run here.
`--drift` prints the arm joints of one rollout beside the demonstration it starts from.

    OMP_NUM_THREADS=1 nice -n 10 python benchmarks/dapg_adroit_bc_probe.py          # all probes, ~6 min
    OMP_NUM_THREADS=1 python benchmarks/dapg_adroit_bc_probe.py --only authors --drift

Writes docs/benchmarks/dapg_adroit_door_human.json (the table in dapg_adroit_door_human.md is written by
hand from it).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import OUT, ROOT, machine  # noqa: E402

from protege.algos.bc import TrainConfig  # noqa: E402
from protege.algos.rl.dapg import bc_stage  # noqa: E402
from protege.checkpoint import CheckpointActorFactory  # noqa: E402
from protege.data.formats import load_any  # noqa: E402
from protege.envs import get_task  # noqa: E402
from protege.evaluation.rollout import eval_seeds, run_episodes  # noqa: E402

DOOR_ANGLE, PALM_TO_HANDLE, ARM = 28, slice(35, 38), slice(0, 5)
"""Observation indices of adroit/door: the hinge angle (rad), palm minus handle (m), the arm and wrist joints."""


@dataclass(frozen=True)
class Probe:
    hidden: tuple[int, ...] = (32, 32)
    """MLP hidden widths (tanh)."""
    epochs: int = 5
    batch: int = 32
    lr: float = 1e-3
    loss: str = "mse"
    """"mse" on the mean, or "nll" (a Gaussian with a learned state-independent std)."""
    normalise: bool = True
    """Observations and actions scaled by the demonstrations' mean/std (mjrl's set_transformations)."""
    clip_targets: bool = False
    """Recorded actions clipped to [-1, 1] (the env clips; 5.6% of the components lie outside)."""
    obs_noise: float = 0.0
    """Gaussian noise on training observations, in units of each dimension's demonstration std."""
    observations: str = "recorded"
    """"recorded" (the original recordings), "replay" (the v1 replay from each saved start state, whose
    first state is the env's reset pose), or "both"."""
    successful_only: bool = False
    """Train on the 6 demonstrations that pass the paper's test only."""
    sample: bool = False
    """Execute sampled actions (std = the demonstrations' action std) instead of the mean."""
    from_demo_starts: bool = False
    """Run from the 25 demonstrations' own saved start states instead of the 50 held-out seeds."""
    velocity: bool = False
    """Give the policy the last step's change of observation too (obs_t, obs_t - obs_t-1; zero at t=0):
    the recorded state holds joint positions only, not where the hand is heading."""
    seed: int = 0
    note: str = field(default="", compare=False)


PROBES = {
    "authors": Probe(note="the authors' recipe"),
    "authors-seed1": Probe(seed=1, note="another seed"),
    "authors-seed2": Probe(seed=2, note="another seed"),
    "nll": Probe(loss="nll", note="maximum likelihood instead of MSE"),
    "no-normalisation": Probe(normalise=False, note="raw observations and actions"),
    "wide": Probe(hidden=(128, 128), note="protege's width"),
    "long": Probe(epochs=50, note="10x the epochs"),
    "clipped-targets": Probe(clip_targets=True, note="actions clipped to [-1, 1]"),
    "obs-noise-0.1": Probe(obs_noise=0.1, note="input noise"),
    "obs-noise-0.3": Probe(obs_noise=0.3, note="input noise"),
    "replay-obs": Probe(observations="replay", note="v1 replay observations: start state = reset pose"),
    "both-obs": Probe(observations="both", note="recorded + replay observations"),
    "successful-demos": Probe(successful_only=True, epochs=25, note="the 6 successful demos, same step count"),
    "sampled": Probe(sample=True, note="sampled actions"),
    "demo-starts": Probe(from_demo_starts=True, note="from the demos' own start states (25 episodes)"),
    "velocity": Probe(velocity=True, note="observation change as input"),
    "velocity-replay": Probe(velocity=True, observations="replay", note="observation change, replay observations"),
}


def with_velocity(obs: np.ndarray) -> np.ndarray:
    """(T, D) one episode's observations -> (T, 2D): each beside its change since the previous step."""
    return np.concatenate([obs, np.diff(obs, axis=0, prepend=obs[:1])], axis=1)


def demo_arrays(ds, adroit: Path, p: Probe) -> tuple[np.ndarray, np.ndarray]:
    """(N, 39) observations ((N, 78) with `velocity`) and (N, 28) actions of the demonstrations, as `p` asks."""
    eps = [e for e in ds.episodes if e.success or not p.successful_only]
    acts = np.concatenate([e.actions for e in eps]).astype(np.float32)
    per_episode = {"recorded": [e.observations["state"][:len(e.actions)] for e in eps]}
    if p.observations != "recorded":
        import h5py  # the v1 replay sits under infos/ in the Minari-layout file (see docs/adroit.md)

        with h5py.File(adroit / "door-human" / "data" / "main_data.hdf5", "r") as f:
            replay = [f[f"episode_{e.info['minari_episode']}/infos/v1_replay/observations"] for e in eps]
            per_episode["replay"] = [r[:len(e.actions)] for r, e in zip(replay, eps)]
    kinds = ["recorded", "replay"] if p.observations == "both" else [p.observations]
    obs = [with_velocity(o) if p.velocity else o for k in kinds for o in per_episode[k]]
    return np.concatenate(obs).astype(np.float32), np.concatenate([acts] * len(kinds))


class MeanNet(nn.Module):
    """obs (B, 39) -> action mean (B, 28) in env units, with fixed input/output affine normalisation."""

    def __init__(self, obs: np.ndarray, acts: np.ndarray, hidden: tuple[int, ...], normalise: bool):
        super().__init__()
        dims, layers = [obs.shape[1], *hidden], []
        for a, b in zip(dims[:-1], dims[1:]):
            layers += [nn.Linear(a, b), nn.Tanh()]
        self.body = nn.Sequential(*layers, nn.Linear(dims[-1], acts.shape[1]))
        with torch.no_grad():  # a near-zero output layer, as mjrl starts its policies
            self.body[-1].weight.mul_(0.01)
            self.body[-1].bias.mul_(0.01)

        def buf(x, default):
            return torch.as_tensor(x if normalise else default, dtype=torch.float32)

        self.register_buffer("in_shift", buf(obs.mean(0), np.zeros(obs.shape[1])))
        self.register_buffer("in_scale", buf(obs.std(0) + 1e-8, np.ones(obs.shape[1])))
        self.register_buffer("out_shift", buf(acts.mean(0), np.zeros(acts.shape[1])))
        self.register_buffer("out_scale", buf(acts.std(0), np.ones(acts.shape[1])))
        self.log_std = nn.Parameter(torch.log(torch.as_tensor(acts.std(0), dtype=torch.float32)))

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return self.body((obs - self.in_shift) / self.in_scale) * self.out_scale + self.out_shift


def train_probe(p: Probe, obs: np.ndarray, acts: np.ndarray) -> tuple[MeanNet, float]:
    """The probe's policy and its MSE on the training data (env action units)."""
    torch.manual_seed(p.seed)
    rng = np.random.default_rng(p.seed)
    target = np.clip(acts, -1, 1) if p.clip_targets else acts
    net = MeanNet(obs, target, p.hidden, p.normalise)
    o, a = torch.from_numpy(obs), torch.from_numpy(target)
    params = list(net.body.parameters()) + ([net.log_std] if p.loss == "nll" else [])
    opt = torch.optim.Adam(params, lr=p.lr)
    obs_std = torch.as_tensor(obs.std(0), dtype=torch.float32)
    for _ in range(p.epochs * (len(obs) // p.batch)):
        idx = torch.from_numpy(rng.integers(len(obs), size=p.batch))
        x = o[idx] + p.obs_noise * obs_std * torch.randn(p.batch, obs.shape[1]) if p.obs_noise else o[idx]
        mean = net(x)
        if p.loss == "mse":
            loss = ((mean - a[idx]) ** 2).mean()
        else:
            loss = (0.5 * ((a[idx] - mean) / net.log_std.exp()) ** 2 + net.log_std).sum(-1).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        return net, float(((net(o) - a) ** 2).mean())


class NetActor:
    """The Actor seam over a `MeanNet`: the mean action, or a sample around it."""

    def __init__(self, net: MeanNet, sample: bool, velocity: bool = False):
        self.net, self.sample, self.velocity, self.prev = net, sample, velocity, None

    def reset(self) -> None:
        self.prev = None

    def act(self, obs: dict) -> np.ndarray:
        x = np.asarray(obs["state"], np.float32)
        if self.velocity:
            x, self.prev = np.concatenate([x, x - (x if self.prev is None else self.prev)]), x
        with torch.no_grad():
            mean = self.net(torch.as_tensor(x)[None])[0]
            return (mean + torch.randn_like(mean) * self.net.log_std.exp() if self.sample else mean).numpy()


def rollouts(task, make_actor, episodes, starts: list | None) -> dict:
    """Success, mean largest door angle and mean closest palm-to-handle distance over the episodes."""
    if starts is None:
        res = run_episodes(task, make_actor, eval_seeds(0, episodes), keep_episodes=True)
        states = [r.episode.observations["state"] for r in res]
        ok = [bool(r.success) for r in res]
    else:  # the demonstrations' own start states: a plain loop, since run_episodes resets by seed only
        env, actor, states, ok = task.make_env(), make_actor(), [], []
        for seed, options in starts:
            obs, info = env.reset(seed=seed, options=options)
            actor.reset()
            seen, done, t = [obs["state"]], False, 0
            while not done:
                obs, _, term, trunc, info = env.step(actor.act(obs))
                t += 1
                seen.append(obs["state"])
                done = task.episode_done(t, term, trunc, task.step_success(info))
            states.append(np.stack(seen))
            ok.append(bool(info.get("success", False)))
        env.close()
    return {"successes": int(sum(ok)), "episodes": len(ok),
            "mean_max_door_angle": round(float(np.mean([s[:, DOOR_ANGLE].max() for s in states])), 3),
            "mean_min_palm_handle_m": round(float(np.mean([np.linalg.norm(s[:, PALM_TO_HANDLE], axis=1).min()
                                                           for s in states])), 3)}


def drift(task, ds, adroit: Path, net: MeanNet, demo: int, steps: int = 64) -> list[dict]:
    """The policy's arm and wrist joints beside the demonstration's (its v1 replay has the same start)."""
    import h5py

    e = ds.episodes[demo]
    with h5py.File(adroit / "door-human" / "data" / "main_data.hdf5", "r") as f:
        ref = f[f"episode_{e.info['minari_episode']}/infos/v1_replay/observations"][:]
    env, actor = task.make_env(), NetActor(net, sample=False)
    obs, _ = env.reset(seed=int(e.info["seed"]), options=e.info["reset_options"])
    rows = []
    for t in range(steps + 1):
        if t % 8 == 0:
            rows.append({"step": t, "policy_arm": obs["state"][ARM].round(2).tolist(),
                         "demo_arm": ref[t, ARM].round(2).tolist(),
                         "largest_gap_rad": round(float(np.abs(obs["state"][ARM] - ref[t, ARM]).max()), 2)})
        obs, *_ = env.step(actor.act(obs))
    env.close()
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--adroit", type=Path, default=ROOT.parent / "shared" / "adroit")
    ap.add_argument("--only", nargs="*", choices=[*PROBES, "protege"], help="run these probes only")
    ap.add_argument("--episodes", type=int, default=50)
    ap.add_argument("--drift", action="store_true", help="print the authors' recipe's drift from demo 11")
    ap.add_argument("--runs", type=Path, default=ROOT / "runs" / "dapg_adroit" / "door-human")
    args = ap.parse_args()
    task = get_task("adroit/door")
    ds = load_any(args.adroit / "door-human")
    out_path = OUT / "dapg_adroit_door_human.json"
    record = json.loads(out_path.read_text()) if out_path.exists() else {"probes": {}}
    names = args.only if args.only is not None else ["protege", *PROBES]
    for name in names:
        t0 = time.perf_counter()
        if name == "protege":  # the benchmark's BC cell: DAPG's BC stage, re-run into a probe folder
            ckpt = bc_stage(ds, args.runs / "bc_probe", None, TrainConfig(steps=2000, seed=0))
            row = {"note": "protege's BC cell (maximum likelihood, 128x128, 2000 steps)", "train_mse": None,
                   **rollouts(task, CheckpointActorFactory(ckpt), args.episodes, None)}
        else:
            p = PROBES[name]
            obs, acts = demo_arrays(ds, args.adroit, p)
            net, mse = train_probe(p, obs, acts)
            starts = [(int(e.info["seed"]), e.info["reset_options"]) for e in ds.episodes] \
                if p.from_demo_starts else None
            result = rollouts(task, lambda: NetActor(net, p.sample, p.velocity), args.episodes, starts)
            row = {"note": p.note, "settings": {k: v for k, v in vars(p).items() if k != "note"},
                   "train_mse": round(mse, 4), **result}
        row["wall_s"] = round(time.perf_counter() - t0, 1)
        record["probes"][name] = row
        print(name, json.dumps(row), flush=True)
    if args.drift:
        obs, acts = demo_arrays(ds, args.adroit, replace(PROBES["authors"], observations="replay"))
        net, _ = train_probe(replace(PROBES["authors"], observations="replay"), obs, acts)
        record["drift_demo11_replay_obs"] = drift(task, ds, args.adroit, net, demo=11)
        for r in record["drift_demo11_replay_obs"]:
            print(r)
    record["machine"] = machine()
    out_path.write_text(json.dumps(record, indent=1) + "\n")


if __name__ == "__main__":
    main()
