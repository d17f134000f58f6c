"""Read a few small arrays of a native episode file fast, for the episode list of a large dataset.

`np.load` spends most of its time parsing each member's header with `ast.literal_eval` and walking the zip
with Python's `zipfile`; for the episode list only `success`, `source`, `intervened`, `label_mask`,
`rewards`, `info` and the shape of `actions` are needed. This reads the zip's central directory and those
members' bytes with a handful of `pread`s, and parses the .npy headers with a regular expression.

It handles exactly what `np.savez` writes (stored members, plain little-endian dtypes, C order). Anything
else (a compressed member, zip64 offsets, an unusual header), and any size that does not add up, returns
None, and the caller falls back to the checked reader of `protege.data.native`. Nothing is allocated from
a size a header claims before it is checked against the bytes the archive holds.
"""

from __future__ import annotations

import os
import re
import struct
from pathlib import Path

import numpy as np

_EOCD = struct.Struct("<4s4H2LH")
_CENTRAL = struct.Struct("<4s4B4HL2L5H2L")
_LOCAL = struct.Struct("<4s2B4HL2L2H")
_HEADER = re.compile(r"""\{'descr':\s*'([<>|=][a-zA-Z]\d*)',\s*'fortran_order':\s*(True|False),\s*'shape':\s*\(([\d,\s]*)\),?\s*\}""")


def _members(fd: int, size: int) -> dict[str, tuple[int, int, int]] | None:
    """name -> (local header offset, stored size, compression) from the central directory."""
    tail_len = min(size, 22 + 65535)
    tail = os.pread(fd, tail_len, size - tail_len)
    at = tail.rfind(b"PK\x05\x06")
    if at < 0 or at + 22 > len(tail):
        return None
    _, _, _, _, count, cd_size, cd_offset, _ = _EOCD.unpack_from(tail, at)
    if cd_offset == 0xFFFFFFFF or cd_offset + cd_size > size:
        return None
    cd = os.pread(fd, cd_size, cd_offset)
    out, pos = {}, 0
    for _ in range(count):
        if pos + 46 > len(cd):
            return None
        f = _CENTRAL.unpack_from(cd, pos)
        if f[0] != b"PK\x01\x02":
            return None
        compress, csize, name_len, extra_len, comment_len, offset = f[6], f[10], f[12], f[13], f[14], f[18]
        name = cd[pos + 46:pos + 46 + name_len].decode("utf-8", "replace")
        if csize == 0xFFFFFFFF or offset == 0xFFFFFFFF:
            return None
        out[name] = (offset, csize, compress)
        pos += 46 + name_len + extra_len + comment_len
    return out


def _array(fd: int, size: int, member: tuple[int, int, int], header_only: bool = False) -> np.ndarray | tuple | None:
    offset, csize, compress = member
    if compress != 0 or offset + 30 > size:
        return None
    local = _LOCAL.unpack(os.pread(fd, 30, offset))
    if local[0] != b"PK\x03\x04":
        return None
    start = offset + 30 + local[10] + local[11]
    if start + csize > size:
        return None
    head = os.pread(fd, min(csize, 4096), start)
    if head[:6] != b"\x93NUMPY" or len(head) < 12:
        return None
    major = head[6]
    hlen, hstart = (struct.unpack_from("<H", head, 8)[0], 10) if major == 1 else (struct.unpack_from("<I", head, 8)[0], 12)
    m = _HEADER.match(head[hstart:hstart + hlen].decode("latin1").strip())
    if m is None or m.group(2) == "True":
        return None
    shape = tuple(int(s) for s in m.group(3).replace(" ", "").split(",") if s)
    dtype = np.dtype(m.group(1))
    if dtype.hasobject:
        return None
    count = int(np.prod(shape, dtype=np.int64)) if shape else 1
    if hstart + hlen + count * dtype.itemsize != csize:  # the header's claim against the stored bytes
        return None
    if header_only:
        return shape
    data = head[hstart + hlen:csize] if csize <= len(head) else os.pread(fd, csize - hstart - hlen, start + hstart + hlen)
    return np.frombuffer(data, dtype, count=count).reshape(shape)


def read_small(path: Path, keys: tuple[str, ...]) -> tuple[tuple, dict[str, np.ndarray], set[str]] | None:
    """(shape of `actions`, {key: array} for the `keys` present, every member name), or None when the file
    is not plainly what np.savez writes (the caller then uses the checked reader)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        size = os.fstat(fd).st_size
        members = _members(fd, size)
        if members is None or "actions.npy" not in members:
            return None
        shape = _array(fd, size, members["actions.npy"], header_only=True)
        if shape is None:
            return None
        small = {}
        for key in keys:
            if key + ".npy" in members:
                arr = _array(fd, size, members[key + ".npy"])
                if arr is None:
                    return None
                small[key] = arr
        return shape, small, {n[:-4] for n in members if n.endswith(".npy")}  # type: ignore[return-value]
    except (OSError, struct.error, ValueError, TypeError):
        return None
    finally:
        os.close(fd)
