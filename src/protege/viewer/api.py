"""The viewer's JSON API: one object that answers a route and its query with (status, type, body).

Both the local server (`server.py`) and the self-contained file (`static.py`) go through `ViewerApi.get`,
so the page sees the same data either way. Routes (`p` is a path relative to the served folder, '' the
path given on the command line):

    /api/view?p=              kind and summary of what is at p (a dataset's summary, a run's records ...)
    /api/episodes?p=          a dataset's episode index (COLUMNS and one row per episode)
    /api/episode?p=&i=        one episode: every series, who acted, interventions, labels, cameras
    /api/frames?p=&i=&key=    one camera of one episode as PNG images (base64)
    /api/stats?p=             per-dimension histograms and warnings (reads the whole dataset once)
    /files/<path>             a video or image a run names (mp4, webm, gif, png), nothing else

Every path goes through `Root.resolve`, which refuses anything outside the served folder.
"""

from __future__ import annotations

import json
import math
import threading
from pathlib import Path
from typing import Any, Callable

from protege.errors import ProtegeError, bad_input
from protege.viewer.dataset import COLUMNS, DatasetView
from protege.viewer.kinds import Forbidden, Root, detect_kind

FILE_TYPES = {".mp4": "video/mp4", ".webm": "video/webm", ".gif": "image/gif", ".png": "image/png"}
Response = tuple[int, str, bytes]


def _finite(obj: Any) -> Any:
    """NaN and infinities (a diverged loss, a hand-edited file) as null: JSON has no spelling for them."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite(v) for v in obj]
    return obj


def _json(obj: Any, status: int = 200) -> Response:
    try:
        text = json.dumps(obj, separators=(",", ":"), allow_nan=False)
    except ValueError:
        text = json.dumps(_finite(obj), separators=(",", ":"), allow_nan=False)
    return status, "application/json", text.encode()


def _int(query: dict[str, str], name: str) -> int:
    try:
        return int(query.get(name, ""))
    except ValueError:
        raise bad_input(None, name, "an integer", repr(query.get(name))) from None


class ViewerApi:
    """Answers the routes above for the folder (or file) `path`. Thread-safe; caches each dataset's index."""

    def __init__(self, path: str | Path):
        self.root = Root(path)
        self.kind = detect_kind(path)  # a bad path fails here, in one line, before anything is served
        self._views: dict[str, DatasetView] = {}
        self._stats: dict[str, Any] = {}
        self._lock = threading.Lock()
        self._routes: dict[str, Callable[[dict[str, str]], Any]] = {
            "/api/view": self.view, "/api/episodes": self.episodes, "/api/episode": self.episode,
            "/api/frames": self.frames, "/api/stats": self.stats}

    # --- routes ----------------------------------------------------------------------------------
    def get(self, route: str, query: dict[str, str]) -> Response:
        """(status, content type, body). Input errors are 400 with {"error": one line}; a path outside the
        root is 403; a missing one 404."""
        try:
            if route.startswith("/files/"):
                return self.file(route[len("/files/"):])
            handler = self._routes.get(route)
            if handler is None:
                return _json({"error": f"{route}: no such route"}, 404)
            return _json(handler(query))
        except Forbidden as e:
            return _json({"error": str(e)}, 403)
        except ProtegeError as e:
            status = 404 if "no such file or folder" in str(e) else 400
            return _json({"error": str(e)}, status)

    def view(self, q: dict[str, str]) -> dict[str, Any]:
        from protege.viewer import runs

        rel = q.get("p", "")
        path = self.root.resolve(rel)
        kind = self.kind if rel in ("", ".") else detect_kind(path)
        out: dict[str, Any] = {"kind": kind, "path": rel, "name": path.name or str(path),
                               "title": str(self.root.given if rel in ("", ".") else Path(self.root.given, rel))}
        if kind == "dataset":
            out.update(self.dataset(rel).summary())
        elif kind == "checkpoint":
            out.update(runs.checkpoint_summary(self.root, path))
        elif kind == "dagger":
            out.update(runs.dagger_summary(self.root, path))
        elif kind == "dart":
            out.update(runs.dart_summary(self.root, path))
        elif kind == "rl":
            out.update(runs.rl_summary(self.root, path))
        elif kind == "eval":
            out.update(runs.eval_summary(self.root, path))
        else:
            out.update(runs.folder_summary(self.root, path))
        return out

    def dataset(self, rel: str) -> DatasetView:
        path = self.root.resolve(rel)
        with self._lock:
            view = self._views.get(rel)
            if view is None:
                view = self._views[rel] = DatasetView(path)
        return view

    def episodes(self, q: dict[str, str]) -> dict[str, Any]:
        return {"columns": list(COLUMNS), "rows": self.dataset(q.get("p", "")).index()}

    def episode(self, q: dict[str, str]) -> dict[str, Any]:
        from protege.viewer.payload import episode_payload

        view = self.dataset(q.get("p", ""))
        i = _int(q, "i")
        return episode_payload(view.episode(i), view.spec, i, view.meta.get("task"))

    def frames(self, q: dict[str, str]) -> dict[str, Any]:
        from protege.viewer.payload import frames_payload

        view = self.dataset(q.get("p", ""))
        return frames_payload(view.episode(_int(q, "i")), q.get("key", ""), int(q.get("max", 2000)))

    def stats(self, q: dict[str, str]) -> dict[str, Any]:
        from protege.viewer.statistics import dataset_stats

        rel = q.get("p", "")
        view = self.dataset(rel)
        if rel not in self._stats:
            self._stats[rel] = dataset_stats(view.dataset())
        return self._stats[rel]

    def file(self, rel: str) -> Response:
        path = self.root.resolve(rel)
        kind = FILE_TYPES.get(path.suffix.lower())
        if kind is None or not path.is_file():
            raise Forbidden(f"{rel!r}: expected a video or image ({', '.join(FILE_TYPES)}), found another kind of file")
        return 200, kind, path.read_bytes()
