"""`python -m protege ...` (what `torchrun -m protege train ...` runs): the same as the `protege` command."""

from protege.cli import entry

if __name__ == "__main__":
    entry()
