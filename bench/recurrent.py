"""The shipped recurrent classifiers of nnhls.examples.sequence_task() (a Keras LSTM(16), two
Keras GRUs, a QKeras QLSTM(16), a PyTorch LSTM): the time to read and convert each, compile() per
io type, the emulator's, the C simulation's and the framework's throughput on the same sequences
in the same run, the accuracies, and for the QLSTM how its logits compare with QKeras's. Prints
one JSON object.

Run: .venv/bin/python bench/recurrent.py
"""

import json
import tempfile
from pathlib import Path

import prelude  # noqa: F401  first: it sets up the environment

import numpy as np  # noqa: E402
import torch  # noqa: E402
from mlp import best_seconds, converted_and_compiled, engine_speeds  # noqa: E402
from quantize import machine  # noqa: E402

import nnhls  # noqa: E402
from nnhls.examples import SEQUENCE_GRU, SEQUENCE_LSTM, SEQUENCE_QLSTM, sequence_task  # noqa: E402
from nnhls.examples.torch_sequences import load as load_torch_lstm  # noqa: E402
from nnhls.frontends.keras import load_keras_file  # noqa: E402

OUTPUT_TYPE, OUTPUT_LSB = "ap_fixed<16,6,AP_RND_CONV,AP_SAT>", 2.0**-10


def convert(model, io_type: str, folder: Path, torch_model: bool):
    if torch_model:
        config = nnhls.config_from_pytorch_model(model, (20, 2), granularity="name")
        return nnhls.convert_from_pytorch_model(model, hls_config=config, io_type=io_type, output_dir=folder)
    config = nnhls.config_from_keras_model(model, granularity="name")
    if model.name == "sequence_qlstm":
        config["LayerName"]["logits"]["Precision"]["result"] = OUTPUT_TYPE
    return nnhls.convert_from_keras_model(model, hls_config=config, io_type=io_type, output_dir=folder)


def figures(name: str, model, X: np.ndarray, y: np.ndarray, folder: Path) -> dict:
    torch_model = isinstance(model, torch.nn.Module)
    hls_model, results = converted_and_compiled(
        lambda io_type: convert(model, io_type, folder / f"{name}_{io_type}", torch_model))
    if torch_model:
        def framework_run():
            with torch.no_grad():
                return model(torch.tensor(X)).numpy()
    else:
        framework_run = lambda: np.asarray(model.predict(X, verbose=0, batch_size=1024))  # noqa: E731
    expected = framework_run().astype(np.float64)
    ours = hls_model.predict(X)
    results.update(engine_speeds(hls_model, X, "sequences")[0])
    framework = best_seconds(framework_run, repeats=2)
    results.update({
        "framework_sequences_per_s": round(len(X) / framework),
        "accuracy_framework": round(float((expected.argmax(axis=1) == y).mean()), 4),
        "accuracy_nnhls": round(float((ours.argmax(axis=1) == y).mean()), 4),
    })
    if name == "qkeras_qlstm":
        results["max_error_output_lsb"] = round(float((np.abs(ours - expected) / OUTPUT_LSB).max()), 3)
        results["outputs_equal_to_qkeras_rounded"] = round(float(np.mean(
            ours == np.round(expected / OUTPUT_LSB) * OUTPUT_LSB)), 5)
    return results


def main():
    X, y = sequence_task(1000, seed=2)  # the test sequences the examples were scored on
    models = {"keras_lstm": load_keras_file(SEQUENCE_LSTM), "keras_two_grus": load_keras_file(SEQUENCE_GRU),
              "qkeras_qlstm": load_keras_file(SEQUENCE_QLSTM), "pytorch_lstm": load_torch_lstm()}
    with tempfile.TemporaryDirectory() as folder:
        results = {name: figures(name, model, X, y, Path(folder)) for name, model in models.items()}
    print(json.dumps({"benchmark": "recurrent", "machine": machine(), "results": results}, indent=2))


if __name__ == "__main__":
    main()
