"""Weight layouts the C++ kernels read, as pure functions of the canonical IR tensors.

Both Dense strategies read the canonical row-major (n_in, n_out) order: the Resource kernel's
cycle r uses weights r * block_factor ... (r + 1) * block_factor - 1, which are whole rows or an
equal part of one row (see `Dense.valid_reuse_factors`), so no transposition is ever needed.
A convolution is that Dense on each output pixel's window, whose taps come in (row, column,
channel) order: the canonical (kernel_h, kernel_w, c_in, c_out) kernel, read row-major, is
already its (n_in, n_out) matrix. Every layout here has its inverse beside it, and a test holds each pair to a round trip.
"""

from __future__ import annotations

import numpy as np

__all__ = ["conv_from_matrix", "conv_matrix", "dense_blocks", "dense_flat", "dense_from_blocks", "dense_from_flat",
           "dense_weights", "grouped_from_weights", "grouped_weights"]


def dense_weights(weight: np.ndarray, strategy: str, reuse_factor: int) -> np.ndarray:
    """The weight array a Dense kernel of `strategy` reads, in the order it reads it."""
    if strategy == "Resource":
        return dense_blocks(weight, reuse_factor).reshape(-1)
    return dense_flat(weight)


def grouped_weights(weight: np.ndarray, groups: int, strategy: str, reuse_factor: int) -> np.ndarray:
    """A grouped convolution's weight array: each group's (n_in, n_out / groups) columns in turn,
    each in the order its group's Dense reads it."""
    parts = np.split(np.asarray(weight), groups, axis=1)
    return np.concatenate([dense_weights(part, strategy, reuse_factor) for part in parts])


def grouped_from_weights(flat: np.ndarray, n_in: int, n_out: int, groups: int) -> np.ndarray:
    parts = np.split(np.asarray(flat), groups)
    return np.concatenate([part.reshape(n_in, n_out // groups) for part in parts], axis=1)


def dense_flat(weight: np.ndarray) -> np.ndarray:
    """The (n_in, n_out) weight matrix as the one-dimensional array both kernels read."""
    return np.ascontiguousarray(weight).reshape(-1)


def dense_from_flat(flat: np.ndarray, n_in: int, n_out: int) -> np.ndarray:
    return np.asarray(flat).reshape(n_in, n_out)


def dense_blocks(weight: np.ndarray, reuse_factor: int) -> np.ndarray:
    """The Resource strategy's weight memory: row r holds what cycle r multiplies."""
    n_weights = weight.size
    if n_weights % reuse_factor:
        raise ValueError(f"reuse factor {reuse_factor} does not divide the {n_weights} weights")
    return dense_flat(weight).reshape(reuse_factor, n_weights // reuse_factor)


def dense_from_blocks(blocks: np.ndarray, n_in: int, n_out: int) -> np.ndarray:
    return dense_from_flat(np.asarray(blocks).reshape(-1), n_in, n_out)


def conv_matrix(kernel: np.ndarray) -> np.ndarray:
    """The (kernel_h * kernel_w * c_in, c_out) matrix of a convolution's Dense."""
    return np.ascontiguousarray(kernel).reshape(-1, kernel.shape[-1])


def conv_from_matrix(matrix: np.ndarray, kernel_h: int, kernel_w: int, c_in: int) -> np.ndarray:
    return np.asarray(matrix).reshape(kernel_h, kernel_w, c_in, -1)
