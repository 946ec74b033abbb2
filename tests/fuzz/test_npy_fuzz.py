"""`.npy` feature dumps, fuzzed: the importers (extraction/importers) and `wsvad score`'s
`load_video_features`. A numeric, finite array imports to exactly its values (as float32, in the
(crops, T, D) layout); anything else — wrong ndim, nothing in it, NaN/Inf, values float32 cannot
hold, object/complex/bool/string/time dtypes, pickles, truncated or foreign files — is a one-line
error naming the list line and the file, and a pickled object is never unpickled."""

from __future__ import annotations

import io
import pickle
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from extraction.importers import import_features
from extraction.importers.errors import FeatureImportError
from strategies import assert_cli_one_line_error, assert_one_line, fuzz
from wsvad.errors import FeatureSetError, WsvadError
from wsvad.features import load_feature_set

NUMERIC = ["<f2", "<f4", "<f8", ">f4", "<i1", "<i2", "<i4", "<i8", "<u1", "<u2", "<u4", "<u8", "longdouble"]


class WritesMarker:
    """Unpickling this object creates the file ``path``: proof that a loader ran pickled code."""

    def __init__(self, path: str):
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


def npy_bytes(array: np.ndarray, allow_pickle: bool = False) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=allow_pickle)
    return buffer.getvalue()


@st.composite
def good_arrays(draw, ndim=None) -> np.ndarray:
    """(T, D) or (T, crops, D) arrays of any real numeric dtype, values float16 can hold."""
    ndim = ndim or draw(st.sampled_from([2, 3]))
    shape = (draw(st.integers(1, 6)), *([draw(st.integers(1, 3))] if ndim == 3 else []), draw(st.integers(1, 5)))
    dtype = np.dtype(draw(st.sampled_from(NUMERIC)))
    if dtype.kind == "f":
        elements = st.floats(-6e4, 6e4, allow_nan=False, allow_infinity=False, width=min(dtype.itemsize * 8, 64))
    else:
        info = np.iinfo(dtype)
        elements = st.integers(max(info.min, -60000), min(info.max, 60000))
    array = draw(hnp.arrays(dtype, shape, elements=elements))
    return np.asfortranarray(array) if draw(st.booleans()) else array


def as_crops(array: np.ndarray, layout: str) -> np.ndarray:
    """What the importers promise: (crops, T, D) float32."""
    a = array.astype(np.float32)
    if a.ndim == 2:
        return a[None]
    return a.transpose(1, 0, 2) if layout == "crops-last" else a


@fuzz(25)
@given(arrays=st.lists(good_arrays(), min_size=1, max_size=3), layout=st.sampled_from(["crops-last", "crops-first"]),
       data=st.data())
def test_numeric_finite_arrays_import_to_exactly_their_values(arrays, layout, data):
    dim = arrays[0].shape[-1]
    arrays = [a if a.shape[-1] == dim else a[..., :1].repeat(dim, -1) for a in arrays]  # one D for the set
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        (tmp / "npy").mkdir()
        rows = ["video_id,label,class_name,split"]
        for k, array in enumerate(arrays):
            np.save(tmp / "npy" / f"v{k}.npy", array)
            rows.append(f"v{k},{k % 2},{'Arson' if k % 2 else 'Normal'},{data.draw(st.sampled_from(['train', 'val']))}")
        (tmp / "labels.csv").write_text("\n".join(rows))
        import_features("npy-dir", tmp / "out", "fuzz", npy_dir=tmp / "npy", labels_csv=tmp / "labels.csv",
                        layout=layout)
        fs = load_feature_set(tmp / "out")
        for k, array in enumerate(arrays):
            np.testing.assert_array_equal(fs.video(fs.index_of(f"v{k}")), as_crops(array, layout))


# --- bad arrays and bad files -----------------------------------------------------------------

BAD_DTYPES = [np.bool_, np.complex64, np.complex128, "<U3", "S3", "datetime64[s]", "timedelta64[s]",
              [("a", "<f4"), ("b", "<f4")], "V4"]


@st.composite
def bad_npy(draw, marker: str, score: bool = False) -> tuple[bytes, str]:
    """(file bytes, what the importer's error must say). ``score`` leaves out what `wsvad score`
    gets wrong today (see SCORE_KNOWN_BAD) and D=0, which `wsvad score` refuses by the model's dim."""
    kinds = ["ndim", "empty", "nonfinite", "overflow", "dtype", "object", "truncated", "garbage", "pickle", "npz",
             "huge-header"]
    kind = draw(st.sampled_from([k for k in kinds if not (score and k in ("overflow", "huge-header"))]))
    if kind == "huge-header":  # promises more than any memory, holds 16 bytes
        return score_input("huge-header", marker)
    good = draw(good_arrays())
    if kind == "ndim":
        shape = draw(st.sampled_from([(), (5,), (2, 2, 2, 2), (1, 1, 1, 1, 1)]))
        return npy_bytes(np.ones(shape, np.float32)), "has shape"
    if kind == "empty":
        shape = draw(st.sampled_from([(0, 4)] if score else [(0, 4), (3, 0), (0, 2, 4), (3, 0, 4), (3, 2, 0)]))
        return npy_bytes(np.zeros(shape, np.float32)), "is empty"
    if kind == "nonfinite":
        array = good.astype(draw(st.sampled_from(["<f2", "<f4", "<f8", ">f8"])))
        array.flat[draw(st.integers(0, array.size - 1))] = draw(st.sampled_from([np.nan, np.inf, -np.inf]))
        return npy_bytes(array), "has NaN or Inf features"
    if kind == "overflow":  # finite in float64, infinite once stored as float32
        array = good.astype(np.float64)
        array.flat[draw(st.integers(0, array.size - 1))] = draw(st.sampled_from([1e39, -3.5e38, 1e300]))
        return npy_bytes(array), "has values beyond the range of float32"
    if kind == "dtype":
        dtype = np.dtype(draw(st.sampled_from([t for t in BAD_DTYPES if not (score and t == "timedelta64[s]")])))
        return npy_bytes(np.zeros(good.shape, dtype)), f"has dtype {dtype}"
    if kind == "object":
        array = np.empty(good.shape, object)
        array.flat[0] = WritesMarker(marker)
        return npy_bytes(array, allow_pickle=True), "pickled Python objects"
    if kind == "truncated":
        raw = npy_bytes(good)
        cut = draw(st.integers(1 if score else 0, len(raw) - 1))
        return raw[:cut], "not a .npy file" if cut < 6 else "not a readable .npy array"
    if kind == "garbage":
        raw = draw(st.binary(min_size=1 if score else 0, max_size=64).filter(lambda b: not b.startswith((b"PK", b"\x80", b"\x93NUMPY"))))
        return raw, "not a .npy file"
    if kind == "pickle":
        return pickle.dumps({"features": WritesMarker(marker)}, protocol=draw(st.integers(2, 5))), "is a Python pickle"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        z.writestr("x.npy", npy_bytes(good))
    return buffer.getvalue(), "is an .npz archive"


@fuzz(80)
@given(data=st.data(), position=st.integers(0, 2), layout=st.sampled_from(["crops-last", "crops-first"]))
def test_a_bad_npy_file_is_a_one_line_error_naming_its_list_line(data, position, layout):
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        marker = tmp / "UNPICKLED"
        raw, say = data.draw(bad_npy(str(marker)))
        names = ["Arson011_x264_i3d.npy", "Normal_Videos_003_x264_i3d.npy", "Abuse001_x264_i3d.npy"]
        for name in names:
            np.save(tmp / name, np.ones((4, 2, 3), np.float32))
        (tmp / names[position]).write_bytes(raw)
        (tmp / "train.list").write_text("\n".join(names) + "\n")
        with pytest.raises(FeatureImportError) as caught:
            import_features("rtfm", tmp / "out", "fuzz", train_list=tmp / "train.list", layout=layout)
        assert_one_line(caught.value, f"{tmp / 'train.list'}, line {position + 1}: ", names[position], say)
        assert not marker.exists(), "a pickled object was unpickled"
        assert not (tmp / "out").exists() and not list(tmp.glob(".out.importing-*"))


@fuzz(20)
@given(first=good_arrays(ndim=2), other_dim=st.integers(1, 6), other_t=st.integers(1, 6))
def test_videos_and_crops_of_different_shapes_are_refused(first, other_dim, other_t):
    """Videos must share D; the crop files of one video (VadCLIP) must share T and D."""
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        t, d = first.shape
        np.save(tmp / "Arson011_x264__0.npy", first)
        np.save(tmp / "Arson011_x264__1.npy", np.ones((other_t, d), np.float32))
        np.save(tmp / "Abuse001_x264__0.npy", np.ones((t, other_dim), np.float32))
        (tmp / "train.csv").write_text("path,label\nArson011_x264__0.npy,Arson\nArson011_x264__1.npy,Arson\n"
                                       "Abuse001_x264__0.npy,Abuse\n")
        try:
            manifest = import_features("vadclip", tmp / "out", "fuzz", lists=[(tmp / "train.csv", "train")])
        except FeatureImportError as error:
            if other_t != t:
                assert_one_line(error, f"{tmp / 'train.csv'}, line 3: ", "crop 1 has shape")
            else:
                assert other_dim != d
                assert_one_line(error, f"{tmp / 'train.csv'}, line 4: ", f"feature dim D={other_dim} differs from D={d}")
            assert not (tmp / "out").exists()
            return
        assert other_t == t and other_dim == d and manifest["dim"] == d


def test_the_cli_reports_a_pickled_npy_in_one_line_and_never_unpickles_it(tmp_path):
    marker = tmp_path / "UNPICKLED"
    array = np.empty((2, 3), object)
    array[0, 0] = WritesMarker(str(marker))
    (tmp_path / "Arson011_x264_i3d.npy").write_bytes(npy_bytes(array, allow_pickle=True))
    (tmp_path / "train.list").write_text("Arson011_x264_i3d.npy\n")
    assert_cli_one_line_error(["import-features", "--format", "rtfm", "--out", str(tmp_path / "out"), "--dataset",
                               "x", "--train-list", str(tmp_path / "train.list")],
                              "line 1", "pickled Python objects")
    assert not marker.exists() and not (tmp_path / "out").exists()


# --- `wsvad score --features FILE.npy` ----------------------------------------------------------

# Inputs load_video_features (wsvad/cli/score_cmd.py) once got wrong (an empty file, a header
# promising 37 GiB, timedelta64, float64 beyond float32, zero crops); each pinned by a case below.
SCORE_KNOWN_BAD = {"empty-file", "timedelta", "overflow", "zero-crops", "huge-header"}


def score_input(kind: str, marker: str) -> tuple[bytes, str]:
    if kind == "empty-file":
        return b"", "not a readable .npy array"
    if kind == "timedelta":
        return npy_bytes(np.ones((3, 4), "timedelta64[s]")), "expected a real numeric array"
    if kind == "overflow":
        return npy_bytes(np.full((3, 4), 1e39)), "float32"
    if kind == "zero-crops":
        return npy_bytes(np.ones((3, 0, 4), np.float32)), "shape"
    buffer = io.BytesIO()  # huge-header: a header that promises 37 GiB, then 16 bytes
    np.lib.format.write_array_header_1_0(buffer, {"descr": "<f4", "fortran_order": False, "shape": (10**5, 10**5)})
    return buffer.getvalue() + b"\0" * 16, "not a readable .npy array"


def load_score_features(raw: bytes, layout: str = "crops-last"):
    from wsvad.cli.score_cmd import load_video_features

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "video.npy"
        path.write_bytes(raw)
        try:
            return load_video_features(path, layout), str(path)
        except WsvadError as error:
            return error, str(path)


@fuzz(60)
@given(data=st.data(), layout=st.sampled_from(["crops-last", "crops-first"]))
def test_score_features_load_exactly_or_fail_in_one_line(data, layout):
    with tempfile.TemporaryDirectory() as tmp:
        marker = Path(tmp) / "UNPICKLED"
        if data.draw(st.booleans()):
            array = data.draw(good_arrays())
            got, path = load_score_features(npy_bytes(array), layout)
            assert not isinstance(got, Exception), got
            assert got.dtype == np.float32 and got.flags.c_contiguous
            np.testing.assert_array_equal(got, as_crops(array, layout))
            return
        raw, _ = data.draw(bad_npy(str(marker), score=True))
        got, path = load_score_features(raw, layout)
        assert isinstance(got, FeatureSetError), f"loaded {got!r}"
        assert_one_line(got, path)
        assert not marker.exists(), "a pickled object was unpickled"


@pytest.mark.parametrize("kind", sorted(SCORE_KNOWN_BAD))
def test_score_features_known_bad_inputs_are_one_line_errors(kind):
    raw, say = score_input(kind, "")
    got, path = load_score_features(raw)
    assert isinstance(got, FeatureSetError), f"loaded {got!r}"
    assert_one_line(got, path, say)


@pytest.fixture(scope="module")
def mil_checkpoint(tmp_path_factory):
    from wsvad.methods import get_method, make_config
    from wsvad.train import save_checkpoint

    cls = get_method("mil")
    path = tmp_path_factory.mktemp("ckpt") / "mil.pt"
    save_checkpoint(path, model=cls(make_config(cls), 4), feature_set_hash="", dataset="fuzz")
    return path


@pytest.mark.parametrize("raw", [npy_bytes(np.full((3, 4), np.nan, np.float32)), b"\x93NUMPY\x01\x00\x10",
                                 pickle.dumps([1.0]), npy_bytes(np.ones((3, 5), np.float32))],
                         ids=["nan", "truncated", "pickle", "wrong-dim"])
def test_the_score_cli_reports_bad_features_in_one_line(tmp_path, mil_checkpoint, raw):
    (tmp_path / "video.npy").write_bytes(raw)
    assert_cli_one_line_error(["score", "--features", str(tmp_path / "video.npy"), "--model", str(mil_checkpoint),
                               "--out", str(tmp_path / "scores")], str(tmp_path / "video.npy"))
    assert not list(tmp_path.glob("scores/*"))
