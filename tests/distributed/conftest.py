import pytest

from protege.data import DatasetWriter
from protege.specs import ArraySpec, Spec

SPEC = Spec({"state": ArraySpec((3,))}, ArraySpec((2,)))


@pytest.fixture
def data_dir(tmp_path, make_episode):
    """Eight 40-step episodes of a 3-D state and 2-D action, written as a native dataset."""
    with DatasetWriter(tmp_path / "data", SPEC) as w:
        for i in range(8):
            w.add(make_episode(T=40, seed=i))
    return tmp_path / "data"
