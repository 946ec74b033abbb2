"""The decode and embed stages as plain Python, and videos put back together into parts."""

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import torch

from extraction import backbones
from extraction.parts import VideoAssembler, part_path
from extraction.plan import VideoEntry, part_key
from extraction.stages import DecodeSpec, EmbedSnippets, decode_video
from extraction.toy_videos import write_mp4


def spec(crops=1, positions=(8,), size=64, **kw):
    short = size if crops == 1 else int(round(size * 256 / 224))
    return DecodeSpec(decoder=kw.pop("decoder", "decord"), frames_per_snippet=16, positions=positions,
                      short_side=short, input_size=size, crops=crops, **kw)


def rows(path, s):
    batches = list(decode_video(str(path), part_key(str(path)), s))
    return batches, {k: np.concatenate([b[k] for b in batches]) for k in batches[0]}


def test_decoded_rows_carry_the_total_only_on_the_last_chunk(toy_clips):
    path = sorted(toy_clips["videos"].glob("*.mp4"))[0]
    s = spec(crops=5, chunk_bytes=4 * 5 * 64 * 64 * 3)               # 4 snippets per chunk
    batches, all_rows = rows(path, s)
    t = len(all_rows["snippet"])
    assert len(batches) == -(-t // 4) and all(len(b["snippet"]) <= 4 for b in batches)
    assert all_rows["snippet"].tolist() == list(range(t))
    assert all_rows["pixels"].shape == (t, 5, 1, 64, 64, 3)
    assert set(batches[-1]["num_snippets"]) == {t} and all(set(b["num_snippets"]) == {-1} for b in batches[:-1])
    assert t * 16 <= batches[-1]["num_frames"][0] < (t + 1) * 16 and set(batches[0]["num_frames"]) == {-1}
    assert set(all_rows["note"]) == {""}


def test_bad_and_short_videos_become_one_reject_row(tmp_path):
    (tmp_path / "zero.mp4").write_bytes(b"")
    write_mp4(tmp_path / "short.mp4", np.zeros((10, 64, 64, 3), np.uint8))
    for name, reason in (("zero.mp4", "zero-byte file"), ("missing.mp4", "file not found"),
                         ("short.mp4", "shorter than one snippet (10 frames < 16)")):
        for decoder in ("decord", "pyav"):
            batches, r = rows(tmp_path / name, spec(decoder=decoder))
            assert len(batches) == 1 and r["snippet"].tolist() == [-1] and r["note"][0] == reason
            assert r["pixels"].shape == (1, 1, 1, 64, 64, 3)


def test_embedding_makes_ten_crops_from_five_and_passes_rejects_through(toy_clips):
    path = sorted(toy_clips["videos"].glob("*.mp4"))[0]
    s = spec(crops=10, size=224)
    _, r = rows(path, s)
    batch = {k: v[:2] for k, v in r.items()}
    batch["snippet"] = np.array([0, -1], np.int32)                   # the second row is a reject
    info = backbones.describe("effnet-lite0")
    out = EmbedSnippets(info.__dict__, crops=10)(batch)
    assert out["features"].shape == (2, 10, 1280) and not out["features"][1].any()
    assert set(out) == {"key", "snippet", "num_snippets", "num_frames", "claimed_frames", "fps", "note", "features"}
    backbone = backbones.load(info)
    crop0 = r["pixels"][0, 0]                                         # (1, 224, 224, 3): the centre crop
    flipped = backbone.embed(np.ascontiguousarray(crop0[None, :, :, ::-1]))[0]
    torch.testing.assert_close(torch.from_numpy(out["features"][0, 0]), backbone.embed(crop0[None])[0],
                               rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(torch.from_numpy(out["features"][0, 5]), flipped, rtol=1e-4, atol=1e-4)


def test_whole_snippets_reach_a_clip_backbone(toy_clips):
    path = sorted(toy_clips["videos"].glob("*.mp4"))[0]
    s = spec(positions=tuple(range(16)), size=224)
    _, r = rows(path, s)
    batch = {k: v[:1] for k, v in r.items()}
    assert batch["pixels"].shape == (1, 1, 16, 224, 224, 3)
    out = EmbedSnippets(backbones.describe("snippet-mean:effnet-lite0").__dict__, crops=1)(batch)
    image = backbones.load(backbones.describe("effnet-lite0"))
    expected = image.embed(batch["pixels"][0, 0][:, None]).mean(0)   # 16 frames, one at a time, averaged
    torch.testing.assert_close(torch.from_numpy(out["features"][0, 0]), expected, rtol=1e-4, atol=1e-4)


def feature_rows(key, snippets, total, crops=2, dim=3, note="", frames=None):
    n = len(snippets)
    return {"key": np.full(n, key), "snippet": np.asarray(snippets, np.int32),
            "num_snippets": np.full(n, total, np.int32), "num_frames": np.full(n, frames or 16 * max(total, 0)),
            "claimed_frames": np.full(n, 16 * max(total, 0)), "fps": np.full(n, 25.0, np.float32),
            "note": np.full(n, note),
            "features": np.asarray(snippets, np.float32)[:, None, None] + np.zeros((n, crops, dim), np.float32)}


def concat(*batches):
    return {k: np.concatenate([b[k] for b in batches]) for k in batches[0]}


def test_assembler_regroups_interleaved_snippets_and_writes_one_part_per_video(tmp_path):
    a = VideoEntry("/v/a.mp4", "a", "train", 1, "Arson", "real", "m.csv, line 2")
    b = VideoEntry("/v/b.mp4", "b", "test", 0, "Normal", "real", "m.csv, line 3")
    c = VideoEntry("/v/c.mp4", "c", "test", 0, "Normal", "real", "m.csv, line 4")
    assembler = VideoAssembler(tmp_path, [a, b, c], dtype="float16")
    # a: snippets 2,3 arrive (with T=4) before 0,1; b interleaves; c is a reject.
    assert assembler.add(concat(feature_rows(a.key, [2, 3], 4), feature_rows(b.key, [0], -1))) == []
    assert assembler.in_flight == 2
    done = assembler.add(concat(feature_rows(b.key, [1], 2), feature_rows(a.key, [1, 0], -1),
                                feature_rows(c.key, [-1], 0, note="zero-byte file")))
    assert sorted((r.entry.video_id, r.num_snippets, r.rejected, r.note) for r in done) == [
        ("a", 4, False, ""), ("b", 2, False, ""), ("c", 0, True, "zero-byte file")]
    assert assembler.in_flight == 0 and not part_path(tmp_path, c.key).exists()
    table = pq.read_table(part_path(tmp_path, a.key))
    assert table.column("crop").to_pylist() == [0, 1] and table.column("num_snippets").to_pylist() == [4, 4]
    assert pa.types.is_float16(table.schema.field("features").type.value_type)
    feats = np.asarray(table.column("features")[0].as_py()).reshape(4, 3)
    np.testing.assert_array_equal(feats[:, 0], [0, 1, 2, 3])          # snippet order restored
    assert table.column("split").to_pylist() == ["train", "train"] and table.column("fps")[0].as_py() == 25.0
