"""`protege teleop` driven through a real terminal (a pseudo-terminal): keys in, an episode on disk."""

import os
import select
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from protege.data import load_dataset

pty = pytest.importorskip("pty")


def _read_until(fd, text: bytes, timeout: float) -> bytes:
    out, end = b"", time.time() + timeout
    while text not in out and time.time() < end:
        if select.select([fd], [], [], 0.05)[0]:
            try:
                out += os.read(fd, 4096)
            except OSError:
                break
    return out


def test_keyboard_session_in_a_terminal(tmp_path):
    exe = Path(sys.executable).parent / "protege"
    pid, fd = pty.fork()
    if pid == 0:  # the child: protege teleop with the pseudo-terminal as its stdin
        os.execv(str(exe), [str(exe), "teleop", "--task", "pendulum", "--out", str(tmp_path / "ds"), "--view", "none"])
    try:
        assert b"keys: b start" in _read_until(fd, b"keys: b start", 120)
        os.write(fd, b"b")
        _read_until(fd, b"\x00", 0.3)
        for _ in range(8):  # hold 'd': a terminal sends repeats
            os.write(fd, b"d")
            _read_until(fd, b"\x00", 0.05)
        _read_until(fd, b"\x00", 0.8)  # released
        os.write(fd, b"n")
        _read_until(fd, b"\x00", 0.3)
        os.write(fd, b"q")
        out = _read_until(fd, b"dataset in", 30)
    finally:
        _, status = os.waitpid(pid, 0)
    assert os.WEXITSTATUS(status) == 0, out
    ep = load_dataset(tmp_path / "ds").episodes[0]
    torque = ep.actions[:, 0]
    assert set(np.unique(torque)) <= {0.0, 1.0} and (torque == 1.0).sum() >= 5  # 'd' = +x at speed 0.5 of 2 N m
    assert torque[-1] == 0.0  # the key was released before the stop
