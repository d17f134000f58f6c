"""Helpers shared by the verbs: printing, JSON output, checking output paths before the work starts."""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

from protege.errors import ProtegeError


def say(msg: str = "") -> None:
    print(msg, file=sys.stdout, flush=True)


def write_json_file(path: str | Path, obj: Any) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj, indent=2) + "\n")


def check_writable_dir(path: str | Path, flag: str) -> None:
    """Refuse, in one line, an output folder that cannot be written, before any work starts.

    A verb that trains for an hour or evaluates 50 episodes must not fail only when it saves. This creates
    `path` (and missing parents) and a probe file in it, then removes both again, so a run that fails later
    for another reason leaves nothing behind. `flag` names the option in the message (e.g. "--out").
    """
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise ProtegeError(f"{flag} {path}: expected a folder, found a file")
    created = []  # folders this check makes, removed again (deepest first)
    for p in reversed([path, *path.parents]):
        if not p.exists():
            created.append(p)
    try:
        for p in created:
            p.mkdir()
        fd, probe = tempfile.mkstemp(prefix=".protege-write-probe-", dir=path)
        os.close(fd)
        os.unlink(probe)
    except OSError as e:
        blocker = next((p for p in path.parents if p.exists() and not p.is_dir()), None)
        found = f"{blocker} is a file" if blocker is not None else f"{type(e).__name__}: {e.strerror or e}"
        raise ProtegeError(f"{flag} {path}: expected a writable folder, found {found}") from None
    finally:
        for p in reversed(created):
            try:
                p.rmdir()
            except OSError:
                pass


def check_writable_file(path: str | Path, flag: str) -> None:
    """Refuse, in one line, an output file that cannot be written (a folder, or in an unwritable folder)."""
    path = Path(path)
    if path.is_dir():
        raise ProtegeError(f"{flag} {path}: expected a file, found a folder")
    check_writable_dir(path.parent, flag)
    if path.exists():
        try:
            with open(path, "ab"):  # appends nothing: only asks whether the file may be written
                pass
        except OSError as e:
            raise ProtegeError(f"{flag} {path}: expected a writable file, found {type(e).__name__}: "
                               f"{e.strerror or e}") from None


def with_policy_config(base: type, argv: list[str], default: str = "mlp") -> type:
    """`base` (a verb's Args) plus a field named after the head `--policy NAME` chooses in `argv` (`default`
    when absent) holding that head's config, so its options appear as --NAME.*; `base` itself for an unknown
    head (the verb then refuses the name in one line)."""
    import dataclasses

    from protege.policies import POLICIES

    name = next((argv[i + 1] for i, a in enumerate(argv[:-1]) if a == "--policy"),
                next((a.split("=", 1)[1] for a in argv if a.startswith("--policy=")), default))
    if name not in POLICIES:
        return base
    config_cls = POLICIES[name][0]
    return dataclasses.make_dataclass("Args", [(name, config_cls, dataclasses.field(default_factory=config_cls))],
                                      bases=(base,))
