"""Errors of the extraction job that a user can act on (one line each, exit code 2 in the CLI)."""

from wsvad.errors import WsvadError


class ExtractionError(WsvadError):
    """An extraction input, option or output directory is wrong; the message says how to fix it."""


class WeightsUnavailable(ExtractionError):
    """A backbone's weights cannot be had here; the message names how to supply them."""
