"""What a path given to `protege view` holds, decided from the files on disk, and which paths may be served.

Kinds: "dataset" (any format `load_any` reads), "checkpoint" (config.json of a protege checkpoint),
"dagger" (a run folder with rounds.json), "dart" (a `protege dart` run folder with dart.json), "rl" (an
RL/DAPG run folder with curve.csv or iterations/),
"eval" (the JSON `protege eval --json` writes) and "folder" (a folder holding any of these one level down).
Detection reads file names and at most one small JSON file; it never loads a dataset.

`Root` is the one place that turns a path asked for by the browser into a file: anything that resolves
outside the folder `protege view` was given (`..`, absolute paths, symbolic links) is refused.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from protege.errors import ProtegeError, bad_input

KINDS = ("dataset", "checkpoint", "dagger", "dart", "rl", "eval", "folder")
EXPECTED = ("a dataset (protege, LeRobot, Minari folder or robomimic .hdf5), a checkpoint, a DAgger, DART or "
            "RL/DAPG run folder, or an evaluation .json")


class Forbidden(ProtegeError):
    """A requested path outside the served folder (answered 403, never read)."""


def read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise bad_input(path, None, "valid JSON", f"malformed JSON ({e.msg} at line {e.lineno})") from None
    except OSError as e:
        raise bad_input(path, None, "a readable file", f"{type(e).__name__}: {e.strerror or e}") from None


def is_eval_json(obj: Any) -> bool:
    return isinstance(obj, dict) and "per_episode" in obj and "success_rate" in obj


def _kind_of_dir(path: Path) -> str | None:
    config = path / "config.json"
    if config.is_file():
        try:
            cfg = json.loads(config.read_text())
        except (OSError, json.JSONDecodeError):
            cfg = None
        if isinstance(cfg, dict) and cfg.get("format") == "protege-checkpoint":
            return "checkpoint"
    if (path / "rounds.json").is_file() or (config.is_file() and (path / "rounds").is_dir()):
        return "dagger"
    if (path / "dart.json").is_file():
        return "dart"
    if (path / "curve.csv").is_file() or (path / "iterations").is_dir():
        return "rl"
    from protege.data.formats.detect import detect_format

    try:
        detect_format(path)
        return "dataset"
    except ProtegeError:
        return None


def kind_of(path: Path) -> str | None:
    """The kind at `path`, or None when it is none of them (no error: used to list a folder's children)."""
    if path.is_dir():
        return _kind_of_dir(path)
    if path.suffix.lower() == ".json" and path.is_file() and path.stat().st_size < 50_000_000:
        try:
            return "eval" if is_eval_json(json.loads(path.read_text())) else None
        except (OSError, json.JSONDecodeError, UnicodeDecodeError):
            return None
    from protege.data.formats.detect import HDF5_SUFFIXES

    if path.suffix.lower() in HDF5_SUFFIXES and path.is_file():
        return "dataset"
    return None


def children(path: Path) -> list[tuple[str, str]]:
    """(name, kind) of the entries of folder `path` that the viewer shows, sorted by name."""
    out = []
    for p in sorted(path.iterdir()):
        if p.name.startswith("."):
            continue
        kind = kind_of(p)
        if kind is not None:
            out.append((p.name, kind))
    return out


def detect_kind(path: str | Path) -> str:
    """The kind at `path`, or the one-line error every command gives for a bad path."""
    path = Path(path)
    if not path.exists():
        raise bad_input(path, None, EXPECTED, "no such file or folder")
    if path.is_file():
        if path.suffix.lower() == ".json":
            obj = read_json(path)
            if not is_eval_json(obj):
                keys = sorted(obj)[:8] if isinstance(obj, dict) else type(obj).__name__
                raise bad_input(path, None, "an evaluation result (`protege eval --json`: success_rate, per_episode)",
                                f"keys {keys}")
            return "eval"
        from protege.data.formats.detect import detect_format

        detect_format(path)  # the dataset readers' own one-line error for other files
        return "dataset"
    kind = _kind_of_dir(path)
    if kind is not None:
        return kind
    if children(path):
        return "folder"
    listing = sorted(p.name for p in path.iterdir() if not p.name.startswith("."))[:8]
    raise bad_input(path, None, EXPECTED, f"entries {listing}")


class Root:
    """The folder being served. `resolve(rel)` maps a browser's path to a file inside it or refuses.

    Given a file (an evaluation .json, a robomimic .hdf5), the served set is that file and the files
    it names (`allow`), nothing else of the folder it lies in."""

    def __init__(self, path: str | Path):
        self.given = Path(path)
        self.path = self.given.resolve()
        self.is_file = self.path.is_file()
        self.folder = self.path.parent if self.is_file else self.path
        self._allowed: set[Path] = {self.path} if self.is_file else set()

    def allow(self, path: Path) -> None:
        """Let a file named by the served one (an evaluation's video) be served when the root is a file."""
        self._allowed.add(path.resolve())

    def resolve(self, rel: str) -> Path:
        """`rel` (relative, '/'-separated; '' = the given path) -> an existing path inside the root."""
        if rel in ("", "."):
            return self.path
        if "\x00" in rel or rel.startswith(("/", "\\")) or (len(rel) > 1 and rel[1] == ":"):
            raise Forbidden(f"{rel!r}: expected a path inside {self.given}, found an absolute path")
        target = (self.folder / rel).resolve()  # follows symbolic links: a link out of the folder is refused
        if not target.is_relative_to(self.folder):
            raise Forbidden(f"{rel!r}: expected a path inside {self.given}, found one outside it")
        if self.is_file and target not in self._allowed:
            raise Forbidden(f"{rel!r}: expected {self.given.name} or a file it names, found another file")
        if not target.exists():
            raise bad_input(target, None, "an existing file or folder", "no such file or folder")
        return target

    def rel(self, path: Path) -> str | None:
        """`path` relative to the root's folder ('/'-separated), or None when it lies outside."""
        p = path.resolve()
        if not p.is_relative_to(self.folder):
            return None
        return p.relative_to(self.folder).as_posix() if p != self.folder else ""
