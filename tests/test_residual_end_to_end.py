"""The shipped QKeras residual CNN (an Add around two QConv2D layers, a Concatenate of a 1x1 and a
3x3 branch, max pooling, QDense, softmax) in every backend x strategy x io type: the same bits
everywhere, equal to the emulator, at QKeras's accuracy; and its io_stream FIFOs, computed from
the stages' patterns, checked by the threaded C simulation with every stream bounded."""

# tests.keras_models sets TF_USE_LEGACY_KERAS before TensorFlow loads
from tests.keras_models import convert_example, load_example, same_bits_in_every_cell

import pytest

from nnhls.examples import DIGITS_RESIDUAL, load_digits_images


@pytest.fixture(scope="module")
def residual():
    return load_example(DIGITS_RESIDUAL)


@pytest.fixture(scope="module")
def digits():
    _, _, X, y = load_digits_images()
    return X, y


def convert(model, backend, strategy, io_type, folder):
    return convert_example(model, backend, strategy, io_type, folder, "residual")


def test_eight_cells_give_the_same_bits_at_qkeras_accuracy(residual, digits, tmp_path):
    X, y = digits
    keras_accuracy = (residual.predict(X, verbose=0).argmax(axis=1) == y).mean()
    reference = same_bits_in_every_cell(residual, X, tmp_path, "residual")
    accuracy = (reference.argmax(axis=1) == y).mean()
    assert abs(accuracy - keras_accuracy) <= 0.01


def test_computed_fifo_depths_pass_and_one_less_on_the_skip_path_deadlocks(residual, digits, tmp_path):
    X, _ = digits
    model = convert(residual, "Vitis", "Latency", "io_stream", tmp_path / "prj")
    depths = model.fifo_depths
    # The Add's skip input waits for two 3x3 line buffers over 8x8 images, 9 packets each (a row
    # and a pixel), less the one the fork writes to the long path first. The 1x1 branch of the
    # Concatenate waits for one line buffer over 4x4 images (5 packets), which its stages and
    # FIFOs of depth 1 already hold, one packet each; so every other stream is 1.
    skip_stream = next(name for name in depths if depths[name] == max(depths.values()))
    assert depths[skip_stream] == 2 * 9 - 1, depths
    assert sorted(depths.values())[-2] == 1, depths
    passed = model.simulate_dataflow(X[:20])
    assert passed.ok and not passed.deadlock and passed.samples == 20, passed.report
    stalled = model.simulate_dataflow(fifo_depths={skip_stream: depths[skip_stream] - 1})
    assert stalled.deadlock and not stalled.ok
    assert skip_stream in stalled.report and "full" in stalled.report
