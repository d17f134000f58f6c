"""Crash-safe writes: files and whole folders appear complete or not at all, and one writer at a time.

- `write_json` / `atomic_write_bytes`: a file written under a temporary name, synced, then renamed.
- `staged_folder(path)`: fill a staging folder beside `path`, then swap it in with renames. A kill at any
  moment leaves `path` whole: the old version, the new one, or (between the two renames) the old one
  under its aside name, which `recover_folder` / `existing_folder` find again.
- `FolderLock(path)`: an exclusive `flock` on a lock file in `path`, so two processes never write one
  folder at once (the staging and aside names are fixed, and only the lock holder touches them).

Nothing here knows about datasets or checkpoints.
"""

from __future__ import annotations

import json
import os
import shutil
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator

from protege.errors import ProtegeError, bad_input


def atomic_write_bytes(path: Path, write: Callable[[Any], Any]) -> None:
    """Write a file by calling `write(f)` on a temporary sibling, syncing it, then renaming it over `path`."""
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "wb") as f:
        write(f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def write_json(path: Path, obj: Any) -> None:
    """Write JSON atomically (temporary file + rename)."""
    data = json.dumps(obj, indent=2).encode()
    atomic_write_bytes(Path(path), lambda f: f.write(data))


def _sibling(path: Path, what: str) -> Path:
    return path.with_name(f".{path.name}.{what}")


def aside_path(path: str | Path) -> Path:
    """Where `staged_folder` keeps the previous version of `path` for the moment between its two renames."""
    return _sibling(Path(path), "old")


def existing_folder(path: str | Path) -> Path:
    """`path`, or its aside copy when a crash came between the two renames of a swap (read-only recovery)."""
    path = Path(path)
    aside = aside_path(path)
    return aside if not path.exists() and aside.is_dir() else path


def recover_folder(path: str | Path) -> None:
    """Put an aside copy back at `path` when a crash left `path` missing (call while holding the lock)."""
    path = Path(path)
    aside = aside_path(path)
    if not path.exists() and aside.is_dir():
        os.replace(aside, path)


def _fsync_tree(folder: Path) -> None:
    for p in folder.rglob("*"):
        if p.is_file() and not p.is_symlink():
            fd = os.open(p, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)


def commit_folder(stage: Path, path: Path) -> None:
    """Swap the complete folder `stage` in at `path`: old aside, new in, old deleted."""
    aside = aside_path(path)
    _fsync_tree(stage)
    if aside.exists():
        shutil.rmtree(aside, ignore_errors=True)
    if path.exists():
        os.replace(path, aside)
    os.replace(stage, path)
    if aside.exists():
        shutil.rmtree(aside, ignore_errors=True)


def carry_over(old: Path, new: Path, skip: tuple[str, ...]) -> None:
    """Hard-link (or copy) the entries of `old` not named in `skip` (nor hidden) into `new`, so swapping in
    a new version of a folder replaces only what the writer owns."""
    if not old.is_dir():
        return
    for p in old.iterdir():
        if p.name in skip or p.name.startswith(".") or (new / p.name).exists():
            continue
        if p.is_dir():
            shutil.copytree(p, new / p.name, copy_function=_link_or_copy)
        else:
            _link_or_copy(str(p), str(new / p.name))


def _link_or_copy(src: str, dst: str) -> None:
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def start_stage(path: Path) -> Path:
    """A fresh, empty staging folder beside `path` (any leftover of a killed writer removed first)."""
    stage = _sibling(path, "new")
    if stage.exists():
        shutil.rmtree(stage)
    stage.mkdir(parents=True)
    return stage


@contextmanager
def staged_folder(path: str | Path) -> Iterator[Path]:
    """Yield an empty staging folder; on a normal exit it replaces `path`, on an exception it is removed."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise bad_input(path.parent, None, "a writable folder", f"{type(e).__name__}: {e}") from None
    recover_folder(path)
    stage = start_stage(path)
    try:
        yield stage
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise
    commit_folder(stage, path)


LOCK_NAME = ".lock"


class FolderLock:
    """Hold an exclusive lock on folder `path` (a `.lock` file inside it, created with the folder) while
    writing it.

    Non-blocking: a second writer is refused at once with one line naming the holder's pid. The lock is
    released by `release()`, or by the operating system when the process ends, however it ends. The lock
    file stays (removing it would let two writers lock two different files); readers ignore hidden files.
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._files: list[Any] = []
        try:
            recover_folder(self.path)  # the lock file lives in the folder: bring back an aside copy first
        except FileNotFoundError:
            pass  # another process recovered it at the same moment
        self.extend_to(self.path)

    def extend_to(self, folder: Path) -> None:
        """Also lock `folder` (e.g. a staging folder about to be renamed to `path`), so that no writer can
        slip in between the swap and the release."""
        import fcntl

        lock_path = folder / LOCK_NAME
        try:
            folder.mkdir(parents=True, exist_ok=True)
            f = open(lock_path, "a+")
        except OSError as e:
            raise bad_input(folder, None, "a writable folder", f"{type(e).__name__}: {e}") from None
        try:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            f.seek(0)
            holder = f.read().strip() or "unknown"
            f.close()
            raise ProtegeError(f"{self.path}: is being written by another process (pid {holder})") from None
        f.seek(0)
        f.truncate()
        f.write(str(os.getpid()))
        f.flush()
        self._files.append(f)

    def release(self) -> None:
        for f in self._files:
            f.close()  # closing the descriptor releases the flock
        self._files = []

    def __enter__(self) -> "FolderLock":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.release()
