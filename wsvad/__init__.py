"""wsvad: the core library of wsvad-sweeps.

Feature sets, official annotation formats, one evaluation protocol, the ten methods under one
contract, and a pure-torch trainer. This package never imports Ray or MLflow: those live in
`sweeps/` and `extraction/`, which depend on it (never the other way round).
"""

__version__ = "0.1.0"
