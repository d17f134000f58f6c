"""robomimic HDF5 files, read and written with h5py (robomimic itself is never imported).

Layout (robomimic's dataset docs and `robomimic/utils/file_utils.py`):

    data                      attrs: total (steps), env_args (JSON: env_name, type, env_kwargs)
    data/demo_<i>             attrs: num_samples; datasets actions (T, A), rewards (T,), dones (T,),
                              states (T, S) (simulator states, optional here), obs/<key> (T, ...),
                              next_obs/<key> (T, ...)
    mask/<filter>             names of the demos in a split, e.g. mask/train, mask/valid (bytes)

Reading keeps robomimic's observation keys as native keys and the final observation (`next_obs[-1]`),
so observations are (T+1, ...). Filters in `mask/` are kept in meta["splits"] and `filter_key` loads
only one of them. Success is the demo's `success` attribute when present (our writer sets it), else
`dones[-1]`. Writing stores protege-only fields as `protege_*` datasets/attributes robomimic ignores.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Sequence

import h5py
import numpy as np

from protege.data.episode import Episode
from protege.data.formats.common import extras_of, make_dataset, native_meta, select_keys
from protege.data.native import Dataset
from protege.errors import bad_input
from protege.progress import Progress, bar, bar_scope
from protege.specs import ArraySpec, Spec

GYM_ENV_TYPE = 2  # robomimic's EnvType.GYM_TYPE


def _open(path: Path) -> h5py.File:
    if not path.exists():
        raise bad_input(path, None, "an existing HDF5 file", "no such file")
    try:
        return h5py.File(path, "r")
    except OSError as e:
        raise bad_input(path, None, "a readable HDF5 file", f"{e}") from None


def _demo_sort_key(name: str) -> tuple[int, str]:
    tail = name.rsplit("_", 1)[-1]
    return (int(tail), name) if tail.isdigit() else (1 << 30, name)


def _attr_str(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def load_robomimic(path: str | Path, obs_keys: Sequence[str] | None = None, filter_key: str | None = None,
                   progress: Progress | None = None) -> Dataset:
    """Read a robomimic HDF5 file. obs_keys: keys of `obs/`, chosen and ordered (default: all, stored order)."""
    path = Path(path)
    with _open(path) as f:
        if "data" not in f:
            raise bad_input(path, "data", "a 'data' group (robomimic layout)", f"top-level keys {sorted(f.keys())}")
        data = f["data"]
        env_args: dict[str, Any] = {}
        if "env_args" in data.attrs:
            try:
                env_args = json.loads(_attr_str(data.attrs["env_args"]))
            except json.JSONDecodeError as e:
                raise bad_input(path, "data.attrs['env_args']", "a JSON string", f"malformed JSON ({e})") from None
        native = json.loads(_attr_str(data.attrs["protege_meta"])) if "protege_meta" in data.attrs else {}
        demos = sorted((k for k in data.keys() if k.startswith("demo")), key=_demo_sort_key)
        if not demos:
            raise bad_input(path, "data/demo_<i>", "at least one demo group", f"keys {sorted(data.keys())[:10]}")
        splits = {}
        if "mask" in f:
            for name, ds in f["mask"].items():
                splits[name] = [_attr_str(x) for x in ds[()]]
        if filter_key is not None:
            if filter_key not in splits:
                raise bad_input(path, f"mask/{filter_key}", f"a filter among {sorted(splits)}", "no such filter")
            wanted = set(splits[filter_key])
            demos = [d for d in demos if d in wanted]
            splits = {k: [d for d in v if d in wanted] for k, v in splits.items()}
        first = data[demos[0]]
        if "obs" not in first:
            raise bad_input(path, f"data/{demos[0]}/obs", "an 'obs' group", f"keys {sorted(first.keys())}")
        keys = select_keys(list(first["obs"].keys()), obs_keys, path)
        order = native.get("spec", {}).get("observation")
        if obs_keys is None and order and set(order) == set(keys):
            keys = list(order)  # HDF5 lists keys alphabetically; restore the order we wrote
        episodes = []
        with bar_scope(progress, "read robomimic", len(demos), "demo") as b:
            for name in demos:  # a read error discards the bar: nothing is drawn after the error
                episodes.append(_read_demo(path, name, data[name], keys))
                b.update(1)
    fps = float(native.get("fps") or env_args.get("env_kwargs", {}).get("control_freq") or 0.0)
    task = native.get("task") or env_args.get("env_name")
    act = native.get("spec", {}).get("action", {})
    spec = Spec({k: ArraySpec(episodes[0].observations[k].shape[1:],
                              "float32" if episodes[0].observations[k].dtype.kind == "f" else str(episodes[0].observations[k].dtype))
                 for k in keys}, ArraySpec(episodes[0].actions.shape[1:], low=act.get("low"), high=act.get("high")), fps)
    extra = {"splits": splits} if splits else {}
    if env_args:
        extra["env_args"] = env_args
    return make_dataset(episodes, path, "robomimic", None, fps, task, {k: f"obs/{k}" for k in keys}, spec=spec,
                        extra_meta=extra, provenance=native.get("provenance"))


def _read_demo(path: Path, name: str, g: h5py.Group, keys: list[str]) -> Episode:
    where = f"data/{name}"
    if "actions" not in g:
        raise bad_input(path, f"{where}/actions", "an 'actions' dataset", f"keys {sorted(g.keys())}")
    actions = g["actions"][()]
    T = len(actions)
    n = int(g.attrs.get("num_samples", T))
    if n != T:
        raise bad_input(path, f"{where}/actions", f"{n} rows (num_samples)", f"{T}")

    def arr(key: str) -> np.ndarray:
        a = g[key][()]
        if len(a) != T:
            raise bad_input(path, f"{where}/{key}", f"{T} rows like actions", f"{len(a)}")
        return a

    obs = {}
    for k in keys:
        if f"obs/{k}" not in g:
            raise bad_input(path, f"{where}/obs/{k}", f"observation key '{k}' like the first demo", f"keys {sorted(g['obs'].keys())}")
        o = arr(f"obs/{k}")
        keep_final = bool(g.attrs.get("protege_final_obs", True))
        if f"next_obs/{k}" in g and keep_final:
            nxt = arr(f"next_obs/{k}")
            o = np.concatenate([o, nxt[-1:]])
        obs[k] = o
    opt = {}
    for field, key in (("rewards", "rewards"), ("labels", "protege_labels"), ("label_mask", "protege_label_mask"),
                       ("source", "protege_source"), ("intervened", "protege_intervened")):
        if key in g and not (field == "rewards" and not g.attrs.get("protege_rewards", True)):
            opt[field] = arr(key)
    dones = arr("dones") if "dones" in g else None
    success = bool(g.attrs["success"]) if "success" in g.attrs else bool(dones is not None and dones[-1])
    if "protege_info" in g.attrs:  # written by protege: restore the episode's own info
        info = json.loads(_attr_str(g.attrs["protege_info"]))
    else:
        info = {"robomimic_demo": name}
        if "model_file" in g.attrs:
            info["model_file"] = _attr_str(g.attrs["model_file"])
    return Episode(observations=obs, actions=actions.reshape(T, -1), success=success, info=info,
                   origin=f"{path}:{where}", **opt)


def write_robomimic(ds: Dataset, path: str | Path, progress: Progress | None = None) -> Path:
    """Write `ds` as one robomimic HDF5 file (demo_0 ..); meta["splits"] become mask/<filter> lists."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    task = ds.meta.get("task") or ""
    env_args = ds.meta.get("env_args") or {"env_name": task, "type": GYM_ENV_TYPE, "env_kwargs": {}}
    b = bar(progress, "write robomimic", len(ds), "demo")
    with h5py.File(path, "w", track_order=True) as f:
        data = f.create_group("data")
        total = 0
        names = []
        for i, ep in enumerate(ds.episodes):
            T = len(ep)
            name = ep.info.get("robomimic_demo") or f"demo_{i}"
            if name in data:
                name = f"demo_{i}"
            names.append(name)
            g = data.create_group(name, track_order=True)
            g.attrs["num_samples"] = T
            g.attrs["success"] = bool(ep.success)
            g.attrs["protege_info"] = json.dumps(ep.info)
            g.create_dataset("actions", data=ep.actions)
            # robomimic always has rewards; zeros stand in for none, flagged so they read back as none.
            g.create_dataset("rewards", data=ep.rewards if ep.rewards is not None else np.zeros(T, np.float32))
            g.attrs["protege_rewards"] = ep.rewards is not None
            dones = np.zeros(T, np.int64)
            dones[-1] = int(ep.success)  # robomimic marks the step that completed the task
            g.create_dataset("dones", data=dones)
            has_final = all(len(v) == T + 1 for v in ep.observations.values())
            g.attrs["protege_final_obs"] = has_final
            for k, v in ep.observations.items():
                g.create_dataset(f"obs/{k}", data=v[:T])
                nxt = v[1:T + 1] if len(v) == T + 1 else np.concatenate([v[1:T], v[T - 1:T]])
                g.create_dataset(f"next_obs/{k}", data=nxt)
            for field, arr in extras_of(ep).items():
                g.create_dataset(f"protege_{field}", data=arr)
            total += T
            b.update(1)
        b.close()
        data.attrs["total"] = total
        data.attrs["env_args"] = json.dumps(env_args)
        data.attrs["protege_meta"] = json.dumps(native_meta(ds))
        for split, members in (ds.meta.get("splits") or {}).items():
            f.create_dataset(f"mask/{split}", data=np.array([m.encode() for m in members], dtype="S"))
    return path
