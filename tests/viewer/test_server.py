"""The server: what it refuses (anything outside its folder), byte ranges, the CLI's errors, the exports."""

import http.client
import json
import sys

import pytest

from protege.viewer import ViewerServer, write_static


def _request(server, path, headers=None):
    host, port = server.httpd.server_address[:2]
    conn = http.client.HTTPConnection(host, port, timeout=10)
    conn.request("GET", path, headers=headers or {})  # sent as written: no client-side normalisation of ".."
    r = conn.getresponse()
    body = r.read()
    conn.close()
    return r.status, dict(r.getheaders()), body


def test_binds_loopback_and_refuses_paths_outside_its_folder(tmp_path, camera_dataset):
    secret = tmp_path / "secret.png"
    secret.write_bytes(b"\x89PNG TOPSECRET-CONTENT")
    (camera_dataset / "clip.mp4").write_bytes(bytes(range(256)) * 4)
    (camera_dataset / "escape").symlink_to(tmp_path)
    with ViewerServer(camera_dataset, port=0) as server:
        assert server.httpd.server_address[0] == "127.0.0.1"
        for path in ["/files/../secret.png", "/files/%2e%2e/secret.png", "/files/..%2fsecret.png",
                     "/files/escape/secret.png", "/files//etc/passwd", "/files/%2Fetc%2Fpasswd",
                     "/api/view?p=..", "/api/view?p=/etc", "/api/episodes?p=../", "/api/view?p=escape",
                     "/files/meta.json", "/../../etc/passwd"]:
            status, _, body = _request(server, path)
            assert status in (403, 404), (path, status)
            assert b"TOPSECRET-CONTENT" not in body and b"root:" not in body
        status, _, _ = _request(server, "/files/missing.mp4")
        assert status == 404
        # inside the folder, a video is served, in byte ranges for seeking
        status, headers, body = _request(server, "/files/clip.mp4", {"Range": "bytes=10-19"})
        assert status == 206 and body == bytes(range(10, 20)) and headers["Content-Range"] == "bytes 10-19/1024"
        status, _, body = _request(server, "/api/episodes?p=")
        assert status == 200 and len(json.loads(body)["rows"]) == 3


def test_a_file_root_serves_that_file_only(tmp_path):
    (tmp_path / "other.mp4").write_bytes(b"x" * 10)
    ev = tmp_path / "eval.json"
    ev.write_text(json.dumps({"episodes": 1, "successes": 1, "success_rate": 1.0, "ci_low": 0.2, "ci_high": 1.0,
                              "per_episode": [{"seed": 0, "success": True, "return": 1.0, "length": 3}], "video": None}))
    with ViewerServer(ev, port=0) as server:
        assert json.loads(_request(server, "/api/view?p=")[2])["kind"] == "eval"
        assert _request(server, "/files/other.mp4")[0] == 403


def test_cli_bad_paths_and_missing_rerun_are_one_line(tmp_path, camera_dataset, capsys, monkeypatch):
    from protege.cli import main

    assert main(["view", str(tmp_path / "nope")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "nope: expected a dataset" in err and "no such file or folder" in err
    broken = tmp_path / "broken" / "episodes"
    broken.mkdir(parents=True)
    (broken / "000000.npz").write_bytes(b"garbage")
    assert main(["view", str(tmp_path / "broken"), "--port", "0"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "000000.npz" in err
    monkeypatch.setitem(sys.modules, "rerun", None)  # as if rerun-sdk were not installed
    assert main(["view", str(camera_dataset), "--rerun", str(tmp_path / "x.rrd")]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "error: --rerun: expected the rerun-sdk package (pip install 'protege[rerun]' or pip install " \
                  "rerun-sdk), found it not installed"
    assert not (tmp_path / "x.rrd").exists()


def test_static_file_holds_the_page_and_its_data(tmp_path, camera_dataset):
    out = write_static(camera_dataset, tmp_path / "view.html", max_episodes=2, max_frames=10)
    html = out.read_text()
    assert "http://" not in html.replace("http://www.w3.org", "")  # nothing to fetch: it works offline
    blob = html.split('<script id="protege-data" type="application/json">', 1)[1].split("</script>", 1)[0]
    data = json.loads(blob.replace("<\\/", "</"))
    assert len(data["/api/episodes?p="]["rows"]) == 3  # the list shows every episode
    assert "/api/episode?i=1&p=" in data and "/api/episode?i=2&p=" not in data  # two included whole
    assert len(data["/api/frames?i=0&key=front&p="]["png"]) == 10
    assert data["/api/stats?p="]["histograms"]


def test_rerun_recording_holds_every_series_and_frame(tmp_path, camera_dataset):
    rr = pytest.importorskip("rerun", reason="rerun-sdk not installed (the optional [rerun] extra)")
    from protege.viewer import write_rerun

    out = write_rerun(camera_dataset, tmp_path / "cams.rrd", max_episodes=2)
    rows = {}
    for chunk in rr.chunk.RrdReader(out).stream():
        rows[chunk.entity_path] = rows.get(chunk.entity_path, 0) + chunk.num_rows
    assert rows["/episodes/0001/camera/front"] == 30
    assert rows["/episodes/0000/action/1"] == 30 and rows["/episodes/0000/label/0"] == 10
    assert rows["/episodes/0000/state/2"] == 30 and rows["/episodes/0000/intervened"] == 30
    assert not any(p.startswith("/episodes/0002") for p in rows)
