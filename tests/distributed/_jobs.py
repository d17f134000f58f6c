"""Episode functions for the executor tests, in a module that imports nothing heavy (a worker unpickling
them imports this module, not the test module with its simulators)."""

from protege.errors import ProtegeError


def times_ten(seed):
    return seed * 10


def raises_on_3(seed):
    if seed == 3:
        raise ProtegeError("bad episode")
    return seed
