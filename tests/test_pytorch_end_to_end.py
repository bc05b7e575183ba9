"""The shipped PyTorch digits models in every backend x strategy x io type: the same bits in
every cell and from the emulator, at PyTorch's accuracy (within one point)."""

from tests.keras_models import convert_torch_example, same_bits_in_every_cell

import pytest

from nnhls.examples import load_digits_data

torch = pytest.importorskip("torch")
torch_digits = pytest.importorskip("nnhls.examples.torch_digits")

PRECISION = "ap_fixed<20,10,AP_RND_CONV,AP_SAT>"


@pytest.mark.parametrize("name, input_shape, reuse_factor", [("cnn", (1, 8, 8), 4), ("mlp", (64,), 8)])
def test_eight_cells_give_the_same_bits_at_pytorch_accuracy(tmp_path, name, input_shape, reuse_factor):
    model = torch_digits.load(name)
    _, _, X, y = load_digits_data()
    X = X.reshape(-1, *input_shape)
    with torch.no_grad():
        torch_accuracy = (model(torch.tensor(X, dtype=torch.float32)).numpy().argmax(axis=1) == y).mean()
    reference = same_bits_in_every_cell(model, X, tmp_path, f"torch_{name}", convert=convert_torch_example,
                                        input_shape=input_shape, reuse_factor=reuse_factor,
                                        default_precision=PRECISION)
    accuracy = (reference.argmax(axis=1) == y).mean()
    assert abs(accuracy - torch_accuracy) <= 0.01

