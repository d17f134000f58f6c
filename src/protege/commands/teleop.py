"""Record demonstrations (or interventions on a policy) with a person at a keyboard, gamepad or SpaceMouse."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from protege.commands._common import say
from protege.errors import ProtegeError
from protege.progress import TqdmProgress

KEYS_HELP = ("keys: b start, n stop+keep, x discard, y mark success, t take over/hand back, g gripper, q quit; "
             "move: d/a x, w/s y, r/f z")


@dataclass
class Args:
    task: str
    """Task name (see `protege tasks`)."""
    out: Path
    """Dataset folder to create."""
    device: Literal["keyboard", "gamepad", "spacemouse"] = "keyboard"
    """Input device."""
    profile: Path | None = None
    """Device profile JSON (dead zone, speed scale, per-axis signs, axis map); default: one for the task."""
    save_profile: Path | None = None
    """Write the profile in use here (a starting point to edit), then continue."""
    intervene: Path | None = None
    """Checkpoint of a policy that drives while the person watches, takes over and hands back (HG-DAgger)."""
    takeover_on_motion: bool = False
    """With --intervene: moving the device also takes over (besides the take-over key/button)."""
    kinesthetic: bool = False
    """Kinesthetic mode: the robot is moved by hand and actions are inferred from its observed motion; on the
    simulated robot the task's scripted expert stands in for the hand (needs --episodes)."""
    episodes: int = 0
    """Stop after this many kept episodes (0 = until you quit)."""
    seed: int = 0
    """Base seed: episode i starts from reset(seed * 10000 + i)."""
    fps: float = 0.0
    """Control rate, Hz (0 = the task's own)."""
    view: Literal["auto", "window", "offscreen", "none"] = "auto"
    """Live view: a window when a display exists (needs pygame), else frames written to OUT/live.png."""
    overwrite: bool = False
    """Replace an existing dataset at --out."""
    cameras: str | None = None
    """Cameras to record beside the state, e.g. corner2,gripperPOV (metaworld-vision/* record
    corner2,gripperPOV unless given)."""
    image_size: int | None = None
    """Camera frame size in pixels per side (default 84)."""


def _view(kind: str, out: Path):
    from protege.teleop.view import NullView, OffscreenView, PygameWindow, has_display

    if kind == "none":
        return NullView()
    if kind == "window" or (kind == "auto" and has_display()):
        try:
            return PygameWindow(title="protege teleop")
        except ProtegeError:
            if kind == "window":
                raise
    from protege.evaluation.video import choose_gl_backend

    choose_gl_backend()
    return OffscreenView(out.parent / f"{out.name}.live.png")


def run(args: Args) -> int:
    from protege.recording import task_with_cameras
    from protege.teleop.device import open_device
    from protege.teleop.profile import DeviceProfile, default_profile
    from protege.teleop.view import PygameWindow

    task = task_with_cameras(args.task, args.cameras, args.image_size)
    if args.kinesthetic:
        from protege.teleop.kinesthetic import calibrate, record_kinesthetic

        if args.episodes < 1:
            raise ProtegeError(f"--episodes: expected >= 1 with --kinesthetic, found {args.episodes}")
        say(f"kinesthetic: calibrating the inverse model of {task.name} from commanded motions")
        model = calibrate(task, seed=args.seed)
        path = record_kinesthetic(task, task.make_expert(), args.episodes, args.out, args.seed, model,
                                  overwrite=args.overwrite, progress=TqdmProgress())
        say(f"wrote {args.episodes} hand-guided episodes with inferred actions to {path}")
        return 0

    profile = DeviceProfile.load(args.profile) if args.profile else default_profile(args.device, task.spec, task.name)
    if args.save_profile:
        say(f"profile written to {profile.save(args.save_profile)}")
    policy = None
    if args.intervene is not None:
        from protege.checkpoint import load_actor

        policy = load_actor(args.intervene, task.spec, f"task {task.name}")
    view = _view(args.view, args.out)
    window = view if isinstance(view, PygameWindow) else None
    device = open_device(args.device, task.spec, task.name, profile, window=window,
                         takeover_on_motion=args.takeover_on_motion)
    from protege.teleop.recorder import SessionConfig, record_session

    say(f"teleop {task.name} with the {args.device} at {args.fps or task.fps:g} Hz"
        + (f", intervening on {args.intervene}" if policy else "") + f". {KEYS_HELP}")
    if window is None and hasattr(view, "path"):
        say(f"no window: the live view is written to {view.path}")
    try:
        result = record_session(task, device, args.out, SessionConfig(episodes=args.episodes, seed=args.seed,
                                                                      fps=args.fps), policy=policy, view=view,
                                overwrite=args.overwrite, progress=TqdmProgress())
    finally:
        device.close()
        view.close()
    say(f"kept {len(result.kept)} episodes ({result.steps} steps), discarded {result.discarded}"
        + (f", {result.interventions} take-overs" if policy else "") + f"; dataset in {args.out}")
    return 0
