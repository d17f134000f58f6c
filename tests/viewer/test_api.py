"""The viewer's data: what a path is, the quick episode index, episode payloads, frames, statistics."""

import base64
import io
import json

import numpy as np
import pytest

from protege.data import Episode, load_dataset
from protege.data.native import DatasetWriter
from protege.errors import ProtegeError
from protege.specs import ArraySpec, Spec
from protege.viewer.api import ViewerApi
from protege.viewer.dataset import COLUMNS, DatasetView, _checked_row, _episode_files, _native_row, row_of
from protege.viewer.kinds import detect_kind


def _get(api, route, **q):
    status, _, body = api.get(route, {k: str(v) for k, v in q.items()})
    return status, json.loads(body)


def test_index_reads_the_same_as_the_full_reader(camera_dataset):
    """The quick index (a few preads per file) agrees with the checked zipfile path and with load_dataset."""
    files = _episode_files(camera_dataset)
    ds = load_dataset(camera_dataset)
    for i, (p, ep) in enumerate(zip(files, ds.episodes)):
        fast = _native_row(i, p, "toy/square")
        assert fast == _checked_row(i, p, "toy/square") == row_of(i, ep, "toy/square")
    row = dict(zip(COLUMNS, _native_row(0, files[0], None)))
    assert (row["length"], row["expert_steps"], row["policy_steps"], row["human_steps"]) == (30, 20, 7, 3)
    assert (row["interventions"], row["intervened_steps"], row["labels"]) == (1, 3, 10)


def test_index_falls_back_for_files_numpy_did_not_plainly_write(tmp_path, make_episode):
    """A compressed archive is read by the checked path; one whose header lies about its size is refused."""
    folder = tmp_path / "seed"
    folder.mkdir()
    ep = make_episode(T=12)
    np.savez_compressed(folder / "000.npz", observations=ep.observations["state"], actions=ep.actions,
                        success=np.ones(12, bool))
    view = DatasetView(folder)
    assert dict(zip(COLUMNS, view.index()[0]))["length"] == 12
    assert view.index()[0][2] is True

    bad = tmp_path / "bad" / "episodes"
    bad.mkdir(parents=True)
    np.savez(bad / "000000.npz", actions=np.zeros((5, 2), np.float32), obs__state=np.zeros((5, 3), np.float32),
             source=np.zeros(5, np.uint8))
    raw = (bad / "000000.npz").read_bytes()
    # claim 10**12 rows for `source` in its .npy header, keeping the header's length
    header = b"'shape': (5,), }"
    assert raw.count(header) == 1
    (bad / "000000.npz").write_bytes(raw.replace(header, b"'shape': (1000000000000,), }"[:len(header)].ljust(len(header))))
    with pytest.raises(ProtegeError, match="source"):
        DatasetView(tmp_path / "bad").index()


def test_episode_payload_has_every_dimension_labels_and_who_acted(camera_dataset):
    api = ViewerApi(camera_dataset)
    status, ep = _get(api, "/api/episode", p="", i=0)
    assert status == 200
    names = [s["name"] for s in ep["series"]]
    assert names == ["action[0]", "action[1]", "state[0]", "state[1]", "state[2]", "reward"]
    action = ep["series"][0]
    assert (action["low"], action["high"]) == (-1.0, 1.0)
    # the expert's label beside the executed action exactly where one was asked
    assert [v is not None for v in action["label"]] == [bool(m) for m in ep["label_mask"]]
    assert ep["source"].count(2) == 3 and sum(ep["intervened"]) == 3
    assert ep["cameras"] == {"front": {"frames": 30, "shape": [32, 32, 3]}}


def test_frames_are_the_recorded_images(camera_dataset):
    from PIL import Image

    api = ViewerApi(camera_dataset)
    status, fr = _get(api, "/api/frames", p="", i=2, key="front")
    assert status == 200 and fr["t"] == list(range(30))
    stored = np.asarray(load_dataset(camera_dataset).episodes[2].observations["front"])
    decoded = np.stack([np.asarray(Image.open(io.BytesIO(base64.b64decode(b)))) for b in fr["png"]])
    np.testing.assert_array_equal(decoded, stored)
    status, few = _get(api, "/api/frames", p="", i=2, key="front", max=7)
    assert len(few["png"]) == 7 and few["t"][0] == 0 and few["t"][-1] == 29
    status, err = _get(api, "/api/frames", p="", i=2, key="state")
    assert status == 400 and "camera" in err["error"]


def _stats_dataset(root, constant=False, saturated=False, outlier=False):
    spec = Spec({"state": ArraySpec((3,))}, ArraySpec((2,), low=(-1.0, -1.0), high=(1.0, 1.0)), fps=10.0)
    rng = np.random.default_rng(1)
    with DatasetWriter(root, spec) as w:
        for e in range(12):
            T = 40
            state = rng.normal(size=(T, 3)).astype(np.float32)
            if constant:
                state[:, 1] = 0.5
            actions = rng.uniform(-0.8, 0.8, (T, 2)).astype(np.float32)
            if saturated:
                actions[: T // 2, 0] = 1.0
            if outlier and e == 7:
                state[:, [0, 2]] += 6.0  # far from the rest, the constant dimension left alone
            w.add(Episode({"state": state}, actions, success=True))
    return root


def test_warnings_point_at_what_is_wrong_and_stay_quiet_otherwise(tmp_path):
    clean = ViewerApi(_stats_dataset(tmp_path / "clean"))
    status, st = _get(clean, "/api/stats", p="")
    assert status == 200 and st["warnings"] == []
    assert [h["name"] for h in st["histograms"]] == ["action[0]", "action[1]", "state[0]", "state[1]", "state[2]"]
    assert all(sum(h["counts"]) == 12 * 40 for h in st["histograms"])

    status, st = _get(ViewerApi(_stats_dataset(tmp_path / "bad", True, True, True)), "/api/stats", p="")
    kinds = {(w["kind"], w.get("series"), w.get("episode")) for w in st["warnings"]}
    assert ("constant", "state[1]", None) in kinds
    assert ("at_bounds", "action[0]", None) in kinds
    assert ("outlier", None, 7) in kinds
    assert not any(w.get("episode") not in (None, 7) for w in st["warnings"])


def _dagger_folder(root, dataset_src):
    import shutil

    root.mkdir()
    (root / "config.json").write_text(json.dumps({"task": "toy/square", "gate": "hg", "rounds": 1}))
    (root / "rounds.json").write_text(json.dumps([
        {"round": 0, "episodes": 3, "expert_labels": 90, "total_labels": 90, "interventions": 0, "expert_steps": 90,
         "context_switches": 0, "env_steps": 90, "success_rate": 0.5, "successes": 5, "eval_episodes": 10,
         "ci_low": 0.24, "ci_high": 0.76}]))
    shutil.copytree(dataset_src, root / "data")
    return root


def test_kinds_and_their_views(tmp_path, camera_dataset):
    run = _dagger_folder(tmp_path / "dg", camera_dataset)
    rl = tmp_path / "rl"
    rl.mkdir()
    (rl / "curve.csv").write_text("iteration,env_steps,success_rate,mean_return\n1,1000,0.1,-5\n2,2000,0.4,-2\n")
    ev = tmp_path / "eval.json"
    ev.write_text(json.dumps({"who": "x", "task": "t", "episodes": 3, "successes": 1, "success_rate": 1 / 3,
                              "ci_low": 0.06, "ci_high": 0.79, "mean_return": 0, "mean_length": 5, "video": None,
                              "per_episode": [{"seed": s, "success": s == 1, "return": 0, "length": 5} for s in range(3)]}))
    assert [detect_kind(p) for p in (camera_dataset, run, rl, ev, tmp_path)] == ["dataset", "dagger", "rl", "eval", "folder"]

    status, v = _get(ViewerApi(run), "/api/view", p="")
    assert v["rounds"][0]["success_rate"] == 0.5 and v["children"] == [{"name": "data", "path": "data", "kind": "dataset"}]
    assert _get(ViewerApi(run), "/api/episodes", p="data")[1]["rows"][1][0] == 1
    status, v = _get(ViewerApi(rl), "/api/view", p="")
    assert [r["success_rate"] for r in v["curve"]] == [0.1, 0.4]
    status, v = _get(ViewerApi(ev), "/api/view", p="")
    assert [r["success"] for r in v["per_episode"]] == [False, False, True]  # failures first
    status, v = _get(ViewerApi(tmp_path), "/api/view", p="")
    assert {c["kind"] for c in v["children"]} == {"dataset", "dagger", "rl", "eval"}


def test_bad_paths_give_one_line_errors(tmp_path):
    with pytest.raises(ProtegeError, match="no such file or folder"):
        detect_kind(tmp_path / "missing")
    (tmp_path / "notes.txt").write_text("hi")
    with pytest.raises(ProtegeError, match=r"expected a dataset .*found entries \['notes.txt'\]"):
        detect_kind(tmp_path)
    (tmp_path / "other.json").write_text("{\"a\": 1}")
    with pytest.raises(ProtegeError, match="evaluation result"):
        detect_kind(tmp_path / "other.json")
    (tmp_path / "ds" / "episodes").mkdir(parents=True)
    (tmp_path / "ds" / "episodes" / "000000.npz").write_bytes(b"not a zip")
    with pytest.raises(ProtegeError, match="000000.npz"):
        DatasetView(tmp_path / "ds").index()


def test_other_formats_show_the_same_episodes(tmp_path):
    from protege.data.formats import load_any, save_as

    native = _stats_dataset(tmp_path / "native")
    save_as(load_any(native), tmp_path / "demo.hdf5", "robomimic")
    a, b = ViewerApi(native), ViewerApi(tmp_path / "demo.hdf5")
    assert _get(b, "/api/view", p="")[1]["format"] == "robomimic"
    assert _get(a, "/api/episodes", p="")[1]["rows"] == _get(b, "/api/episodes", p="")[1]["rows"]
    ea, eb = _get(a, "/api/episode", p="", i=4)[1], _get(b, "/api/episode", p="", i=4)[1]
    assert [s["values"] for s in ea["series"]] == [s["values"] for s in eb["series"]]
