"""Policies: one file per head, each a config dataclass + an nn.Module following the Policy seam."""

from __future__ import annotations

from typing import Any

from protege.errors import ProtegeError
from protege.policies.base import PolicyBase
from protege.policies.encoders import EncoderConfig
from protege.policies.encoders.conditioning import ConditioningConfig
from protege.policies.gaussian import GaussianConfig, GaussianPolicy
from protege.policies.mlp import MLPConfig, MLPPolicy
from protege.policies.gmm import GMMConfig, GMMPolicy
from protege.policies.discrete import DiscreteConfig, DiscretePolicy
from protege.policies.chunked import ChunkedConfig, ChunkedPolicy
from protege.policies.act import ACTConfig, ACTPolicy
from protege.policies.diffusion import DiffusionConfig, DiffusionPolicy
from protege.policies.flow import FlowConfig, FlowPolicy

# name -> (config class, policy class)
POLICIES: dict[str, tuple[type, type[PolicyBase]]] = {
    "mlp": (MLPConfig, MLPPolicy),
    "gmm": (GMMConfig, GMMPolicy),
    "discrete": (DiscreteConfig, DiscretePolicy),
    "chunked": (ChunkedConfig, ChunkedPolicy),
    "act": (ACTConfig, ACTPolicy),
    "diffusion": (DiffusionConfig, DiffusionPolicy),
    "flow": (FlowConfig, FlowPolicy),
    "gaussian": (GaussianConfig, GaussianPolicy),
}


def make_policy(name: str, config: Any, spec: Any, stats: dict | None = None,
                encoder: EncoderConfig | dict | None = None,
                conditioning: ConditioningConfig | dict | None = None) -> PolicyBase:
    """Build head `name` from its config (a config object, a dict of fields, or None for the defaults), the
    spec and the dataset statistics. encoder: how camera keys are read (`EncoderConfig`, a dict of its
    fields, or None for the default); ignored when the spec has no camera. conditioning: the task/instruction
    conditioning with its vocabulary (`ConditioningConfig` or a dict of its fields; None = unconditioned)."""
    if name not in POLICIES:
        raise ProtegeError(f"policy: expected one of {sorted(POLICIES)}, found '{name}'")
    config_cls, policy_cls = POLICIES[name]
    if config is None:
        config = config_cls()
    elif isinstance(config, dict):
        config = config_cls(**config)
    if isinstance(encoder, dict):
        encoder = EncoderConfig(**encoder)
    if isinstance(conditioning, dict):
        conditioning = ConditioningConfig(**conditioning)
    return policy_cls(config, spec, stats, encoder=encoder, conditioning=conditioning)


__all__ = ["POLICIES", "PolicyBase", "EncoderConfig", "ConditioningConfig", "make_policy", "MLPConfig", "MLPPolicy", "GaussianConfig",
           "GaussianPolicy"]
