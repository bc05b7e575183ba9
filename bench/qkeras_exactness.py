"""How often nnhls's emulator equals QKeras on float inputs, for the two models of
tests/test_qkeras_exactness.py: an MLP whose first layer quantizes the float input
(quantized_bits(10,3)), and a Conv1D network averaging 7 values before a QDense. Prints one JSON
object: per model, the share of outputs equal to QKeras's, within one output LSB, and the largest
difference in output LSBs, on 20,000 float64 samples.

Run: .venv/bin/python bench/qkeras_exactness.py   (or `make bench`)
"""

import json

from prelude import ROOT  # first: it sets up TensorFlow's environment

import numpy as np  # noqa: E402

import nnhls  # noqa: E402
from quantize import machine  # noqa: E402
from test_qkeras_exactness import (OUTPUT_LSB, _conv1d_with_an_average_over_7, _float_inputs,  # noqa: E402
                                   _mlp_with_a_quantized_input)

SAMPLES = 20000


def main() -> None:
    results = {}
    for name, make, shape, seed in (("mlp_quantized_input", _mlp_with_a_quantized_input, (16,), 6),
                                    ("conv1d_average_of_7", _conv1d_with_an_average_over_7, (9, 3), 7)):
        model = make()
        converted = nnhls.convert_from_keras_model(model, output_dir=ROOT / "build" / f"bench_{name}")
        X = _float_inputs((SAMPLES, *shape), seed)
        off = np.abs(converted.predict(X) - model.predict(X, verbose=0)) / OUTPUT_LSB
        results[name] = {"equal": round(float(np.mean(off == 0)), 5), "within_one_lsb": round(float(np.mean(off <= 1)), 5),
                         "max_lsb": float(off.max()), "samples": SAMPLES}
    print(json.dumps({"benchmark": "qkeras_exactness", "machine": machine(), "results": results}, indent=2))


if __name__ == "__main__":
    main()
