import numpy as np
import pytest

from nnhls.hls import layout
from nnhls.ir import Dense, Weights


@pytest.mark.parametrize("n_in, n_out", [(16, 64), (64, 32), (32, 5), (3, 7), (1, 1)])
def test_every_layout_round_trips(n_in, n_out):
    weight = np.arange(n_in * n_out).reshape(n_in, n_out) * 7 - 11
    assert np.array_equal(layout.dense_from_flat(layout.dense_flat(weight), n_in, n_out), weight)
    dense = Dense("d", ["x"], (n_out,), weight=Weights(weight.astype(float)), bias=Weights(np.zeros(n_out)))
    for reuse_factor in dense.valid_reuse_factors("Resource"):
        blocks = layout.dense_blocks(weight, reuse_factor)
        assert blocks.shape == (reuse_factor, n_in * n_out // reuse_factor)
        assert np.array_equal(layout.dense_from_blocks(blocks, n_in, n_out), weight)


def test_resource_blocks_are_whole_rows_or_parts_of_one_row():
    n_in, n_out = 6, 4
    weight = np.arange(n_in * n_out).reshape(n_in, n_out)
    dense = Dense("d", ["x"], (n_out,), weight=Weights(weight.astype(float)), bias=Weights(np.zeros(n_out)))
    assert dense.valid_reuse_factors("Resource") == [1, 2, 3, 6, 12, 24]
    assert layout.dense_blocks(weight, 3)[1].tolist() == weight[2:4].reshape(-1).tolist()  # two whole rows
    assert layout.dense_blocks(weight, 12)[5].tolist() == weight[2, 2:4].tolist()  # half of row 2
    assert dense.valid_reuse_factors("Latency") == list(range(1, 25))


def test_blocks_need_a_dividing_reuse_factor():
    with pytest.raises(ValueError, match="does not divide"):
        layout.dense_blocks(np.zeros((4, 4)), 3)


@pytest.mark.parametrize("shape", [(3, 3, 2, 5), (1, 4, 3, 2), (2, 1, 1, 1)])
def test_conv_matrix_round_trips_and_follows_the_window_order(shape):
    kernel = np.arange(int(np.prod(shape))).reshape(shape)
    matrix = layout.conv_matrix(kernel)
    assert np.array_equal(layout.conv_from_matrix(matrix, *shape[:3]), kernel)
    kernel_h, kernel_w, c_in, _ = shape
    for ky in range(kernel_h):  # row (ky * kernel_w + kx) * c_in + c multiplies tap (ky, kx), channel c
        for kx in range(kernel_w):
            for c in range(c_in):
                assert np.array_equal(matrix[(ky * kernel_w + kx) * c_in + c], kernel[ky, kx, c])
