"""runtime.set_threads: the library, not the environment, picks torch's thread count."""

import pytest
import torch

from protege import runtime
from protege.errors import ProtegeError


@pytest.fixture
def fresh(monkeypatch):
    """No count remembered from earlier tests (the conftest restores the process's own afterwards)."""
    monkeypatch.setattr(runtime, "_chosen", None)
    return runtime


@pytest.mark.parametrize(("cores", "expected"), [(1, 1), (2, 2), (64, runtime.DEFAULT_MAX_THREADS)])
def test_default_is_the_usable_cores_capped(monkeypatch, cores, expected):
    monkeypatch.setattr(runtime.os, "sched_getaffinity", lambda pid: set(range(cores)))
    assert runtime.default_threads() == expected


def test_zero_and_none_mean_the_default(fresh, monkeypatch):
    monkeypatch.setattr(runtime, "default_threads", lambda: 1)
    assert fresh.set_threads(0) == 1 and torch.get_num_threads() == 1
    assert fresh.set_threads(None) == 1


def test_an_explicit_count_is_applied_and_kept_for_later_defaults(fresh, monkeypatch):
    monkeypatch.setattr(runtime, "default_threads", lambda: 2)
    assert fresh.set_threads(1) == 1 and torch.get_num_threads() == 1
    assert fresh.set_threads(0) == 1  # `--threads 1` holds for a training run asking for "the default"


@pytest.mark.parametrize("bad", [-1, 1.5, "2"])
def test_a_bad_count_is_a_one_line_error(fresh, bad):
    with pytest.raises(ProtegeError, match=r"field 'threads': expected an integer >= 1 \(0 = the default\)") as e:
        fresh.set_threads(bad)
    assert "\n" not in str(e.value)
