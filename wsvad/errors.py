"""Errors a user can act on. The CLI turns any of them into one line and exit code 2."""


class WsvadError(Exception):
    """Base class: the message is a complete, one-line explanation for the user."""


class FeatureSetError(WsvadError):
    """A feature set on disk (or being written) breaks the schema or its invariants."""


class AnnotationError(WsvadError):
    """An annotation file is malformed or names a video the feature set lacks."""


class ConfigError(WsvadError):
    """A method or trainer option is unknown or has the wrong type or value."""


class CheckpointError(WsvadError):
    """A checkpoint cannot be loaded or does not match the method or feature set."""
