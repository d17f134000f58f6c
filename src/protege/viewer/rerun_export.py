"""`protege view --rerun OUT.rrd`: the same episodes as a Rerun recording, for users of the Rerun viewer.

rerun-sdk is an optional extra (`pip install protege[rerun]`), imported only here and only when asked.
Layout of the recording (entity paths):

    episodes/<i>/action/<d>          executed action, scalar per step
    episodes/<i>/label/<d>           the expert's label where one was asked
    episodes/<i>/<obs key>/<d>       each vector observation dimension
    episodes/<i>/reward, source, intervened
    episodes/<i>/camera/<key>        camera frames (the stored PNGs)
    rounds/..., curve/...            a DAgger run's per-round records, an RL run's learning curve

Timelines: `step` (within an episode) and `dataset_step` (episodes one after another).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from protege.errors import ProtegeError
from protege.progress import Progress, bar
from protege.viewer.api import ViewerApi

RERUN_MISSING = ("--rerun: expected the rerun-sdk package (pip install 'protege[rerun]' or pip install rerun-sdk), "
                 "found it not installed")


def import_rerun() -> Any:
    try:
        import rerun as rr
    except ImportError:
        raise ProtegeError(RERUN_MISSING) from None
    return rr


def _scalars(rr: Any, rec: Any, entity: str, steps: np.ndarray, offset: int, values: np.ndarray) -> None:
    keep = np.isfinite(values)
    if not keep.any():
        return
    rec.send_columns(entity, indexes=[rr.TimeColumn("step", sequence=steps[keep]),
                                      rr.TimeColumn("dataset_step", sequence=steps[keep] + offset)],
                     columns=rr.Scalars.columns(scalars=values[keep].astype(np.float64)))


def _log_dataset(rr: Any, rec: Any, api: ViewerApi, rel: str, prefix: str, max_episodes: int,
                 progress: Progress | None) -> int:
    from protege.viewer.payload import frames_png

    view = api.dataset(rel)
    n = min(len(view), max_episodes)
    offset = 0
    b = bar(progress, f"rerun {rel or view.path}", n, "ep")
    for i in range(n):
        ep = view.episode(i)
        T = len(ep)
        steps = np.arange(T, dtype=np.int64)
        base = f"{prefix}episodes/{i:04d}"
        acts = ep.actions.reshape(T, -1)
        for d in range(acts.shape[1]):
            _scalars(rr, rec, f"{base}/action/{d}", steps, offset, acts[:, d])
            if ep.labels is not None:
                _scalars(rr, rec, f"{base}/label/{d}", steps, offset, np.where(ep.label_mask, ep.labels.reshape(T, -1)[:, d], np.nan))
        for key, obs in ep.observations.items():
            if len(getattr(obs, "shape", ())) == 4:  # a camera: the frames as images
                idx = np.arange(min(int(obs.shape[0]), T))
                for t, png in zip(idx, frames_png(obs, idx)):
                    rec.set_time("step", sequence=int(t))
                    rec.set_time("dataset_step", sequence=int(t) + offset)
                    rec.log(f"{base}/camera/{key}", rr.EncodedImage(contents=png, media_type="image/png"))
                continue
            x = np.asarray(obs)[:T].reshape(T, -1).astype(np.float64)
            for d in range(x.shape[1]):
                _scalars(rr, rec, f"{base}/{key}/{d}", steps, offset, x[:, d])
        for name in ("rewards", "source", "intervened"):
            value = getattr(ep, name)
            if value is not None:
                _scalars(rr, rec, f"{base}/{name.rstrip('s') if name == 'rewards' else name}", steps, offset,
                         np.asarray(value, np.float64))
        rec.log(f"{base}/info", rr.TextDocument(f"episode {i}: {T} steps, success {ep.success}, info {ep.info}"),
                static=True)
        offset += T
        b.update(1)
    b.close()
    return n


def write_rerun(path: str | Path, out: str | Path, max_episodes: int = 50, progress: Progress | None = None) -> Path:
    """Log what `protege view PATH` shows to a Rerun recording at `out` (.rrd); returns `out`."""
    rr = import_rerun()
    api = ViewerApi(path)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    rec = rr.RecordingStream("protege", recording_id=None)
    rec.save(str(tmp))
    logged = _log_tree(rr, rec, api, "", "", max_episodes, progress)
    rec.flush()
    rec.disconnect()
    if not logged:
        tmp.unlink(missing_ok=True)
        raise ProtegeError(f"{path}: expected episodes, a DAgger run or an RL curve to log, found a {api.kind} with none")
    tmp.replace(out)
    return out


def _log_tree(rr: Any, rec: Any, api: ViewerApi, rel: str, prefix: str, max_episodes: int,
              progress: Progress | None) -> int:
    """Log what is at `rel` (and a DAgger run's data); returns how many things were logged."""
    view = api.view({"p": rel})
    kind = view["kind"]
    if kind == "dataset":
        return _log_dataset(rr, rec, api, rel, prefix, max_episodes, progress)
    logged = 0
    if kind == "dagger":
        for r in view["rounds"]:
            rec.set_time("round", sequence=int(r["round"]))
            for k in ("success_rate", "ci_low", "ci_high", "expert_labels", "total_labels", "interventions"):
                if isinstance(r.get(k), (int, float)):
                    rec.log(f"{prefix}rounds/{k}", rr.Scalars(float(r[k])))
            logged += 1
        data = next((c for c in view["children"] if c["kind"] == "dataset"), None)
        if data is not None:
            logged += _log_dataset(rr, rec, api, data["path"], f"{prefix}data/", max_episodes, progress)
    elif kind == "dart":
        for r in view["rounds"]:
            rec.set_time("round", sequence=int(r["round"]))
            for k in ("noise", "learner_error", "labelled_steps", "successes"):
                rec.log(f"{prefix}rounds/{k}", rr.Scalars(float(r[k])))
            logged += 1
        for c in view["children"]:
            if c["kind"] == "dataset":
                logged += _log_dataset(rr, rec, api, c["path"], f"{prefix}{c['name'].replace(' ', '_')}/", max_episodes,
                                       progress)
    elif kind == "rl":
        for row in view["curve"]:
            rec.set_time("env_steps", sequence=int(row.get("env_steps", 0)))
            for k, v in row.items():
                if k not in ("iteration", "env_steps"):
                    rec.log(f"{prefix}curve/{k}", rr.Scalars(float(v)))
            logged += 1
    elif kind == "folder":
        for c in view["children"]:
            logged += _log_tree(rr, rec, api, c["path"], f"{prefix}{c['name']}/", max_episodes, progress)
    return logged
