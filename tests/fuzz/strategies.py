"""What the fuzz tests share: the settings, the one-line-error check, the in-process CLI, and
generators of the awkward text that real annotation files, lists and manifests contain."""

from __future__ import annotations

import contextlib
import io
import string

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from wsvad.annotations import VIDEO_EXTENSIONS


def fuzz(examples: int):
    """Hypothesis settings for one property: few examples (2 shared cores), no deadline."""
    return settings(max_examples=examples, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.filter_too_much])


def assert_one_line(error: BaseException, *names: str) -> str:
    """The message of a user-facing error: one non-empty line that names each of ``names``."""
    message = str(error)
    assert message and "\n" not in message and "\r" not in message, repr(message)
    for name in names:
        assert name in message, (name, message)
    assert error.__cause__ is None and (error.__context__ is None or error.__suppress_context__), \
        f"a chained traceback hangs off {message!r}"
    return message


def run_cli(argv: list[str]) -> tuple[int, str]:
    """``wsvad ARGV`` in this process: (exit code, stderr). Any exception but SystemExit escapes."""
    from wsvad.cli.main import main

    err, out = io.StringIO(), io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
        code = main(argv)
    return code, err.getvalue()


def assert_cli_one_line_error(argv: list[str], *names: str) -> str:
    code, stderr = run_cli(argv)
    assert code == 2, (code, stderr)
    assert "Traceback" not in stderr
    lines = stderr.strip("\n").split("\n")
    assert len(lines) == 1 and lines[0].startswith(f"wsvad {argv[0]}: error: "), stderr
    for name in names:
        assert name in lines[0], (name, stderr)
    return lines[0]


# --- names ------------------------------------------------------------------------------------

_ID_CHARS = string.ascii_letters + string.digits + "_-#.()"


def _plain_id(text: str) -> bool:
    return (bool(text) and not text.startswith(".") and not text.lower().endswith(VIDEO_EXTENSIONS)
            and not text.lower().endswith(".npy"))


# A video id as the official files spell them: no whitespace, comma, quote or slash.
video_ids = st.text(_ID_CHARS, min_size=1, max_size=24).filter(_plain_id)

# Frame numbers up to ~3 h of 1000 fps video.
frames = st.integers(0, 10**7)


@st.composite
def intervals(draw, max_events: int = 3) -> list[tuple[int, int]]:
    """``[start, end]`` pairs with start <= end (overlaps allowed: the protocol takes their union)."""
    pairs = []
    for _ in range(draw(st.integers(0, max_events))):
        start = draw(frames)
        pairs.append((start, start + draw(st.integers(0, 10**5))))
    return pairs


# Tokens that look like frame numbers to a careless parser but are not plain integers.
not_integers = st.sampled_from(
    ["1.5", "1e3", "abc", "0x10", "+3", "1_0", "\u0663", "NaN", "inf", "--1", "3-", "١٢", "½", "1,0", "None"])
# Integers that are not valid frame numbers.
bad_negatives = st.integers(-10**9, -2).map(str)
huge_integers = st.integers(4400, 6000).map(lambda n: "9" * n)  # beyond int()'s default digit limit

# Whitespace that str.split() treats as a separator.
separators = st.text(" \t\x0b\x0c", min_size=1, max_size=3)
line_ends = st.sampled_from(["\n", "\r\n"])
