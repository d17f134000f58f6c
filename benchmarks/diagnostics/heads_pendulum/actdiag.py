import sys, torch
from protege.checkpoint import load_checkpoint
from protege.data import load_dataset
from protege.data.windows import Batch
torch.set_num_threads(1)
pol = load_checkpoint(sys.argv[1]).eval()
ds = load_dataset("runs/heads_pendulum/demos")
import numpy as np
eps = ds.episodes[:10]
H = pol.config.horizon
obs, acts = [], []
for e in eps:
    s = e.observations["state"][:len(e.actions)]
    T = len(e.actions)
    for t in range(0, T - H, 3):
        obs.append(s[t]); acts.append(e.actions[t:t + H])
obs = torch.tensor(np.array(obs))[:, None]; acts = torch.tensor(np.array(acts))
with torch.no_grad():
    feats = pol.obs_features({"state": obs})
    target = pol.action_normalizer(acts)
    B = target.shape[0]
    tokens = torch.cat([pol.vae_cls.expand(B, -1, -1), pol.vae_obs(feats[:, -1:]), pol.vae_action(target)], 1)
    h = pol.vae_encoder(tokens + pol.vae_pos)[:, 0]
    mu, logvar = pol.vae_out(h).chunk(2, dim=-1)
    kl = (-0.5 * (1 + logvar - mu**2 - logvar.exp())).sum(-1).mean()
    p0 = pol._decode(feats, torch.zeros_like(mu)); pm = pol._decode(feats, mu)
    print("kl", float(kl), "|mu| mean", float(mu.abs().mean()), "std mean", float((0.5*logvar).exp().mean()))
    print("L1 z=0 per step", [round(float(v), 4) for v in (p0 - target).abs().mean((0, 2))])
    print("L1 z=mu per step", [round(float(v), 4) for v in (pm - target).abs().mean((0, 2))])
