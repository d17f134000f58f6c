"""`protege view --static OUT.html`: the same page as one self-contained file to share.

The page's API answers are computed once (through the same `ViewerApi`) and embedded as JSON; videos and
camera frames as base64. To keep the file a size one can mail, only the first `max_episodes` episodes of
each dataset are included whole (the list shows them all) and each camera is subsampled to at most
`max_frames` frames. Written to a temporary name and renamed.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

from protege.data.atomic import atomic_write_bytes
from protege.progress import Progress, bar
from protege.viewer.api import ViewerApi
from protege.viewer.server import page_html

MAX_VIDEO_BYTES = 64 * 2**20  # a larger video is left out (the page says so) rather than bloating the file


def _key(route: str, params: dict[str, Any]) -> str:
    """The page's `apiKey` (app.js): route?k=v&... with sorted keys, values unencoded."""
    return route + "?" + "&".join(f"{k}={params[k]}" for k in sorted(params))


def collect(api: ViewerApi, max_episodes: int = 50, max_frames: int = 200,
            progress: Progress | None = None) -> dict[str, Any]:
    """Every API answer the page asks for, starting from the given path and following its children."""
    data: dict[str, Any] = {}

    def get(route: str, **params: Any) -> Any:
        status, _, body = api.get(route, {k: str(v) for k, v in params.items()})
        obj = json.loads(body)
        data[_key(route, params)] = obj
        return obj if status == 200 else None

    todo, seen = [""], set()
    while todo:
        p = todo.pop(0)
        if p in seen:
            continue
        seen.add(p)
        view = get("/api/view", p=p)
        if view is None:
            continue
        todo += [c["path"] for c in view.get("children") or []]
        if view["kind"] == "eval":
            if (view.get("video") or {}).get("path"):
                _embed_file(api, data, view["video"]["path"])
            for r in view.get("per_episode") or []:  # every rollout's own video (eval --videos)
                if r.get("video"):
                    _embed_file(api, data, r["video"])
        if view["kind"] != "dataset":
            continue
        index = get("/api/episodes", p=p)
        get("/api/stats", p=p)
        n = min(len(index["rows"]) if index else 0, max_episodes)
        b = bar(progress, f"static {p or api.root.given}", n, "ep")
        for i in range(n):
            ep = get("/api/episode", p=p, i=i)
            for key in (ep or {}).get("cameras", {}):
                status, _, body = api.get("/api/frames", {"p": p, "i": str(i), "key": key, "max": str(max_frames)})
                data[_key("/api/frames", {"p": p, "i": i, "key": key})] = json.loads(body)
            b.update(1)
        b.close()
    return data


def _embed_file(api: ViewerApi, data: dict[str, Any], rel: str) -> None:
    status, ctype, body = api.get("/files/" + rel, {})
    if status == 200 and len(body) <= MAX_VIDEO_BYTES:
        data["/files/" + rel] = f"data:{ctype};base64," + base64.b64encode(body).decode("ascii")


def write_static(path: str | Path, out: str | Path, max_episodes: int = 50, max_frames: int = 200,
                 progress: Progress | None = None) -> Path:
    """Write the viewer of `path` as one HTML file at `out`; returns `out`."""
    api = ViewerApi(path)
    data = collect(api, max_episodes, max_frames, progress)
    # "</" inside a <script> would end it early; JSON allows "<\/" for the same string
    blob = json.dumps(data, separators=(",", ":"), ensure_ascii=False).replace("</", "<\\/")
    html = page_html().replace("<script>", f'<script id="protege-data" type="application/json">{blob}</script>\n<script>', 1)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(out, lambda f: f.write(html.encode("utf-8")))
    return out
