"""protege: teaching robots by demonstration.

Record demonstrations, train policies by behavioural cloning, evaluate them honestly. The public entry
points are the `protege` command (see `protege --help`) and the modules below; see the README.
"""

__version__ = "0.1.0"
