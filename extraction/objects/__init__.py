"""Object-level features: per-track feature sequences from a detector and a multi-object tracker.

``wsvad extract-objects`` (:func:`extraction.objects.extract.extract_objects`) decodes each video,
finds objects in every ``frame_stride``-th frame (a torchvision Faster R-CNN with an FPN,
:mod:`~extraction.objects.detector`; or motion blobs for tests, :mod:`~extraction.objects.proposals`),
follows them with ByteTrack (:mod:`~extraction.objects.tracker`), reads each tracked box from the
detector's FPN maps with RoIAlign and pools it (GAP, attention or both, :mod:`~extraction.objects.pooling`),
and writes a feature set in which every *track* is a sequence — one snippet per tracked frame —
with its source video, track id, frames and boxes (:mod:`~extraction.objects.parts`;
docs/object-level.md).
"""
