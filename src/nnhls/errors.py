"""The errors nnhls raises. Each names what was given, what was expected, and how to fix it."""

__all__ = ["NnhlsError", "PrecisionError"]


class NnhlsError(Exception):
    """Base class of every error nnhls raises on purpose."""


class PrecisionError(NnhlsError, ValueError):
    """A precision string or fixed-point type is malformed or invalid."""
