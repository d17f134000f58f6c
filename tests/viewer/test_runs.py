"""Run folders as the viewer shows them, from what the commands really write: a checkpoint with the loss
history training keeps beside it, an evaluation with every rollout's video (failures first)."""

import json
from pathlib import Path

from protege.viewer import ViewerApi


def _get(api, route, **q):
    status, ctype, body = api.get(route, {k: str(v) for k, v in q.items()})
    return status, (json.loads(body) if ctype == "application/json" else body)


def test_checkpoint_page_carries_the_training_history(trained):
    ck, res = trained
    status, v = _get(ViewerApi(ck), "/api/view", p="")
    assert status == 200 and v["kind"] == "checkpoint"
    assert len(v["history"]) == 60 // 10
    assert v["history"] == json.loads((ck / "history.json").read_text()) == res.history
    assert min(r["val_loss"] for r in v["history"]) == v["best_val_loss"] == res.best_val_loss


def test_evaluation_lists_every_rollout_video_failures_first(evaluated):
    folder, result = evaluated
    api = ViewerApi(folder)
    status, v = _get(api, "/api/view", p="eval.json")
    assert status == 200 and v["kind"] == "eval"
    rows = v["per_episode"]
    assert len(rows) == 6 and all(r["video"] for r in rows)
    ok = [r["success"] for r in rows]
    assert ok == sorted(ok) and ok[0] is False and ok[-1] is True  # failures first
    assert [r["episode"] for r in rows if not r["success"]] == \
        [i for i, r in enumerate(result.results) if not r.success]  # then in episode order
    for r in rows:
        assert r["video"] == f"videos/{Path(result.videos[r['episode']]).name}"
        status, body = _get(api, "/files/" + r["video"])
        assert status == 200 and body[4:8] == b"ftyp"  # an mp4
    assert "videos_missing" not in v


def test_static_file_embeds_every_rollout_video(evaluated, tmp_path):
    from protege.viewer import write_static

    folder, _ = evaluated
    html = write_static(folder, tmp_path / "view.html").read_text()
    blob = json.loads(html.split('<script id="protege-data" type="application/json">', 1)[1].split("</script>", 1)[0]
                      .replace("<\\/", "</"))
    rows = blob["/api/view?p=eval.json"]["per_episode"]
    assert all(blob["/files/" + r["video"]].startswith("data:video/mp4;base64,") for r in rows)
    # served from the result file itself, its videos are the only other files it may serve
    single = ViewerApi(folder / "eval.json")
    _, v1 = _get(single, "/api/view", p="")
    assert _get(single, "/files/" + v1["per_episode"][0]["video"])[0] == 200


def test_videos_outside_the_served_folder_are_reported_not_served(evaluated, tmp_path):
    folder, _ = evaluated
    moved = tmp_path / "elsewhere"
    moved.mkdir()
    (moved / "eval.json").write_bytes((folder / "eval.json").read_bytes())  # the result without its videos
    _, v = _get(ViewerApi(moved), "/api/view", p="eval.json")
    assert all(r["video"] is None for r in v["per_episode"])
    assert v["videos_missing"].startswith("6 of 6 episode videos not found inside the served folder")


def test_dart_run_shows_its_rounds_and_each_rounds_data_and_policy(dart_run):
    from dataclasses import asdict

    folder, result = dart_run
    api = ViewerApi(folder)
    status, v = _get(api, "/api/view", p="")
    assert status == 200 and v["kind"] == "dart"
    assert v["rounds"] == [asdict(r) for r in result.rounds] and v["rounds"][1]["noise"] > 0
    assert v["config"]["task"] == "pendulum" and v["config"]["rounds"] == 2
    assert [(c["name"], c["kind"]) for c in v["children"]] == [
        ("round 0 data", "dataset"), ("round 0 policy", "checkpoint"),
        ("round 1 data", "dataset"), ("round 1 policy", "checkpoint")]
    status, eps = _get(api, "/api/episodes", p="round_1/data")
    assert status == 200 and len(eps["rows"]) == 2
