import pytest

from protege.evaluation.metrics import summarize, wilson_interval
from protege.evaluation.rollout import eval_seeds, record_seeds


@pytest.mark.parametrize("k,n,lo,hi", [(8, 10, 0.4902, 0.9433), (0, 10, 0.0, 0.2775), (50, 50, 0.9287, 1.0)])
def test_wilson_interval_matches_reference_values(k, n, lo, hi):
    a, b = wilson_interval(k, n)
    assert a == pytest.approx(lo, abs=1e-4) and b == pytest.approx(hi, abs=1e-4)


def test_summary():
    s = summarize([True, False, True, True], [1.0, 2.0, 3.0, 4.0], [10, 20, 30, 40])
    assert s.success_rate == 0.75 and s.mean_return == 2.5 and s.mean_length == 25


def test_eval_and_record_seeds_never_overlap():
    assert not set(record_seeds(s, 10_000)[0] for s in range(50)) & set(eval_seeds(0, 10_000))
    assert not set(record_seeds(99, 10_000)) & set(eval_seeds(0, 10_000))
