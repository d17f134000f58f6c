import json
import os
import signal
import subprocess
import sys
import time
import zipfile

import numpy as np
import pytest

from protege.data import DatasetWriter, load_dataset, save_dataset
from protege.errors import ProtegeError
from protege.specs import ArraySpec, Spec

SPEC = Spec({"state": ArraySpec((3,))}, ArraySpec((2,)), fps=10)


def test_round_trip_keeps_every_field(tmp_path, make_episode):
    eps = [make_episode(T=5 + i, seed=i, source=np.full(5 + i, 1, np.uint8),
                        intervened=np.arange(5 + i) % 2 == 0, labels=np.ones((5 + i, 2)),
                        label_mask=np.arange(5 + i) < 3) for i in range(3)]
    save_dataset(eps, tmp_path / "ds", spec=SPEC, task="toy")
    ds = load_dataset(tmp_path / "ds")
    assert len(ds) == 3 and ds.spec == SPEC and ds.meta["task"] == "toy"
    for a, b in zip(eps, ds.episodes):
        np.testing.assert_array_equal(a.observations["state"], b.observations["state"])
        np.testing.assert_array_equal(a.actions, b.actions)
        np.testing.assert_array_equal(a.labels, b.labels)
        np.testing.assert_array_equal(a.label_mask, b.label_mask)
        np.testing.assert_array_equal(a.rewards, b.rewards)
        np.testing.assert_array_equal(a.source, b.source)
        np.testing.assert_array_equal(a.intervened, b.intervened)
        assert a.success == b.success and a.info == b.info
    meta = json.loads((tmp_path / "ds" / "meta.json").read_text())
    assert meta["num_episodes"] == 3 and meta["num_steps"] == 5 + 6 + 7
    stats = json.loads((tmp_path / "ds" / "stats.json").read_text())
    assert len(stats["observation.state"]["mean"]) == 3 and len(stats["action"]["max"]) == 2


def test_plain_npz_folder_loads_as_is(tmp_path):
    for i in range(3):
        np.savez(tmp_path / f"demo_{i}.npz", observations=np.random.rand(20, 5), actions=np.random.rand(20, 2))
    ds = load_dataset(tmp_path)
    assert len(ds) == 3 and ds.spec.obs_dim == 5 and ds.spec.action_dim == 2
    assert ds.episodes[0].observations["state"].shape == (20, 5)


def test_existing_dataset_is_not_overwritten(tmp_path, make_episode):
    save_dataset([make_episode()], tmp_path / "ds", spec=SPEC)
    with pytest.raises(ProtegeError, match="existing dataset"):
        DatasetWriter(tmp_path / "ds", SPEC)
    assert len(load_dataset(tmp_path / "ds")) == 1


def test_missing_path(tmp_path):
    with pytest.raises(ProtegeError, match=r"nope: expected a dataset folder, found no such file or folder"):
        load_dataset(tmp_path / "nope")


def test_truncated_npz_is_named(tmp_path):
    np.savez(tmp_path / "a.npz", observations=np.random.rand(50, 5), actions=np.random.rand(50, 2))
    data = (tmp_path / "a.npz").read_bytes()
    (tmp_path / "a.npz").write_bytes(data[: len(data) // 2])
    with pytest.raises(ProtegeError, match=r"a\.npz: expected a readable \.npz archive, found corrupt or truncated"):
        load_dataset(tmp_path)


def test_corrupt_member_is_named(tmp_path):
    np.savez(tmp_path / "a.npz", observations=np.random.rand(50, 5), actions=np.random.rand(50, 2))
    raw = bytearray((tmp_path / "a.npz").read_bytes())
    with zipfile.ZipFile(tmp_path / "a.npz") as z:
        info = z.getinfo("actions.npy")
    start = info.header_offset + 30 + len(info.filename) + 80
    raw[start:start + 40] = b"\xff" * 40  # damage the array bytes: the CRC check fails
    (tmp_path / "a.npz").write_bytes(bytes(raw))
    with pytest.raises(ProtegeError, match=r"a\.npz.*corrupt or truncated"):
        load_dataset(tmp_path)


class _Boom:
    def __reduce__(self):
        return (os.system, ("touch PWNED",))


def test_object_arrays_are_refused_and_never_unpickled(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    obj = np.empty(2, dtype=object)
    obj[0], obj[1] = _Boom(), _Boom()
    np.savez(tmp_path / "evil.npz", observations=obj, actions=np.zeros((2, 1)))
    with pytest.raises(ProtegeError, match=r"evil\.npz: field 'observations': expected a numeric array, found an object array"):
        load_dataset(tmp_path)
    assert not (tmp_path / "PWNED").exists()


def test_nan_in_file_is_named(tmp_path):
    acts = np.zeros((10, 2))
    acts[3, 0] = np.nan
    np.savez(tmp_path / "a.npz", observations=np.zeros((10, 4)), actions=acts)
    with pytest.raises(ProtegeError, match=r"a\.npz: field 'actions': expected finite values, found nan at index \(3, 0\)"):
        load_dataset(tmp_path)


def test_mismatched_episodes_are_named(tmp_path):
    np.savez(tmp_path / "a.npz", observations=np.zeros((10, 4)), actions=np.zeros((10, 2)))
    np.savez(tmp_path / "b.npz", observations=np.zeros((10, 5)), actions=np.zeros((10, 2)))
    with pytest.raises(ProtegeError, match=r"b\.npz: field 'observations/state': expected per-step shape \(4,\).*found \(5,\)"):
        load_dataset(tmp_path)


def test_empty_episode_is_named(tmp_path):
    np.savez(tmp_path / "a.npz", observations=np.zeros((0, 4)), actions=np.zeros((0, 2)))
    with pytest.raises(ProtegeError, match=r"a\.npz: field 'actions': expected at least one step"):
        load_dataset(tmp_path)


_SLOW_WRITER = """
import sys, time, numpy as np
from protege.data import DatasetWriter, Episode
from protege.specs import ArraySpec, Spec
spec = Spec({"state": ArraySpec((3,))}, ArraySpec((2,)))
with DatasetWriter(sys.argv[1], spec) as w:
    for i in range(1000):
        w.add(Episode(observations={"state": np.random.rand(2000, 3)}, actions=np.random.rand(2000, 2)))
        print(i, flush=True)
"""


def test_killed_writer_leaves_finished_episodes_loadable(tmp_path):
    proc = subprocess.Popen([sys.executable, "-c", _SLOW_WRITER, str(tmp_path / "ds")], stdout=subprocess.PIPE,
                            text=True)
    for _ in range(3):  # wait until three episodes are on disk, then kill mid-write
        proc.stdout.readline()
    time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    ds = load_dataset(tmp_path / "ds")
    assert len(ds) >= 3
    assert all(len(e) == 2000 for e in ds.episodes)
