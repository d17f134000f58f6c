"""Roll out a trained discrete policy on pendulum, classify each episode's failure."""
import json, sys
import numpy as np, torch
from protege.algos.bc import TrainConfig, train_bc
from protege.data import load_dataset
from protege.envs import get_task
from protege.evaluation.rollout import eval_seeds
from protege.policies.discrete import DiscreteConfig
from protege.checkpoint import PolicyActor
ds = load_dataset("runs/heads_pendulum/demos")
cfg = DiscreteConfig(**json.loads(sys.argv[1]))
pol = train_bc(ds, "discrete", cfg, TrainConfig(steps=2000, batch_size=128, seed=int(sys.argv[2]), threads=1)).policy
task = get_task("pendulum"); env = task.make_env(); expert = task.make_expert()
actor = PolicyActor(pol)
out = []
for s in eval_seeds(0, 20):
    torch.manual_seed(s)
    obs, info = env.reset(seed=s); actor.reset()
    ang, acts, exp = [], [], []
    for t in range(200):
        a = actor.act(obs); e = expert.act(obs)
        acts.append(float(a[0])); exp.append(float(e[0]))
        obs, r, term, trunc, info = env.step(a); ang.append(info["angle"])
    ang = np.abs(np.array(ang)); acts = np.array(acts); exp = np.array(exp)
    ok = bool((ang[-50:] < 0.2).all())
    first_up = int(np.argmax(ang < 0.2)) if (ang < 0.2).any() else -1
    out.append((ok, first_up, float(ang[-50:].max()), float(np.abs(acts - exp).mean()), float((np.sign(acts) != np.sign(exp))[np.abs(exp) > 0.5].mean() if (np.abs(exp) > 0.5).any() else 0)))
for o in out: print(o)
print("success", np.mean([o[0] for o in out]))
