"""The shipped recurrent classifiers in every backend x strategy x io type: the same bits in every
cell and from the emulator, and the framework's accuracy within one point."""

import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

from tests.keras_models import same_bits_in_every_cell

import numpy as np
import pytest

from nnhls.examples import SEQUENCE_GRU, SEQUENCE_LSTM, sequence_task

pytest.importorskip("tf_keras")


@pytest.mark.parametrize("path", [SEQUENCE_LSTM, SEQUENCE_GRU], ids=["lstm", "two_grus"])
def test_keras_recurrent_classifier_in_every_cell_at_keras_accuracy(tmp_path, path):
    from nnhls.frontends.keras import load_keras_file

    model = load_keras_file(path)
    X, y = sequence_task(1000, seed=2)
    framework = (model.predict(X, verbose=0).argmax(axis=1) == y).mean()
    ours = same_bits_in_every_cell(model, X, tmp_path, path.stem, reuse_factor=4)
    assert abs((ours.argmax(axis=1) == y).mean() - framework) <= 0.01


OUTPUT_TYPE = "ap_fixed<16,6,AP_RND_CONV,AP_SAT>"
OUTPUT_LSB = 2.0**-10


def convert_with_output_type(model, backend, strategy, io_type, folder, project_name, reuse_factor=1):
    """convert_example, the output layer's result in OUTPUT_TYPE."""
    import nnhls
    from tests.keras_models import _converted

    config = nnhls.config_from_keras_model(model, granularity="name", backend=backend)
    config["LayerName"][model.layers[-1].name]["Precision"]["result"] = OUTPUT_TYPE
    return _converted(nnhls.convert_from_keras_model, model, config, strategy, reuse_factor, backend=backend,
                      io_type=io_type, output_dir=folder, project_name=project_name)


def test_qkeras_qlstm_in_every_cell_within_an_output_lsb_of_qkeras(tmp_path):
    """Every quantizer, the quantized tanh and QKeras's hard sigmoid are exact, and so is the state
    fed back; QKeras sums the logits in float32, nnhls exactly, rounded once into the output type."""
    from nnhls.frontends.keras import load_keras_file
    from nnhls.examples import SEQUENCE_QLSTM

    pytest.importorskip("qkeras")
    model = load_keras_file(SEQUENCE_QLSTM)
    X, y = sequence_task(1000, seed=2)
    expected = model.predict(X, verbose=0).astype(np.float64)
    ours = same_bits_in_every_cell(model, X, tmp_path, "qlstm", convert=convert_with_output_type, reuse_factor=4)
    assert np.abs(ours - expected).max() <= OUTPUT_LSB
    assert np.mean(ours == np.round(expected / OUTPUT_LSB) * OUTPUT_LSB) >= 0.999
    assert (ours.argmax(axis=1) == y).mean() == (expected.argmax(axis=1) == y).mean()


def test_pytorch_lstm_in_every_cell_at_pytorch_accuracy(tmp_path):
    torch = pytest.importorskip("torch")
    from nnhls.examples.torch_sequences import load
    from tests.keras_models import convert_torch_example

    model = load()
    X, y = sequence_task(1000, seed=2)
    with torch.no_grad():
        framework = (model(torch.tensor(X)).argmax(dim=1).numpy() == y).mean()
    ours = same_bits_in_every_cell(model, X, tmp_path, "torch_lstm", convert=convert_torch_example,
                                   input_shape=(20, 2), reuse_factor=4)
    assert abs((ours.argmax(axis=1) == y).mean() - framework) <= 0.01


def test_the_readme_s_recurrent_example_runs(tmp_path, monkeypatch):
    import re
    from pathlib import Path

    import nnhls

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    code = re.search(r"A recurrent network goes the same way.*?```python\n(.*?)```", readme, re.S).group(1)
    monkeypatch.chdir(tmp_path)
    namespace = {"nnhls": nnhls, "np": np}
    exec(compile(code, "README.md", "exec"), namespace)
    assert namespace["equal"] == 1.0
