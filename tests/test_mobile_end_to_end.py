"""The shipped QKeras mobile-style CNN (QDepthwiseConv2D, a pointwise QConv2D, QSeparableConv2D,
UpSampling2D, GlobalAveragePooling2D) in every backend x strategy x io type: the same bits
everywhere, equal to the emulator, at QKeras's accuracy; the threaded C simulation of its
io_stream design runs with the planned FIFO depths."""

# tests.keras_models sets TF_USE_LEGACY_KERAS before TensorFlow loads
from tests.keras_models import convert_example, load_example, same_bits_in_every_cell

import numpy as np
import pytest

from nnhls.examples import DIGITS_MOBILE, load_digits_images


@pytest.fixture(scope="module")
def mobile():
    return load_example(DIGITS_MOBILE)


def test_eight_cells_give_the_same_bits_at_qkeras_accuracy(mobile, tmp_path):
    _, _, X, y = load_digits_images()
    qkeras_out = mobile.predict(X, verbose=0)
    reference = same_bits_in_every_cell(mobile, X, tmp_path, "mobile")
    accuracy, qkeras_accuracy = ((out.argmax(axis=1) == y).mean() for out in (reference, qkeras_out))
    assert abs(accuracy - qkeras_accuracy) <= 0.01
    # Everything before the softmax is exact in QKeras's float32 too: the same classes.
    assert np.mean(reference.argmax(axis=1) == qkeras_out.argmax(axis=1)) >= 0.99


def test_io_stream_design_runs_with_its_planned_fifo_depths(mobile, tmp_path):
    _, _, X, _ = load_digits_images()
    model = convert_example(mobile, "Vitis", "Resource", "io_stream", tmp_path / "prj", "mobile")
    result = model.simulate_dataflow(X[:10])
    assert result.ok and not result.deadlock and result.samples == 10, result.report
