"""A multi-task dataset through every format: LeRobot's task / task_index per frame, robomimic and
Minari keep each episode's task and instruction in their metadata, and all of it reads back."""

import numpy as np
import pyarrow.parquet as pq

from protege.data.episode import Episode
from protege.data.formats import convert, load_any, save_as
from protege.data.native import Dataset
from protege.specs import ArraySpec, Spec

TAGS = [("metaworld/reach", "reach to the goal position"), ("metaworld/push", "push the block to the goal")]


def _dataset():
    rng = np.random.default_rng(0)
    eps = [Episode(observations={"state": rng.normal(size=(5, 3)).astype(np.float32)},
                   actions=rng.uniform(-1, 1, (5, 2)).astype(np.float32), success=True,
                   info={"seed": i, "task": t, "instruction": instr})
           for i in range(2) for t, instr in TAGS]
    spec = Spec(observation={"state": ArraySpec((3,))}, action=ArraySpec((2,)), fps=10.0)
    return Dataset(eps, spec, {"task": "metaworld/reach,metaworld/push"})


def test_task_tags_round_trip_through_every_format(tmp_path):
    src = save_as(_dataset(), tmp_path / "native", "protege")
    want = [(e.info["task"], e.info["instruction"]) for e in _dataset().episodes]
    for fmt, dst in (("lerobot", tmp_path / "lr"), ("robomimic", tmp_path / "d.hdf5"), ("minari", tmp_path / "mn")):
        convert(src, dst, to_fmt=fmt)
        back = load_any(dst)
        assert [(e.info["task"], e.info["instruction"]) for e in back.episodes] == want, fmt
        convert(dst, tmp_path / f"{fmt}_native")  # and back to native
        again = load_any(tmp_path / f"{fmt}_native")
        assert [(e.info["task"], e.info["instruction"]) for e in again.episodes] == want, fmt
    tasks = pq.read_table(tmp_path / "lr" / "meta" / "tasks.parquet").to_pydict()
    names = dict(zip(tasks["task_index"], tasks["task"]))
    assert sorted(names.values()) == sorted(t for t, _ in TAGS)
    frames = pq.read_table(sorted((tmp_path / "lr" / "data").rglob("*.parquet"))[0]).to_pydict()
    per_frame = [names[i] for i in frames["task_index"]]
    assert per_frame == [t for t, _ in want for _ in range(5)]
