"""The one observation flattener: an observation dict -> one vector per step, keys in policy order.

Policies, RL sampling, DAPG's demonstration term and the DAgger gates' small models all feed a network
the same flat vector; building it in one place keeps them in agreement on key order, per-key flattening
and dtype (float32). It deliberately does not normalise or choose the keys: the caller passes the keys
(a policy's `obs_keys`, i.e. the spec's vector keys in spec order).
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np
import torch


def flatten_observation(obs: Mapping[str, Any], keys: Sequence[str], batch_dims: int = 0) -> Any:
    """key -> (*batch, *shape) -> (*batch, D) float32, each key flattened and concatenated in `keys` order.

    batch_dims: leading dimensions kept as they are (0 = one observation -> (D,); 1 = (N, ...) -> (N, D);
    2 = (B, n_obs, ...) -> (B, n_obs, D)). Torch tensors give a float tensor (traceable for export);
    anything else (numpy arrays, lists) gives a numpy float32 array.
    """
    if keys and isinstance(obs[keys[0]], torch.Tensor):
        return torch.cat([obs[k].reshape(*obs[k].shape[:batch_dims], -1).float() for k in keys], dim=-1)
    parts = [np.asarray(obs[k], np.float32) for k in keys]
    return np.concatenate([p.reshape(*p.shape[:batch_dims], -1) for p in parts], axis=-1)
