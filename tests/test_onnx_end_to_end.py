"""The shipped ONNX and QONNX digits models in every backend x strategy x io type: the same bits
in every cell and from the emulator; the QONNX models within one output LSB of QONNX's reference
execution on every output and equal to it on at least 99.9 % of them."""

from tests.keras_models import assert_staircases_give_framework_codes, convert_onnx_example, same_bits_in_every_cell

import numpy as np
import pytest

from nnhls.examples import DIGITS_ONNX_CNN, DIGITS_QONNX_CNN, DIGITS_QONNX_MLP, load_digits_data

pytest.importorskip("onnx")
pytest.importorskip("qonnx")
onnxruntime = pytest.importorskip("onnxruntime")

OUTPUT_TYPE = "ap_fixed<16,6,AP_RND_CONV,AP_SAT>"
OUTPUT_LSB = 2.0**-10


def all_digits(input_shape):
    X_train, y_train, X_test, y_test = load_digits_data()
    return np.concatenate([X_train, X_test]).reshape(-1, *input_shape), np.concatenate([y_train, y_test])


@pytest.mark.parametrize("path, input_shape", [(DIGITS_QONNX_MLP, (64,)), (DIGITS_QONNX_CNN, (1, 8, 8))])
def test_qonnx_models_match_qonnx_execution_within_an_output_lsb_in_every_cell(tmp_path, path, input_shape):
    """Every quantizer inside is QONNX's bit for bit; QONNX sums the float logits in float32, nnhls
    exactly, rounded once into the output type. All 1,797 digits."""
    from nnhls.frontends.onnx import reference_outputs

    X, y = all_digits(input_shape)
    (expected,) = reference_outputs(path, [X]).values()
    ours = same_bits_in_every_cell(path, X, tmp_path, path.stem, convert=convert_onnx_example, reuse_factor=4,
                                   output_precision=OUTPUT_TYPE)
    error = np.abs(ours - expected) / OUTPUT_LSB
    assert error.max() <= 1
    assert np.mean(ours == np.round(expected / OUTPUT_LSB) * OUTPUT_LSB) >= 0.999
    assert (ours.argmax(axis=1) == y).mean() == (expected.argmax(axis=1) == y).mean()


def test_float_onnx_cnn_in_every_cell_at_onnxruntime_accuracy(tmp_path):
    X, y = all_digits((1, 8, 8))
    session = onnxruntime.InferenceSession(str(DIGITS_ONNX_CNN))
    (logits,) = session.run(None, {session.get_inputs()[0].name: X.astype(np.float32)})
    ours = same_bits_in_every_cell(DIGITS_ONNX_CNN, X, tmp_path, "onnx_cnn", convert=convert_onnx_example,
                                   reuse_factor=4, default_precision="ap_fixed<20,10,AP_RND_CONV,AP_SAT>")
    assert abs((ours.argmax(axis=1) == y).mean() - (logits.argmax(axis=1) == y).mean()) <= 0.002


def test_every_quantizer_gives_qonnx_codes_and_compare_says_so(tmp_path):
    """Through nnhls.compare's per-layer outputs: each Quant's codes are QONNX's own. (compare divides
    QONNX's float32 code * scale by the scale, which leaves millionths of an LSB.)"""
    import nnhls
    from nnhls.frontends.onnx import layer_outputs

    X, _ = all_digits((1, 8, 8))
    X = X[:300]
    config = nnhls.config_from_onnx_model(DIGITS_QONNX_CNN)
    hls_model = nnhls.convert_from_onnx_model(DIGITS_QONNX_CNN, hls_config=config, output_dir=tmp_path / "prj")
    theirs = layer_outputs(DIGITS_QONNX_CNN, hls_model.graph, [X])
    steps = assert_staircases_give_framework_codes(hls_model, theirs, X, count=3)
    rows = {row.layer: row for row in nnhls.compare(str(DIGITS_QONNX_CNN), hls_model, X)}
    for node in steps:
        assert rows[node.framework_output].max_error_lsb < 1e-4, node.name
