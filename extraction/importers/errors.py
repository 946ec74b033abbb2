"""Errors raised while importing existing feature dumps."""

from wsvad.errors import WsvadError


class FeatureImportError(WsvadError):
    """An import input (list, CSV, `.npy` file or argument) is missing or malformed.

    The message is one line and names the file, and the list line where one is involved.
    """
