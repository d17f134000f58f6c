"""What a conditioned policy can be asked: its task/instruction vocabulary and the condition it reads.

A conditioned policy (see `protege.policies.encoders.conditioning` for the network side) reads, beside its
observations, a per-episode *condition* under the observation key `condition`. This module holds the
vocabulary (`ConditioningConfig`: task names, their training instructions, the instruction words) and the
one mapping from a task name or an instruction to that condition (`condition_input`), with its one-line
refusal of an unknown task and its report of an unseen instruction.

It imports neither torch nor anything of training, so an exported policy on a robot computer (onnxruntime
only, `protege.deploy.exported`) maps a task name or an instruction exactly as the PyTorch policy does.
"""

from __future__ import annotations

import hashlib
import importlib
import re
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from protege.errors import ProtegeError, bad_input

CONDITION_KEY = "condition"
KINDS = ("none", "task", "instruction", "embedding")
FUSIONS = ("concat", "film")
PAD, UNK = 0, 1
DEFAULT_WORD_DROPOUT = 0.3  # measured on MT10 (benchmarks/multitask.py, cell instr-mlp-wdrop)


class ConditioningConfigError(ProtegeError, ValueError):
    """A conditioning config field out of range (a ValueError too, as the policy configs' errors are)."""


def _require(ok: bool, name: str, expected: str, found: object) -> None:
    if not ok:
        raise ConditioningConfigError(str(bad_input("conditioning config", name, expected, repr(found))))


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
    word_dropout: float | None = None
    """kind "instruction", training only: each word of a training instruction is hidden (read as the unknown
    word, which carries no meaning) with this probability, a fresh draw per sample and step, at least one word
    always kept; so the policy learns to tell the task from any informative word, not only the whole sentence.
    None: DEFAULT_WORD_DROPOUT for kind "instruction" (on MT10 it cut the loss to hand-written paraphrases
    from 19 points to 3, and from 26 to 0.4 for a second seed, docs/benchmarks/multitask.md), 0 otherwise."""
    text_encoder: str | None = None
    """kind "embedding": "package.module:factory" returning an object with encode(list[str]) -> (N, D)."""
    text_encoder_arg: str | None = None
    """kind "embedding": the one argument the factory is called with (e.g. the encoder's folder), if any."""
    text_dim: int = 0
    """kind "embedding": D, the width of the text encoder's vectors (filled when the vocabulary is built)."""

    def __post_init__(self) -> None:
        _require(self.kind in KINDS, "kind", f"one of {list(KINDS)}", self.kind)
        _require(self.fusion in FUSIONS, "fusion", f"one of {list(FUSIONS)}", self.fusion)
        _require(self.embed_dim >= 1, "embed_dim", ">= 1", self.embed_dim)
        _require(self.max_tokens >= 1, "max_tokens", ">= 1", self.max_tokens)
        if self.word_dropout is None:
            self.word_dropout = DEFAULT_WORD_DROPOUT if self.kind == "instruction" else 0.0
        _require(0.0 <= self.word_dropout < 1.0, "word_dropout", "in [0, 1)", self.word_dropout)
        _require(self.word_dropout == 0.0 or self.kind == "instruction", "word_dropout",
                 "0 unless kind is 'instruction' (it hides instruction words)", self.word_dropout)
        _require(self.kind != "embedding" or bool(self.text_encoder), "text_encoder",
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


def condition_dtype(config: ConditioningConfig) -> str:
    """The numpy dtype of the condition: int64 ids (kinds "task", "instruction") or float32 vectors."""
    return "float32" if config.kind == "embedding" else "int64"


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
