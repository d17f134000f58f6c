"""Train a policy by behavioural cloning on a dataset."""

from __future__ import annotations

import os
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import tyro

from protege.algos import train_state
from protege.algos.bc import TrainConfig, train_bc
from protege.checkpoint import ensemble_members
from protege.commands._common import check_writable_dir, say, with_policy_config
from protege.distributed import ddp
from protege.distributed.launch import launch, plain_args, restart_count
from protege.data.formats import detect_format, load_any
from protege.errors import ProtegeError
from protege.policies import ConditioningConfig, EncoderConfig
from protege.progress import TqdmProgress


@dataclass
class Args:
    data: Path
    """Dataset: native folder (or a plain folder of .npz episodes), LeRobot or Minari folder, robomimic .hdf5 file."""
    out: Path
    """Checkpoint folder to write (config.json + model.safetensors)."""
    overwrite: bool = False
    """Replace an existing checkpoint at --out (a dataset folder is never replaced)."""
    obs_keys: list[str] | None = None
    """Observation keys to train on, in this order (dataset or native names, e.g. `state corner2`); default:
    every observation key the dataset has, cameras included (a LeRobot dataset's videos are decoded in
    place, only the frames each batch needs)."""
    policy: str = "mlp"
    """Policy head; its options appear under --<policy>.* (see `protege train --policy NAME --help`)."""
    encoder: str = "small"
    """Image encoder for camera keys: "small" (a fast CNN for CPU training), "resnet18" (ResNet-18 with
    GroupNorm and spatial softmax) or "none" (ignore cameras). Unused when the dataset has no camera."""
    encoder_crop: float = 0.9
    """Fraction of each image side kept: random crop while training, centre crop at execution (1 = none)."""
    encoder_color_jitter: float = 0.0
    """Brightness/contrast jitter amplitude while training (0 = off)."""
    encoder_feature_dim: int = 64
    """Features per camera."""
    encoder_share_cameras: bool = False
    """One image encoder for all cameras instead of one per camera."""
    nproc: int = 1
    """Processes on this machine training the one policy with DistributedDataParallel (gloo on the CPU, NCCL
    with one GPU each), launched as torchrun launches them; 1 = this process. Several machines: torchrun
    (README, "More than one process")."""
    max_restarts: int = 0
    """--nproc: restart every rank this many times after one fails; a restart continues from the last
    validation point (the training state is kept in --out, as with --resume)."""
    resume: bool = False
    """Continue an interrupted run from the training state in --out (weights, optimiser, scheduler, EMA,
    step and random states, written at every validation point while this flag is given), taking the steps
    an uninterrupted run would; without a state there, start at step 0. Needs the interrupted run's settings."""
    condition: str = "none"
    """Condition one policy on many tasks: "task" (a learned embedding per task name), "instruction" (a
    learned embedding of the instruction's words, no pretrained weights) or "embedding" (your frozen text
    encoder, --text-encoder); episodes must carry `info["task"]` (as `protege record --task metaworld/MT10`
    writes). "none": an unconditioned policy."""
    condition_fusion: str = "concat"
    """How the task embedding enters every head: "concat" (appended to the observation features) or "film"."""
    condition_dim: int = 32
    """Width of the task/instruction embedding."""
    word_dropout: float | None = None
    """--condition instruction: hide each word of a training instruction with this probability (per sample
    and step, one word always kept), so any informative word names the task; 0 = off. Default: 0.3 for
    --condition instruction (measured on MT10, see README), 0 otherwise."""
    text_encoder: str | None = None
    """--condition embedding: "package.module:factory" building an object with encode(list[str]) -> (N, D),
    e.g. protege.policies.encoders.conditioning:HashingTextEncoder."""
    text_encoder_arg: str | None = None
    """--condition embedding: the argument the factory is called with (e.g. your encoder's folder)."""
    ensemble: int = 1
    """Train this many policies (member i with seed --seed + 1000 i) into --out/member_<i>; `protege eval
    --checkpoint OUT` acts with their mean action. 1 = one policy in --out."""
    train: Annotated[TrainConfig, tyro.conf.OmitArgPrefixes] = field(default_factory=TrainConfig)


def make_args(argv: list[str]) -> type:
    """`Args` plus the chosen policy's config (its options appear under --<policy>.*)."""
    return with_policy_config(Args, argv)


def check_out(out: Path, overwrite: bool, resume: bool = False) -> None:
    """Refuse, before any training, an --out that training would destroy or could not write: a dataset
    (never), an existing checkpoint (unless --overwrite, or --resume to continue it), a folder holding
    anything else, a file, or a path that cannot be written."""
    if out.is_dir() and any(not p.name.startswith(".") for p in out.iterdir()):  # hidden: leftovers of a save
        try:
            fmt = detect_format(out)
        except ProtegeError:
            fmt = None
        if fmt is not None:
            raise ProtegeError(f"--out {out}: expected a checkpoint folder, found a {fmt} dataset "
                               f"(it is never replaced; choose another --out)")
        if any(p.exists() for p in (out / "config.json", out / "model.safetensors", train_state.state_dir(out))) \
                or ensemble_members(out) is not None:
            if not overwrite and not resume:
                raise ProtegeError(f"--out {out}: expected a new folder, found an existing checkpoint "
                                   f"(pass --overwrite to replace it, or --resume to continue its run)")
        else:
            listing = sorted(p.name for p in out.iterdir() if not p.name.startswith("."))[:5]
            raise ProtegeError(f"--out {out}: expected a new or empty folder or a checkpoint, found entries {listing}")
    check_writable_dir(out, "--out")


def training_keys(data: Path, chosen: list[str] | None) -> list[str] | None:
    """--obs-keys, else every observation key of the dataset (None where that is the reader's default).
    LeRobot's reader leaves cameras out unless named (so `protege info` decodes no video); a LeRobot user
    training on a dataset with cameras expects a policy that sees them, so training names them all."""
    if chosen is not None or detect_format(data) != "lerobot":
        return chosen
    from protege.data.formats.lerobot import LeRobotReader

    reader = LeRobotReader(data)
    return [k for k in reader.features if k in reader.vector_keys or k in reader.camera_keys]


def run(args: Any) -> int:
    if args.resume and args.overwrite:
        raise ProtegeError("--resume and --overwrite: expected one of them (--resume continues the run in --out, "
                           "--overwrite replaces it), found both")
    if args.nproc > 1 and not ddp.under_launcher():  # become N ranks (torch's elastic launcher, as torchrun)
        check_out(args.out, args.overwrite, args.resume)
        launch(run, args.nproc, plain_args(args), max_restarts=args.max_restarts)
        return 0
    if ddp.env_rank() != 0:  # the other ranks train silently: rank 0 reports and writes --out
        sys.stdout = open(os.devnull, "w")
    elif restart_count() == 0:  # a group restarted after a failure continues the checkpoint it wrote itself
        check_out(args.out, args.overwrite, args.resume)
    if args.ensemble < 1 or (args.ensemble > 1 and (args.nproc > 1 or args.resume)):
        raise ProtegeError(f"--ensemble: expected >= 1, and 1 with --nproc > 1 or --resume, found {args.ensemble}"
                           + (" with " + ("--nproc" if args.nproc > 1 else "--resume") if args.ensemble > 1 else ""))
    resume = args.resume or restart_count() > 0  # the launcher's restarts continue from the last validation point
    save_state = resume or args.max_restarts > 0
    # checked before the dataset is read: a typo fails at once
    encoder = EncoderConfig(name=args.encoder, crop=args.encoder_crop, color_jitter=args.encoder_color_jitter,
                            feature_dim=args.encoder_feature_dim, share_cameras=args.encoder_share_cameras)
    conditioning = ConditioningConfig(kind=args.condition, fusion=args.condition_fusion, embed_dim=args.condition_dim,
                                      text_encoder=args.text_encoder, text_encoder_arg=args.text_encoder_arg,
                                      word_dropout=args.word_dropout)
    # native, LeRobot, robomimic or Minari, read in place
    dataset = load_any(args.data, obs_keys=training_keys(args.data, args.obs_keys))
    policy_config = getattr(args, args.policy, None)
    say(f"training {args.policy} on {len(dataset)} episodes ({dataset.num_steps} steps) from {args.data}")
    if resume and train_state.saved_step(args.out) is not None:
        say(f"resuming at step {train_state.saved_step(args.out)} from {train_state.state_dir(args.out)}")
    if args.overwrite:  # an ensemble trained here before must not outlive what replaces it
        for stale in sorted(args.out.glob("member_*")):
            shutil.rmtree(stale)
    if args.ensemble > 1:
        return _train_ensemble(args, dataset, policy_config, encoder, conditioning)
    result = train_bc(dataset, args.policy, policy_config, args.train, out=args.out, progress=TqdmProgress(),
                      encoder=encoder, conditioning=conditioning, resume=resume, save_state=save_state)
    wait = f", {result.data_wait_fraction:.0%} of the time waiting for data" if result.data_wait_fraction >= 0.005 else ""
    kept = (f"best rollout success {result.best_rollout_success:.0%} ({args.train.rollout_episodes} episodes) at step "
            f"{result.best_step}, validation loss {result.best_val_loss:.5f}") \
        if result.best_rollout_success is not None else \
        f"best validation loss {result.best_val_loss:.5f} at step {result.best_step}"
    say(f"{kept}; "
        f"{result.samples_per_second:,.0f} samples/s on {result.device} ({result.precision}{wait}); checkpoint in {args.out}")
    best = next((h for h in result.history if h["step"] == result.best_step), {})
    per_task = {k.split("/", 1)[1]: v for k, v in best.items() if k.startswith("val_loss/")}
    if per_task:
        say("validation loss per task at that step: " + ", ".join(f"{k} {v:.5f}" for k, v in per_task.items()))
    if result.policy.conditioning is not None:
        c = result.policy.conditioning
        say(f"conditioned on {c.kind} ({c.fusion}) over {len(c.tasks)} tasks: {', '.join(c.tasks)}")
    return 0


def _train_ensemble(args: Any, dataset: Any, policy_config: Any, encoder: EncoderConfig,
                    conditioning: ConditioningConfig) -> int:
    from protege.algos.ensemble import train_members

    results = train_members(dataset, args.policy, policy_config, args.train, args.ensemble, args.out,
                            progress=TqdmProgress(), encoder=encoder, conditioning=conditioning)
    for i, r in enumerate(results):
        say(f"member {i} (seed {args.train.seed + 1000 * i}): best validation loss {r.best_val_loss:.5f} at step "
            f"{r.best_step}" + (f", rollout success {r.best_rollout_success:.0%}" if r.best_rollout_success is not None
                                else ""))
    say(f"ensemble of {args.ensemble} {args.policy} policies in {args.out} (member_0 .. member_{args.ensemble - 1}); "
        f"`protege eval --checkpoint {args.out}` acts with their mean action")
    return 0
