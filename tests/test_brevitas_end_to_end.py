"""The shipped Brevitas digits models in every backend x strategy x io type: the same bits in
every cell and from the emulator, within one output LSB of Brevitas's own outputs."""

from tests.keras_models import assert_staircases_give_framework_codes, convert_torch_example, same_bits_in_every_cell

import numpy as np
import pytest

from nnhls.examples import load_digits_data

torch = pytest.importorskip("torch")
torch_digits = pytest.importorskip("nnhls.examples.torch_digits")


OUTPUT_TYPE = "ap_fixed<16,6,AP_RND_CONV,AP_SAT>"


@pytest.mark.parametrize("name, input_shape", [("brevitas_mlp", (64,)), ("brevitas_cnn", (1, 8, 8))])
def test_brevitas_models_match_brevitas_within_an_output_lsb_in_every_cell(tmp_path, name, input_shape):
    """Every quantizer inside is Brevitas's bit for bit (tests/test_brevitas_layers.py); the float
    logits Brevitas sums in float32, nnhls exactly, rounded once into the output type.

    Brevitas also sums each convolution in float32, in an order that depends on the CPU, so on some
    machines a sum lands on the other side of a quantizer's step than its exact value: such a
    sample differs between Brevitas in float32 and in float64. There nnhls, whose sums are exact,
    is compared with Brevitas in float64."""
    import copy

    pytest.importorskip("brevitas")
    model = torch_digits.load(name)
    _, _, X, y = load_digits_data()
    X = X.reshape(-1, *input_shape)
    with torch.no_grad():
        expected = model(torch.tensor(X, dtype=torch.float32)).numpy().astype(np.float64)
        in_float64 = copy.deepcopy(model).double()(torch.tensor(X, dtype=torch.float64)).numpy()
    reference = same_bits_in_every_cell(model, X, tmp_path, name, convert=convert_torch_example,
                                        input_shape=input_shape, reuse_factor=4, output_precision=OUTPUT_TYPE)
    lsb = 2.0**-10
    float32_rounded = np.abs(expected - in_float64).max(axis=1) > lsb
    assert float32_rounded.mean() <= 0.01
    error = np.abs(reference - np.where(float32_rounded[:, None], in_float64, expected)) / lsb
    assert error.max() <= 1
    kept = ~float32_rounded
    assert np.mean(reference[kept] == np.round(expected[kept] / lsb) * lsb) >= 0.998
    assert abs((reference.argmax(axis=1) == y).mean() - (expected.argmax(axis=1) == y).mean()) <= 1 / len(y)
    every_quantizer_is_brevitas(model, tmp_path, input_shape, X[kept])


def every_quantizer_is_brevitas(model, folder, input_shape, X):
    """Each quantizer's codes, through nnhls.compare's per-layer outputs, are Brevitas's own."""
    import nnhls
    from nnhls.frontends.pytorch import layer_outputs

    config = nnhls.config_from_pytorch_model(model, input_shape)
    hls_model = nnhls.convert_from_pytorch_model(model, hls_config=config, output_dir=folder / "per_layer")
    theirs = layer_outputs(model, hls_model.graph, [X])
    assert_staircases_give_framework_codes(hls_model, theirs, X, count=3)
