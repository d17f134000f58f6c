"""Issue 14 act-on-pendulum: train (or load) a checkpoint, evaluate it under execution variants."""
import argparse, json, time
from pathlib import Path
from protege.algos.bc import TrainConfig, train_bc
from protege.checkpoint import PolicyActor, load_checkpoint
from protege.data import load_dataset
from protege.envs import get_task
from protege.evaluation.evaluate import evaluate
from protege.recording import record_expert
from protege.policies.act import ACTConfig

p = argparse.ArgumentParser()
p.add_argument("--head", default="act")
p.add_argument("--cfg", default="{}")
p.add_argument("--seed", type=int, default=0)
p.add_argument("--out", required=True)
p.add_argument("--episodes", type=int, default=20)
p.add_argument("--variants", nargs="+", default=[""])
a = p.parse_args()
data = Path("runs/heads_pendulum/demos")
if not (data / "meta.json").exists():
    record_expert("pendulum", 50, data, seed=0)
ds = load_dataset(data)
out = Path(a.out)
if not (out / "model.safetensors").exists():
    import importlib
    cfg = json.loads(a.cfg)
    if cfg:
        from protege.policies import make_policy  # noqa
        mod = {"act": ("protege.policies.act", "ACTConfig"), "diffusion": ("protege.policies.diffusion", "DiffusionConfig"),
               "flow": ("protege.policies.flow", "FlowConfig")}[a.head]
        cfg = getattr(importlib.import_module(mod[0]), mod[1])(**cfg)
    else:
        cfg = None
    t0 = time.time()
    train_bc(ds, a.head, cfg, TrainConfig(steps=2000, batch_size=128, seed=a.seed, threads=1), out=out)
    print("trained", round(time.time() - t0), "s", flush=True)
seeds_train = ds.meta["provenance"]["episode_seeds"]
for v in a.variants:
    pol = load_checkpoint(out)
    pol = pol.policy if hasattr(pol, "policy") else pol
    for k, val in (json.loads(v) if v else {}).items():
        setattr(pol.config, k, val)
    r = evaluate(get_task("pendulum"), lambda: PolicyActor(pol), episodes=a.episodes, seed=0, training_seeds=seeds_train)
    print(json.dumps({"out": a.out, "cfg": a.cfg, "variant": v, "success": r.summary.success_rate,
                      "return": round(r.summary.mean_return)}), flush=True)
