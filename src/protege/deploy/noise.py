"""Randomness as an explicit input, so a sampling head exports to a graph that a runtime can reproduce.

Diffusion, flow and mixture heads draw noise while acting. Traced as is, `torch.randn` becomes a random
operator inside the exported graph, whose draws no other runtime can match, so parity could not be
checked. `NoiseFeed` intercepts the draws (`torch.randn`, `randn_like`, `rand`, `rand_like`,
`multinomial`) and serves them from two flat buffers instead: standard normal and uniform values that
become inputs of the exported graph. A dry run with `NoiseFeed()` (no buffers) counts how many values a
call needs and draws them from torch as usual. `multinomial` is served by the Gumbel-max trick from
uniform values (num_samples = 1, the case policies use).
"""

from __future__ import annotations

import math

import torch
from torch.overrides import TorchFunctionMode

_EPS = 1e-9


def _shape(args, kwargs) -> tuple[int, ...]:
    size = kwargs.get("size", args[0] if args else ())
    if args and not isinstance(args[0], (tuple, list, torch.Size)):
        size = args  # randn(2, 3): sizes as separate arguments (ints, or 0-d tensors while tracing)
    return tuple(int(s) for s in size)


class NoiseFeed(TorchFunctionMode):
    """Serve random draws from `normal` (N,) and `uniform` (M,) buffers; count them when none are given."""

    def __init__(self, normal: torch.Tensor | None = None, uniform: torch.Tensor | None = None):
        super().__init__()
        self.normal, self.uniform = normal, uniform
        self.n_normal = self.n_uniform = 0

    def _take(self, kind: str, shape: tuple[int, ...], like: torch.Tensor | None) -> torch.Tensor:
        shape = tuple(int(s) for s in shape)  # while tracing, sizes arrive as 0-d tensors
        n = math.prod(shape)
        buf = self.normal if kind == "normal" else self.uniform
        start = self.n_normal if kind == "normal" else self.n_uniform
        if kind == "normal":
            self.n_normal += n
        else:
            self.n_uniform += n
        dtype = like.dtype if like is not None else torch.get_default_dtype()
        if buf is None:  # counting run: ordinary draws
            with torch._C.DisableTorchFunction():
                return (torch.randn if kind == "normal" else torch.rand)(shape, dtype=dtype)
        if start + n > buf.shape[0]:
            raise RuntimeError(f"noise buffer '{kind}' too small: need {start + n}, have {buf.shape[0]}")
        return buf[start:start + n].reshape(shape).to(dtype)

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func is torch.randn:
            return self._take("normal", _shape(args, kwargs), None)
        if func is torch.rand:
            return self._take("uniform", _shape(args, kwargs), None)
        if func is torch.randn_like:
            return self._take("normal", tuple(args[0].shape), args[0])
        if func is torch.rand_like:
            return self._take("uniform", tuple(args[0].shape), args[0])
        if func in (torch.multinomial, torch.Tensor.multinomial):
            probs = args[0]
            num = args[1] if len(args) > 1 else kwargs.get("num_samples", 1)
            if num != 1:
                raise RuntimeError("exporting multinomial supports num_samples=1 only")
            u = self._take("uniform", tuple(probs.shape), probs).clamp(_EPS, 1 - _EPS)
            gumbel = -torch.log(-torch.log(u))
            return torch.argmax(torch.log(probs.clamp_min(_EPS)) + gumbel, dim=-1, keepdim=True)
        return func(*args, **kwargs)
