"""extraction: turning videos (or existing feature dumps) into a wsvad feature set.

Two ways in, one way out (a Parquet feature set, :mod:`wsvad.features`):

- the Ray Data job that decodes videos, samples snippets and runs a backbone;
- :mod:`extraction.importers`, which converts `.npy` dumps published with official code
  (RTFM lists, VadCLIP CSVs, a plain folder plus a labels CSV).

This file imports nothing: Ray, decord and open_clip are imported lazily by the modules that
need them, so `import extraction` (and the `wsvad` CLI's help) stays fast.
"""
