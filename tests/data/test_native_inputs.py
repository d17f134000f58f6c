"""Hostile or foreign episode files: size checks before allocation, seed-format per-step arrays, and a
writer that holds its folder alone and keeps the old dataset until an overwrite is complete."""

import io
import json
import zipfile

import numpy as np
import pytest

from protege.data import DatasetWriter, load_dataset, save_dataset
from protege.data.native import NoEpisodesError
from protege.errors import ProtegeError
from protege.specs import ArraySpec, Spec

SPEC = Spec({"state": ArraySpec((3,))}, ArraySpec((2,)), fps=10)


def _npy_claiming(shape, data: bytes) -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": "<f8", "fortran_order": False, "shape": shape})
    return buf.getvalue() + data


@pytest.mark.parametrize("compression", [zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED])
def test_huge_declared_array_is_refused_before_allocating(tmp_path, compression):
    with zipfile.ZipFile(tmp_path / "a.npz", "w", compression) as z:
        z.writestr("observations.npy", _npy_claiming((10**12, 3), b"\0" * 64))
        z.writestr("actions.npy", _npy_claiming((2, 1), b"\0" * 16))
    with pytest.raises(ProtegeError, match=r"a\.npz: field 'observations': expected 24000000000000 bytes of data "
                                           r"for shape \(1000000000000, 3\) float64, found 64 bytes in the archive"):
        load_dataset(tmp_path)


def test_member_claiming_more_than_it_stores_is_refused(tmp_path):
    np.savez(tmp_path / "a.npz", observations=np.zeros((4, 3)), actions=np.zeros((4, 1)))
    raw = bytearray((tmp_path / "a.npz").read_bytes())
    with zipfile.ZipFile(tmp_path / "a.npz") as z:
        info = z.getinfo("observations.npy")
    # inflate the central directory's uncompressed size of a stored member (offset 24 in its record)
    cd = raw.index(b"PK\x01\x02")
    while raw[cd + 46:cd + 46 + len(info.filename)] != info.filename.encode():
        cd = raw.index(b"PK\x01\x02", cd + 4)
    raw[cd + 24:cd + 28] = (10**9).to_bytes(4, "little")
    (tmp_path / "a.npz").write_bytes(bytes(raw))
    with pytest.raises(ProtegeError, match=r"a\.npz: field 'observations': expected a member whose sizes agree"):
        load_dataset(tmp_path)


def test_seed_format_with_per_step_arrays_loads(tmp_path):
    T = 12
    for i in range(3):
        success = np.zeros(T, bool)
        if i != 1:
            success[T - 2] = True  # success at one step counts for the episode
        np.savez(tmp_path / f"ep_{i}.npz", observations=np.random.rand(T, 4), actions=np.random.rand(T, 2),
                 rewards=np.arange(T, dtype=np.float64), success=success, terminated=np.arange(T) == T - 1,
                 truncated=np.zeros(T, bool))
    ds = load_dataset(tmp_path)
    assert len(ds) == 3 and ds.spec.obs_dim == 4
    assert [e.success for e in ds.episodes] == [True, False, True]
    np.testing.assert_array_equal(ds.episodes[0].rewards, np.arange(T, dtype=np.float32))


def test_empty_dataset_has_its_own_error_type(tmp_path):
    (tmp_path / "ds").mkdir()
    with pytest.raises(NoEpisodesError, match="expected episode .npz files, found none"):
        load_dataset(tmp_path / "ds")


def test_second_writer_is_refused_while_the_first_holds_the_folder(tmp_path, make_episode):
    first = DatasetWriter(tmp_path / "ds", SPEC)
    first.add(make_episode())
    with pytest.raises(ProtegeError, match=r"ds: is being written by another process \(pid \d+\)"):
        DatasetWriter(tmp_path / "ds", SPEC, overwrite=True)
    first.close()
    assert len(load_dataset(tmp_path / "ds")) == 1
    DatasetWriter(tmp_path / "ds", SPEC, overwrite=True).close()  # free again once the first has finished


def test_overwrite_keeps_the_old_dataset_until_the_new_one_is_complete(tmp_path, make_episode):
    save_dataset([make_episode(seed=i) for i in range(3)], tmp_path / "ds", spec=SPEC)
    with pytest.raises(RuntimeError):
        with DatasetWriter(tmp_path / "ds", SPEC, overwrite=True) as w:
            w.add(make_episode(seed=10))
            assert len(load_dataset(tmp_path / "ds")) == 3  # still the old one while writing
            raise RuntimeError("recording failed")
    assert len(load_dataset(tmp_path / "ds")) == 3
    with DatasetWriter(tmp_path / "ds", SPEC, overwrite=True) as w:
        w.add(make_episode(seed=10))
    ds = load_dataset(tmp_path / "ds")
    assert len(ds) == 1 and ds.episodes[0].info["seed"] == 10
    assert json.loads((tmp_path / "ds" / "stats.json").read_text())["action"]["mean"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ds"]  # no staging or aside folder left


def test_bad_meta_spec_is_one_line(tmp_path, make_episode):
    save_dataset([make_episode()], tmp_path / "ds", spec=SPEC)
    meta = json.loads((tmp_path / "ds" / "meta.json").read_text())
    meta["spec"]["action"]["shape"] = "2"
    (tmp_path / "ds" / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(ProtegeError, match=r"meta\.json: field 'spec\.action\.shape': expected a list of non-negative"):
        load_dataset(tmp_path / "ds")


def test_writer_recovers_a_dataset_left_aside_by_a_crash(tmp_path, make_episode):
    from protege.data.atomic import aside_path

    save_dataset([make_episode(seed=i) for i in range(2)], tmp_path / "ds", spec=SPEC)
    (tmp_path / "ds").rename(aside_path(tmp_path / "ds"))  # killed between the two renames of an overwrite
    assert len(load_dataset(tmp_path / "ds")) == 2  # readers find the aside copy
    with pytest.raises(ProtegeError, match="existing dataset"):
        DatasetWriter(tmp_path / "ds", SPEC)
    assert len(load_dataset(tmp_path / "ds")) == 2
