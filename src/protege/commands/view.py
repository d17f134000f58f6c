"""Look at a dataset or a run in the browser (episodes, cameras, plots, statistics, learning curves, evaluations)."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import tyro

from protege.commands._common import check_writable_file, say
from protege.errors import ProtegeError
from protege.progress import TqdmProgress


@dataclass
class Args:
    path: Annotated[Path, tyro.conf.Positional, tyro.conf.arg(metavar="PATH")]
    """A dataset (protege, LeRobot or Minari folder, robomimic .hdf5), a checkpoint, a DAgger or RL/DAPG run
    folder, an evaluation .json, or a folder holding some of these."""
    port: int = 8765
    """Port of the local web server (0 = any free port)."""
    host: str = "127.0.0.1"
    """Address to bind. The default serves this computer only; another address shows your data to the network."""
    static: Path | None = None
    """Write the page as one self-contained .html file here instead of serving it."""
    rerun: Path | None = None
    """Write a Rerun recording (.rrd) here instead of serving (needs rerun-sdk: pip install 'protege[rerun]')."""
    episodes: int = 50
    """Episodes per dataset included whole in --static / --rerun (the episode list always shows every one)."""
    frames: int = 200
    """Camera frames per episode kept in --static (evenly subsampled beyond that)."""
    open: bool = False
    """Open the page in the default web browser."""


def run(args: Args) -> int:
    if args.static is not None and args.rerun is not None:
        raise ProtegeError("view: expected at most one of --static and --rerun, found both")
    if args.episodes < 0 or args.frames < 1:
        raise ProtegeError(f"--episodes/--frames: expected >= 0 and >= 1, found {args.episodes} and {args.frames}")
    if args.static is not None:
        from protege.viewer.static import write_static

        check_writable_file(args.static, "--static")
        out = write_static(args.path, args.static, args.episodes, args.frames, progress=TqdmProgress())
        say(f"wrote {out} ({out.stat().st_size / 2**20:.1f} MiB): open it in any browser")
        return 0
    if args.rerun is not None:
        from protege.viewer.rerun_export import import_rerun, write_rerun

        import_rerun()  # a missing extra fails before any work
        check_writable_file(args.rerun, "--rerun")
        out = write_rerun(args.path, args.rerun, args.episodes, progress=TqdmProgress())
        say(f"wrote {out}: open it with `rerun {out}`")
        return 0
    if not 0 <= args.port <= 65535:
        raise ProtegeError(f"--port: expected 0..65535, found {args.port}")
    from protege.viewer.server import ViewerServer

    server = ViewerServer(args.path, args.host, args.port)
    if not _is_loopback(args.host):
        say(f"warning: --host {args.host} serves {args.path} to every computer that can reach this one")

    def ready(url: str) -> None:
        say(f"protege view: {args.path} at {url} (Ctrl-C stops)")
        if args.open:
            import webbrowser

            webbrowser.open(url)

    server.serve_forever(ready)
    return 0


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"
