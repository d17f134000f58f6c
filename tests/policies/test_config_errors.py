"""Config mistakes in every head end in one line (a ProtegeError naming the field), not a bare ValueError."""

import pytest

from protege.errors import ProtegeError
from protege.policies.gaussian import GaussianConfig


@pytest.mark.parametrize("kw, field", [({"hidden_dims": ()}, "hidden_dims"), ({"activation": "relu6"}, "activation"),
                                        ({"init_log_std": -3.0, "min_log_std": -2.5}, "init_log_std")])
def test_gaussian_config_mistakes_are_one_line(kw, field):
    with pytest.raises(ProtegeError, match=f"gaussian config: field '{field}': expected"):
        GaussianConfig(**kw)
