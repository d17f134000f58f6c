"""Task and instruction conditioning: what to do, as one more input to the observation encoder.

One policy, many tasks. A conditioned policy reads, beside its observations, a per-episode *condition*
under the observation key `condition` (so the controller stacks it with the history, a batch carries it
like any key, and no head has code for it):

- `kind="task"`: the index of the episode's task name in the checkpoint's vocabulary, int64 ();
  a learned embedding table maps it to a vector;
- `kind="instruction"`: the instruction's word ids (`max_tokens`,) int64 (0 = padding, 1 = a word the
  vocabulary lacks); a learned word embedding, averaged over the known words, then a small MLP. It needs
  no pretrained weights and nothing downloaded; an unseen instruction is accepted and reported as unseen;
- `kind="embedding"`: a frozen text encoder the user has on disk (`text_encoder="pkg.module:factory"`,
  called with `text_encoder_arg`; its object's `encode(list[str]) -> (N, D)` float array) embeds the
  instruction once per episode; a small MLP maps (D,) to the embedding. `HashingTextEncoder` below is a
  weight-free example that follows that protocol.

The (B, n_obs, E) embedding enters the features by `fusion`: "concat" appends it to each step's
observation features (the heads size themselves from the wider `obs_dim`), "film" scales and shifts the
features, feature-wise (x * (1 + gamma(e)) + beta(e), zero-initialised so training starts from the plain
features). Both sit after the image encoders, so the seam does not care whether cameras fed it.

`ConditioningConfig` holds the vocabulary (task names, their training instructions, the words) and is
stored in the checkpoint, so a checkpoint knows what it can be asked. It does not know about datasets on
disk: `vocabulary_from_episodes` builds the config from episodes' `info["task"]` / `info["instruction"]`.
"""

from __future__ import annotations

import hashlib
import importlib
import re
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import torch
from torch import nn

from protege.errors import ProtegeError, bad_input
from protege.policies.common import require

CONDITION_KEY = "condition"
KINDS = ("none", "task", "instruction", "embedding")
FUSIONS = ("concat", "film")
PAD, UNK = 0, 1


class TextEncoder(Protocol):
    """A frozen instruction encoder (e.g. a sentence encoder the user has on disk)."""

    def encode(self, texts: list[str]) -> np.ndarray:
        """N instructions -> (N, D) float array."""
        ...


@dataclass
class ConditioningConfig:
    kind: str = "none"
    """What the policy is conditioned on: "none", "task" (a learned embedding per task name), "instruction"
    (a learned embedding of the instruction's words, no pretrained weights) or "embedding" (a frozen text
    encoder of yours, `text_encoder`)."""
    fusion: str = "concat"
    """How the embedding enters the features: "concat" (appended) or "film" (feature-wise scale and shift)."""
    embed_dim: int = 32
    """Width of the task/instruction embedding."""
    tasks: list[str] = field(default_factory=list)
    """Task names the policy was trained on (the vocabulary of kind "task"); filled from the dataset."""
    instructions: dict[str, str] = field(default_factory=dict)
    """Task name -> the instruction it was trained with; filled from the dataset."""
    words: list[str] = field(default_factory=list)
    """Instruction word vocabulary (ids 2.. ; 0 = padding, 1 = unknown); filled from the dataset."""
    max_tokens: int = 16
    """Words read per instruction (longer ones are cut)."""
    text_encoder: str | None = None
    """kind "embedding": "package.module:factory" returning an object with encode(list[str]) -> (N, D)."""
    text_encoder_arg: str | None = None
    """kind "embedding": the one argument the factory is called with (e.g. the encoder's folder), if any."""
    text_dim: int = 0
    """kind "embedding": D, the width of the text encoder's vectors (filled when the vocabulary is built)."""

    def __post_init__(self) -> None:
        require(self.kind in KINDS, "conditioning", "kind", f"one of {list(KINDS)}", self.kind)
        require(self.fusion in FUSIONS, "conditioning", "fusion", f"one of {list(FUSIONS)}", self.fusion)
        require(self.embed_dim >= 1, "conditioning", "embed_dim", ">= 1", self.embed_dim)
        require(self.max_tokens >= 1, "conditioning", "max_tokens", ">= 1", self.max_tokens)
        require(self.kind != "embedding" or bool(self.text_encoder), "conditioning", "text_encoder",
                "'package.module:factory' for kind 'embedding'", self.text_encoder)
        self.tasks = [str(t) for t in self.tasks]
        self.words = [str(w) for w in self.words]

    @property
    def enabled(self) -> bool:
        return self.kind != "none"


def tokenize(text: str) -> list[str]:
    """Lower-case words (letters and digits); punctuation and spacing never change an instruction."""
    return re.findall(r"[a-z0-9]+", text.lower())


def load_text_encoder(config: ConditioningConfig) -> TextEncoder:
    """Import and build the user's frozen text encoder named by `config.text_encoder`."""
    target = str(config.text_encoder)
    module_name, _, attr = target.partition(":")
    try:
        factory = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError, ValueError) as e:
        raise bad_input("conditioning", "text_encoder", "an importable 'package.module:factory'",
                        f"{target!r} ({type(e).__name__}: {e})") from None
    return factory(config.text_encoder_arg) if config.text_encoder_arg is not None else factory()


class HashingTextEncoder:
    """A weight-free text encoder: each word and word pair hashed into `dim` signed buckets, L2-normalised.
    An example of the `TextEncoder` protocol (and a frozen baseline): nothing to download or train."""

    def __init__(self, dim: str | int = 64):
        self.dim = int(dim)

    def encode(self, texts: list[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), np.float32)
        for i, text in enumerate(texts):
            words = tokenize(text)
            for gram in words + [f"{a} {b}" for a, b in zip(words, words[1:])]:
                h = int.from_bytes(hashlib.blake2b(gram.encode(), digest_size=8).digest(), "little")
                out[i, h % self.dim] += 1.0 if (h >> 32) & 1 else -1.0
            out[i] /= max(float(np.linalg.norm(out[i])), 1e-6)
        return out


def vocabulary_from_episodes(config: ConditioningConfig, episodes: list[Any], where: str = "dataset") -> ConditioningConfig:
    """`config` with its vocabulary filled from episodes' tags: `info["task"]` (required) and
    `info["instruction"]` (the task string itself where an episode has none, as in LeRobot datasets whose
    `task` is the instruction). Refuses, in one line, an untagged episode or two instructions for a task."""
    if not config.enabled:
        return config
    instructions: dict[str, str] = {}
    for i, e in enumerate(episodes):
        task = e.info.get("task")
        if not isinstance(task, str) or not task:
            raise bad_input(e.origin or f"{where} episode {i}", "info.task",
                            f"a task name for --conditioning {config.kind}", repr(task))
        text = e.info.get("instruction") or task
        if instructions.setdefault(task, text) != text:
            raise bad_input(e.origin or f"{where} episode {i}", "info.instruction",
                            f"one instruction per task ({instructions[task]!r} for {task})", repr(text))
    words = sorted({w for t in instructions.values() for w in tokenize(t)})
    text_dim = config.text_dim
    if config.kind == "embedding":
        text_dim = int(load_text_encoder(config).encode(["probe"]).shape[1])
    return ConditioningConfig(**{**config.__dict__, "tasks": sorted(instructions), "instructions": instructions,
                                 "words": words, "text_dim": text_dim})


@dataclass
class ConditionInput:
    """The per-step condition of one episode and how it was found."""
    array: np.ndarray
    """() int64 (task), (max_tokens,) int64 (instruction) or (D,) float32 (embedding)."""
    text: str
    """The task name or instruction it came from."""
    unseen_words: list[str]
    """Instruction words the vocabulary lacks (ignored when acting)."""
    seen: bool
    """Whether this exact task/instruction was trained on."""

    def describe(self) -> str:
        if self.seen:
            return f"condition {self.text!r} (seen in training)"
        unknown = f"; words not in the vocabulary, ignored: {', '.join(self.unseen_words)}" if self.unseen_words else ""
        return f"condition {self.text!r} is unseen (not a training instruction{unknown})"


def condition_input(config: ConditioningConfig, task: str | None = None, instruction: str | None = None,
                    who: str = "policy", encoder: TextEncoder | None = None) -> ConditionInput:
    """The per-step condition a conditioned policy reads for `task` (a name it was trained on) or
    `instruction` (any text for kinds "instruction"/"embedding"; for kind "task" only a training
    instruction, which names its task). An unknown task is refused in one line naming what is known."""
    if task is None and instruction is None:
        raise ProtegeError(f"{who}: expected a task name or an instruction (the policy is conditioned on "
                           f"{config.kind}s; known tasks: {', '.join(config.tasks)}), found neither")
    if instruction is None:
        if task not in config.instructions:
            raise bad_input(who, "conditioning.tasks", f"one of the trained tasks {config.tasks}", repr(task))
        instruction = config.instructions[str(task)]
    if config.kind == "task":
        if task is None:
            by_text = {v: k for k, v in config.instructions.items()}
            if instruction not in by_text:
                raise bad_input(who, "instruction", "a training instruction (this policy is conditioned on task "
                                "names; train with --condition instruction to accept other wording): "
                                + "; ".join(repr(v) for v in config.instructions.values()), repr(instruction))
            task = by_text[instruction]
        return ConditionInput(np.array(config.tasks.index(str(task)), np.int64), str(task), [], True)
    seen = instruction in config.instructions.values()
    if config.kind == "embedding":
        vec = (encoder or load_text_encoder(config)).encode([instruction])[0].astype(np.float32)
        return ConditionInput(vec, instruction, [], seen)
    index = {w: i + 2 for i, w in enumerate(config.words)}
    words = tokenize(instruction)[:config.max_tokens]
    ids = np.zeros(config.max_tokens, np.int64)
    ids[:len(words)] = [index.get(w, UNK) for w in words]
    return ConditionInput(ids, instruction, [w for w in words if w not in index], seen)


def episode_condition(config: ConditioningConfig, episode: Any, encoder: TextEncoder | None = None) -> np.ndarray:
    """(T, ...) condition of a training episode, from its tags (see `vocabulary_from_episodes`)."""
    task = episode.info["task"]
    one = condition_input(config, task=task, instruction=config.instructions[task], encoder=encoder).array
    return np.broadcast_to(one, (len(episode), *one.shape)).copy()


class Conditioner(nn.Module):
    """condition (B, n_obs, ...) -> embedding (B, n_obs, embed_dim); see the module docstring.
    The condition is constant within an episode, so the last step's is embedded and repeated."""

    def __init__(self, config: ConditioningConfig):
        super().__init__()
        self.kind, E = config.kind, config.embed_dim
        if config.kind == "task":
            self.table = nn.Embedding(max(len(config.tasks), 1), E)
            nn.init.normal_(self.table.weight, std=1.0)
        elif config.kind == "instruction":
            self.words = nn.Embedding(len(config.words) + 2, E, padding_idx=PAD)
            self.mix = nn.Sequential(nn.Linear(E, E), nn.GELU(), nn.Linear(E, E))
        else:
            self.mix = nn.Sequential(nn.Linear(max(config.text_dim, 1), E), nn.GELU(), nn.Linear(E, E))

    def forward(self, condition: torch.Tensor) -> torch.Tensor:
        n_obs = condition.shape[1]
        last = condition[:, -1]
        if self.kind == "task":
            emb = self.table(last.long())
        elif self.kind == "instruction":
            ids = last.long()
            known = (ids > UNK).float()[..., None]  # padding and unknown words carry no meaning
            pooled = (self.words(ids) * known).sum(1) / known.sum(1).clamp_min(1.0)
            emb = self.mix(pooled)
        else:
            emb = self.mix(last.float())
        return emb[:, None].expand(-1, n_obs, -1)


class FiLM(nn.Module):
    """features (B, n_obs, D), embedding (B, n_obs, E) -> features * (1 + gamma) + beta, zero-initialised."""

    def __init__(self, embed_dim: int, feature_dim: int):
        super().__init__()
        self.proj = nn.Linear(embed_dim, 2 * feature_dim)
        nn.init.zeros_(self.proj.weight)
        nn.init.zeros_(self.proj.bias)

    def forward(self, feats: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        gamma, beta = self.proj(emb).chunk(2, dim=-1)
        return feats * (1 + gamma) + beta


class ConditionFusion(nn.Module):
    """The whole seam: (features (B, n_obs, D), condition (B, n_obs, ...)) -> (B, n_obs, out_dim) with
    out_dim = D + embed_dim ("concat") or D ("film")."""

    def __init__(self, config: ConditioningConfig, feature_dim: int):
        super().__init__()
        self.fusion = config.fusion
        self.embed = Conditioner(config)
        self.film = FiLM(config.embed_dim, feature_dim) if config.fusion == "film" else None
        self.out_dim = feature_dim + (config.embed_dim if config.fusion == "concat" else 0)

    def forward(self, feats: torch.Tensor, condition: torch.Tensor) -> torch.Tensor:
        emb = self.embed(condition)
        if self.film is not None:
            return self.film(feats, emb)
        return torch.cat([feats, emb.to(feats.dtype)], dim=-1)
