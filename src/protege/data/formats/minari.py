"""Minari datasets (the successor of D4RL), read and written without importing minari.

A Minari dataset folder holds `data/` with `metadata.json` (total_episodes, total_steps, data_format,
observation_space and action_space serialised as JSON strings, env_spec, dataset_id, ...) and either

- `data_format: "hdf5"`: `data/main_data.hdf5` with one group `episode_<id>` per episode (attrs id,
  total_steps, seed) holding `observations` (a dataset, or a group of datasets for a Dict space),
  `actions`, `rewards`, `terminations`, `truncations` and `infos`; or
- `data_format: "arrow"` or `"parquet"`: `data/<id>/` per episode (Arrow IPC or Parquet files with
  columns observations, actions, rewards, terminations, truncations, infos; every column padded to T+1
  rows) and `data/<id>/metadata.json`. `infos` is JSON text per row (arrow) or a struct (parquet).

Minari's observations have length T+1 (the final one included) and so do the Episodes read here.
Success is `infos/success` (any step) when present, else the `success` attribute our writer sets, else
any termination; `info["success_steps"]` counts the steps whose `infos/success` is set (a test such as
DAPG's "goal held on more than 25 steps" reads it). An episode's reset options (Minari's `options/...`
attributes, e.g. gymnasium-robotics' `initial_state_dict`) come back as `info["reset_options"]`, ready for
`env.reset(seed=..., options=...)`. A Box observation space becomes the native key `state`, a Dict space
keeps its keys.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Sequence

import h5py
import numpy as np

from protege import __version__
from protege.data.episode import Episode
from protege.data.formats.arrowcols import to_numpy
from protege.data.formats.common import extras_of, load_json, make_dataset, native_meta, require, select_keys
from protege.data.native import Dataset, write_json
from protege.errors import bad_input
from protege.progress import Progress, bar, bar_scope
from protege.specs import ArraySpec, Spec

BOX_KEY = "state"


def data_dir(root: Path) -> Path:
    """The folder holding metadata.json: `root/data`, or `root` itself."""
    return root / "data" if (root / "data" / "metadata.json").exists() else root


def _space(meta: dict, name: str, path: Path) -> dict:
    raw = require(meta, name, path, f"a serialised '{name}'")
    try:
        space = json.loads(raw) if isinstance(raw, str) else raw
    except json.JSONDecodeError as e:
        raise bad_input(path, name, "a JSON-serialised gymnasium space", f"malformed JSON ({e})") from None
    if space.get("type") not in ("Box", "Dict"):
        raise bad_input(path, name, "a Box or Dict (of Box) space", f"type {space.get('type')!r}")
    return space


def load_minari(root: str | Path, obs_keys: Sequence[str] | None = None, progress: Progress | None = None) -> Dataset:
    root = Path(root)
    d = data_dir(root)
    meta_path = d / "metadata.json"
    meta = load_json(meta_path)
    fmt = require(meta, "data_format", meta_path, "'data_format' (hdf5, arrow or parquet)")
    obs_space = _space(meta, "observation_space", meta_path)
    act_space = _space(meta, "action_space", meta_path)
    if act_space["type"] != "Box":
        raise bad_input(meta_path, "action_space", "a Box action space", f"type {act_space['type']!r}")
    available = list(obs_space["subspaces"]) if obs_space["type"] == "Dict" else [BOX_KEY]
    keys = select_keys(available, obs_keys, meta_path)
    shapes = {k: tuple((obs_space["subspaces"][k] if obs_space["type"] == "Dict" else obs_space)["shape"]) for k in keys}
    n = int(require(meta, "total_episodes", meta_path, "'total_episodes'"))
    if fmt not in ("hdf5", "arrow", "parquet"):
        raise bad_input(meta_path, "data_format", "'hdf5', 'arrow' or 'parquet'", repr(fmt))
    with bar_scope(progress, f"read Minari ({fmt})", n, "ep") as b:  # discarded on a read error
        if fmt == "hdf5":
            episodes = list(_read_hdf5(d, obs_space["type"] == "Dict", keys, b))
        else:
            episodes = list(_read_columnar(d, fmt, obs_space["type"] == "Dict", keys, shapes,
                                           tuple(act_space["shape"]), b))
    if len(episodes) != n:
        raise bad_input(meta_path, "total_episodes", f"{n} episodes in {d}", f"{len(episodes)}")
    native = meta.get("protege_meta") or {}
    fps = float(native.get("fps") or meta.get("fps") or 0.0)
    task = native.get("task") or meta.get("dataset_id")
    spec = Spec({k: ArraySpec(shapes[k], "float32" if episodes[0].observations[k].dtype.kind == "f"
                              else str(episodes[0].observations[k].dtype)) for k in keys},
                ArraySpec(tuple(act_space["shape"]), low=_bounds(act_space, "low"), high=_bounds(act_space, "high")), fps)
    extra = {k: meta[k] for k in ("dataset_id", "env_spec") if meta.get(k)}
    extra.update({k: v for k, v in native.items() if k == "splits"})
    return make_dataset(episodes, root, "minari", str(meta.get("minari_version") or ""), fps, task,
                        {k: (f"observations/{k}" if obs_space["type"] == "Dict" else "observations") for k in keys},
                        spec=spec, extra_meta={"minari": extra} if extra else None, provenance=native.get("provenance"))


def _bounds(space: dict, name: str):
    v = np.asarray(space.get(name, []), dtype=np.float64).reshape(-1)
    return v.tolist() if v.size and np.isfinite(v).all() and v.size == int(np.prod(space["shape"])) else None


def _episode(where: str, obs: dict[str, np.ndarray], actions: np.ndarray, rewards, terminations, truncations,
             attrs: dict, step_success: np.ndarray | None, extras: dict) -> Episode:
    T = len(actions)
    for k, o in obs.items():
        if len(o) != T + 1:
            raise bad_input(where, f"observations/{k}", f"{T + 1} rows (T+1 for {T} actions)", f"{len(o)}")
    for name, a in (("rewards", rewards), ("terminations", terminations), ("truncations", truncations)):
        if a is not None and len(a) != T:
            raise bad_input(where, name, f"{T} rows like actions", f"{len(a)}")
    if attrs.get("protege_final_obs") is False:  # our writer padded a T-step episode to T+1
        obs = {k: v[:T] for k, v in obs.items()}
    if attrs.get("protege_rewards") is False:  # our writer's zeros standing in for no rewards
        rewards = None
    if "success" in attrs:
        success = bool(attrs["success"])
    elif step_success is not None:
        success = bool(np.any(step_success))
    else:
        success = bool(terminations is not None and np.any(terminations))
    if attrs.get("protege_info") is not None:  # written by protege: restore the episode's own info
        info = json.loads(attrs["protege_info"])
    else:
        info = {"minari_episode": int(attrs.get("id", -1))}
        if attrs.get("seed") is not None:
            info["seed"] = int(attrs["seed"])
        options = _reset_options(attrs)
        if options:  # what `env.reset(seed, options=...)` took, e.g. Adroit's initial_state_dict
            info["reset_options"] = options
        if step_success is not None:  # goal steps, for tests such as "goal held on more than k steps"
            flags = np.asarray(step_success, bool).reshape(-1)
            info["success_steps"] = int(flags[max(len(flags) - T, 0):].sum())  # [0] of T+1 flags is the reset
    return Episode(observations=obs, actions=actions.reshape(T, -1), rewards=rewards, success=success,
                   info=info, origin=where, **extras)


def _reset_options(attrs: dict) -> dict:
    """An episode's reset options as JSON-able nested dicts: Minari's HDF5 storage flattens them into
    attributes `options/<key>/<key>...`; an episode metadata.json (Arrow, Parquet) may nest them."""
    def plain(v: Any) -> Any:
        if isinstance(v, dict):
            return {str(k): plain(x) for k, x in v.items()}
        return np.asarray(v).tolist() if isinstance(v, (np.ndarray, np.generic)) else v

    out: dict = plain(attrs["options"]) if isinstance(attrs.get("options"), dict) else {}
    for key, value in attrs.items():
        parts = key.split("/")
        if parts[0] != "options" or len(parts) < 2:
            continue
        node = out
        for p in parts[1:-1]:
            node = node.setdefault(p, {})
        node[parts[-1]] = plain(value)
    return out


def _read_hdf5(d: Path, is_dict: bool, keys: list[str], b) -> Any:
    path = d / "main_data.hdf5"
    if not path.exists():
        raise bad_input(path, None, "Minari's main_data.hdf5 (data_format hdf5)", "no such file")
    try:
        f = h5py.File(path, "r")
    except OSError as e:
        raise bad_input(path, None, "a readable HDF5 file", str(e)) from None
    with f:
        names = sorted((k for k in f.keys() if k.startswith("episode_")), key=lambda s: int(s.split("_")[1]))
        for name in names:
            g = f[name]
            where = f"{path}:{name}"
            for need in ("observations", "actions"):
                if need not in g:
                    raise bad_input(where, need, f"an '{need}' entry", f"keys {sorted(g.keys())}")
            obs = {k: g[f"observations/{k}"][()] if is_dict else g["observations"][()] for k in keys}
            opt = {k: g[k][()] if k in g else None for k in ("rewards", "terminations", "truncations")}
            step_success = None
            if "infos" in g and isinstance(g["infos"], h5py.Group) and "success" in g["infos"]:
                step_success = g["infos/success"][()]
            extras = {f: g[f"protege_{f}"][()] for f in ("labels", "label_mask", "source", "intervened") if f"protege_{f}" in g}
            attrs = {k: (v.decode() if isinstance(v, bytes) else v) for k, v in g.attrs.items()}
            for flag in ("protege_final_obs", "protege_rewards"):
                if flag in attrs:
                    attrs[flag] = bool(attrs[flag])
            yield _episode(where, obs, g["actions"][()], opt["rewards"], opt["terminations"], opt["truncations"],
                           attrs, step_success, extras)
            b.update(1)


def _read_columnar(d: Path, fmt: str, is_dict: bool, keys: list[str], shapes: dict, act_shape: tuple, b) -> Any:
    import pyarrow as pa
    import pyarrow.dataset as pads

    folders = sorted((p for p in d.iterdir() if p.is_dir() and p.name.isdigit()), key=lambda p: int(p.name))
    for folder in folders:
        where = str(folder)
        try:
            table = pads.dataset(folder, format=fmt, ignore_prefixes=["_", ".", "metadata.json"]).to_table()
        except (pa.ArrowInvalid, OSError) as e:
            raise bad_input(folder, None, f"{fmt} episode files", str(e)) from None
        for need in ("observations", "actions", "rewards"):
            if need not in table.column_names:
                raise bad_input(folder, need, f"a '{need}' column", f"columns {table.column_names}")
        n = table.num_rows
        col = table.column("observations").combine_chunks()
        obs = {k: to_numpy(col.field(k) if is_dict else col, shapes[k], folder, f"observations/{k}") for k in keys}
        # Every column is padded to T+1 rows; actions and rewards drop the padding row.
        actions = to_numpy(table.column("actions"), act_shape, folder, "actions")[: n - 1]
        opt = {k: table.column(k).to_numpy()[: n - 1] if k in table.column_names else None
               for k in ("rewards", "terminations", "truncations")}
        extras = {}
        for f in ("labels", "label_mask", "source", "intervened"):
            if f"protege_{f}" in table.column_names:
                c = table.column(f"protege_{f}")
                extras[f] = (to_numpy(c, act_shape, folder, f) if f == "labels" else c.to_numpy())[: n - 1]
        step_success = None
        if "infos" in table.column_names:
            infos = table.column("infos").combine_chunks()
            if pa.types.is_struct(infos.type):
                if infos.type.get_field_index("success") >= 0:
                    step_success = infos.field("success").to_numpy(zero_copy_only=False).astype(bool)
            elif len(infos) and pa.types.is_string(infos.type):
                flags = [json.loads(s).get("success") for s in infos.to_pylist()]
                step_success = np.array([bool(x) for x in flags]) if any(x is not None for x in flags) else None
        attrs = load_json(folder / "metadata.json") if (folder / "metadata.json").exists() else {}
        yield _episode(where, obs, actions, opt["rewards"], opt["terminations"], opt["truncations"], attrs,
                       step_success, extras)
        b.update(1)


def _box(shape, dtype: str, low=None, high=None) -> dict:
    n = int(np.prod(shape))
    # Integer Boxes (camera images) need finite bounds: their dtype's range.
    lo, hi = (np.iinfo(dtype).min, np.iinfo(dtype).max) if np.dtype(dtype).kind in "iu" else (-np.inf, np.inf)
    low = [lo] * n if low is None else list(low)
    high = [hi] * n if high is None else list(high)
    return {"type": "Box", "dtype": dtype, "shape": list(shape),
            "low": np.asarray(low).reshape(shape).tolist(), "high": np.asarray(high).reshape(shape).tolist()}


def write_minari(ds: Dataset, root: str | Path, data_format: str = "hdf5", dataset_id: str | None = None,
                 progress: Progress | None = None) -> Path:
    """Write `ds` as a Minari dataset folder `root` (root/data/metadata.json + storage)."""
    root = Path(root)
    d = root / "data"
    d.mkdir(parents=True, exist_ok=True)
    spec = ds.spec
    keys = list(spec.observation)
    single = keys == [BOX_KEY]
    obs_space = _box(spec.observation[BOX_KEY].shape, spec.observation[BOX_KEY].dtype) if single else \
        {"type": "Dict", "subspaces": {k: _box(s.shape, s.dtype) for k, s in spec.observation.items()}}
    act_space = _box(spec.action.shape, "float32", spec.action.low, spec.action.high)
    task = ds.meta.get("task") or "dataset"
    dataset_id = dataset_id or (ds.meta.get("minari") or {}).get("dataset_id") or f"protege/{task.replace('/', '-')}-v0"
    b = bar(progress, f"write Minari ({data_format})", len(ds), "ep")
    if data_format == "hdf5":
        _write_hdf5(ds, d, single, b)
    elif data_format in ("arrow", "parquet"):
        _write_columnar(ds, d, data_format, single, b)
    else:
        raise bad_input(root, "data_format", "'hdf5', 'arrow' or 'parquet'", repr(data_format))
    b.close()
    meta = {"dataset_id": dataset_id, "total_episodes": len(ds), "total_steps": ds.num_steps, "data_format": data_format,
            "observation_space": json.dumps(obs_space), "action_space": json.dumps(act_space),
            "minari_version": ">=0.5.0", "author": None, "algorithm_name": (ds.meta.get("provenance") or {}).get("expert"),
            "requirements": [], "protege_version": __version__, "protege_meta": native_meta(ds)}
    write_json(d / "metadata.json", meta)
    return root


def _padded(ep: Episode) -> tuple[dict[str, np.ndarray], bool]:
    T = len(ep)
    final = all(len(v) == T + 1 for v in ep.observations.values())
    obs = {k: v if len(v) == T + 1 else np.concatenate([v[:T], v[T - 1:T]]) for k, v in ep.observations.items()}
    return obs, final


def _step_success(ep: Episode) -> np.ndarray:
    s = np.zeros(len(ep) + 1, bool)  # infos have T+1 entries (reset + each step)
    s[-1] = ep.success
    return s


def _write_hdf5(ds: Dataset, d: Path, single: bool, b) -> None:
    with h5py.File(d / "main_data.hdf5", "w", track_order=True) as f:
        for i, ep in enumerate(ds.episodes):
            T = len(ep)
            g = f.create_group(f"episode_{i}", track_order=True)
            obs, final = _padded(ep)
            g.attrs.update({"id": i, "total_steps": T, "success": bool(ep.success), "protege_final_obs": final,
                            "protege_rewards": ep.rewards is not None, "protege_info": json.dumps(ep.info)})
            if isinstance(ep.info.get("seed"), int):
                g.attrs["seed"] = ep.info["seed"]
            if single:
                g.create_dataset("observations", data=obs[BOX_KEY])
            else:
                for k, v in obs.items():
                    g.create_dataset(f"observations/{k}", data=v)
            g.create_dataset("actions", data=ep.actions)
            g.create_dataset("rewards", data=ep.rewards if ep.rewards is not None else np.zeros(T, np.float32))
            term = np.zeros(T, bool)
            term[-1] = ep.success
            g.create_dataset("terminations", data=term)
            g.create_dataset("truncations", data=~term & (np.arange(T) == T - 1))
            g.create_dataset("infos/success", data=_step_success(ep))
            for field, arr in extras_of(ep).items():
                g.create_dataset(f"protege_{field}", data=arr)
            b.update(1)


def _write_columnar(ds: Dataset, d: Path, fmt: str, single: bool, b) -> None:
    import pyarrow as pa
    import pyarrow.feather as feather
    import pyarrow.parquet as pq

    from protege.data.formats.arrowcols import from_numpy

    for i, ep in enumerate(ds.episodes):
        T = len(ep)
        obs, final = _padded(ep)

        def pad(a: np.ndarray) -> np.ndarray:
            return np.concatenate([a, np.zeros((1, *a.shape[1:]), a.dtype)])

        ob = from_numpy(obs[BOX_KEY]) if single else pa.StructArray.from_arrays(
            [from_numpy(v) for v in obs.values()], names=list(obs))
        term = np.zeros(T, bool)
        term[-1] = ep.success
        # No episode_id column: Minari writes it as the partition folder name, not inside the file.
        cols = {"observations": ob,
                "actions": from_numpy(pad(ep.actions)),
                "rewards": from_numpy(pad(ep.rewards if ep.rewards is not None else np.zeros(T, np.float32))),
                "terminations": from_numpy(pad(term)), "truncations": from_numpy(pad(~term & (np.arange(T) == T - 1))),
                "infos": pa.array([json.dumps({"success": bool(s)}) for s in _step_success(ep)], pa.string())
                if fmt == "arrow" else pa.StructArray.from_arrays([pa.array(_step_success(ep))], names=["success"])}
        for field, arr in extras_of(ep).items():
            cols[f"protege_{field}"] = from_numpy(pad(arr))
        folder = d / str(i)
        folder.mkdir(parents=True, exist_ok=True)
        if fmt == "arrow":
            feather.write_feather(pa.table(cols), folder / "part-0.arrow", compression="uncompressed")
        else:
            pq.write_table(pa.table(cols), folder / "part-0.parquet")
        meta: dict[str, Any] = {"id": i, "total_steps": T, "success": bool(ep.success), "protege_final_obs": final,
                                "protege_rewards": ep.rewards is not None, "protege_info": json.dumps(ep.info)}
        if isinstance(ep.info.get("seed"), int):
            meta["seed"] = ep.info["seed"]
        write_json(folder / "metadata.json", meta)
        b.update(1)
