"""The local web server of `protege view`: the standard library's threading HTTP server, the page's three
files, and `ViewerApi` behind /api and /files. GET only; it binds 127.0.0.1 unless told otherwise.

Videos are served with byte ranges (a browser seeks an mp4 with Range requests).
"""

from __future__ import annotations

import re
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable
from urllib.parse import parse_qsl, unquote, urlsplit

from protege.errors import ProtegeError
from protege.viewer.api import ViewerApi

APP = Path(__file__).parent / "app"
APP_FILES = {"/": ("index.html", "text/html; charset=utf-8"), "/index.html": ("index.html", "text/html; charset=utf-8"),
             "/app.js": ("app.js", "text/javascript; charset=utf-8"), "/app.css": ("app.css", "text/css; charset=utf-8")}
_RANGE = re.compile(r"bytes=(\d*)-(\d*)$")


def page_html() -> str:
    """index.html with the script and style inlined (the same page the static file holds)."""
    html = (APP / "index.html").read_text()
    return (html.replace('<link rel="stylesheet" href="app.css">', f"<style>\n{(APP / 'app.css').read_text()}</style>")
                .replace('<script src="app.js"></script>', f"<script>\n{(APP / 'app.js').read_text()}</script>"))


def make_handler(api: ViewerApi) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "protege-view"
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # quiet: the terminal shows the URL only
            pass

        def _send(self, status: int, ctype: str, body: bytes, extra: dict[str, str] | None = None) -> None:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.send_header("X-Content-Type-Options", "nosniff")
            for k, v in (extra or {}).items():
                self.send_header(k, v)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def do_HEAD(self) -> None:
            self.do_GET()

        def do_GET(self) -> None:
            url = urlsplit(self.path)
            route = unquote(url.path)
            query = dict(parse_qsl(url.query, keep_blank_values=True))
            if route in APP_FILES:
                name, ctype = APP_FILES[route]
                self._send(200, ctype, (APP / name).read_bytes())
                return
            try:
                status, ctype, body = api.get(route, query)
            except Exception as e:  # a bug must not kill the server: the page shows the one line
                status, ctype = 500, "application/json"
                body = ('{"error": "internal: %s"}' % type(e).__name__).encode()
            extra = {}
            if status == 200 and route.startswith("/files/"):
                extra["Accept-Ranges"] = "bytes"
                m = _RANGE.match(self.headers.get("Range", ""))
                if m and (m.group(1) or m.group(2)):
                    n = len(body)
                    start = int(m.group(1)) if m.group(1) else max(0, n - int(m.group(2)))
                    end = min(int(m.group(2)), n - 1) if m.group(1) and m.group(2) else n - 1
                    if start >= n or start > end:
                        self._send(416, "text/plain", b"", {"Content-Range": f"bytes */{n}"})
                        return
                    status, body = 206, body[start:end + 1]
                    extra["Content-Range"] = f"bytes {start}-{end}/{n}"
            self._send(status, ctype, body, extra)

    return Handler


class ViewerServer:
    """A running viewer. `url` is where the page is; `close()` stops it. Port 0 picks a free port."""

    def __init__(self, path: str | Path, host: str = "127.0.0.1", port: int = 8765, warm: bool = True):
        """warm: build a dataset's episode index before serving, so a damaged dataset fails here in one line
        and the page's first request is answered from memory."""
        self.api = ViewerApi(path)
        if warm and self.api.kind == "dataset":
            self.api.dataset("").index()
        try:
            self.httpd = ThreadingHTTPServer((host, port), make_handler(self.api))
        except OSError as e:
            raise ProtegeError(f"--port {port}: expected a free port on {host}, found {type(e).__name__}: "
                               f"{e.strerror or e} (choose another --port, or 0 for any free one)") from None
        self.httpd.daemon_threads = True
        h, p = self.httpd.server_address[:2]
        self.url = f"http://{'[' + h + ']' if ':' in str(h) else h}:{p}/"
        self._thread: threading.Thread | None = None

    def start(self) -> "ViewerServer":
        """Serve on a background thread (tests, notebooks)."""
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self._thread.start()
        return self

    def serve_forever(self, on_ready: Callable[[str], None] | None = None) -> None:
        if on_ready is not None:
            on_ready(self.url)
        try:
            self.httpd.serve_forever()
        finally:
            self.httpd.server_close()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def __enter__(self) -> "ViewerServer":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.close()


def serve(path: str | Path, host: str = "127.0.0.1", port: int = 8765) -> None:
    """Serve the viewer for `path` until interrupted (Ctrl-C)."""
    server = ViewerServer(path, host, port)
    server.serve_forever(lambda url: print(f"protege view: {path} at {url} (Ctrl-C stops)", file=sys.stdout, flush=True))
