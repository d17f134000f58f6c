"""Issue 14 discrete-on-pendulum experiments: train discrete with a config override, evaluate with decodings."""
import argparse, json, sys, time
from pathlib import Path
import numpy as np, torch
from protege.algos.bc import TrainConfig, train_bc
from protege.checkpoint import PolicyActor
from protege.data import load_dataset
from protege.envs import get_task
from protege.evaluation.evaluate import evaluate
from protege.recording import record_expert
from protege.policies.discrete import DiscreteConfig

def install(pol, dec):
    """Experimental decodings: "mean" = probability-weighted mean of bin centres; "local<k>" = mean over the
    argmax bin and its k neighbours each side (renormalised)."""
    @torch.no_grad()
    def predict_chunk(obs, noise=None, generator=None):
        logits = pol._logits(pol.obs_features(obs))  # (B, H, A, n)
        prob = logits.softmax(-1)
        c = pol.centres  # (A, n)
        if dec == "mean":
            x = (prob * c).sum(-1)
        else:
            k = int(dec[5:])
            n = prob.shape[-1]
            j = torch.arange(n)
            top = prob.argmax(-1, keepdim=True)
            w = prob * ((j - top).abs() <= k)
            x = (w * c).sum(-1) / w.sum(-1)
        return pol.action_normalizer.inverse(x)
    pol.predict_chunk = predict_chunk

p = argparse.ArgumentParser()
p.add_argument("--cfg", default="{}")
p.add_argument("--seeds", nargs="+", type=int, default=[0])
p.add_argument("--episodes", type=int, default=20)
p.add_argument("--head", default="discrete")
p.add_argument("--tag", default="")
p.add_argument("--decodes", nargs="+", default=[""], help="json overrides applied to policy.config at eval")
a = p.parse_args()
data = Path("runs/heads_pendulum/demos")
if not (data / "meta.json").exists():
    record_expert("pendulum", 50, data, seed=0)
ds = load_dataset(data)
seeds_train = ds.meta["provenance"]["episode_seeds"]
for s in a.seeds:
    cfg = DiscreteConfig(**json.loads(a.cfg)) if a.head == "discrete" else None
    t0 = time.time()
    pol = train_bc(ds, a.head, cfg, TrainConfig(steps=2000, batch_size=128, seed=s, threads=1)).policy
    tt = time.time() - t0
    for d in a.decodes:
        over = json.loads(d) if d else {}
        dec = over.pop("decode", None)
        for k, v in over.items():
            setattr(pol.config, k, v)
        pol.rebuild_controller()
        pol.__dict__.pop("predict_chunk", None)
        if dec:
            install(pol, dec)
        r = evaluate(get_task("pendulum"), lambda: PolicyActor(pol), episodes=a.episodes, seed=0,
                     training_seeds=seeds_train)
        print(json.dumps({"tag": a.tag, "cfg": a.cfg, "decode": d, "seed": s, "success": r.summary.success_rate,
                          "train_s": round(tt)}), flush=True)
