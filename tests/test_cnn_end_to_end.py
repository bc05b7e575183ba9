"""The shipped QKeras digits CNN (QConv2DBatchnorm blocks, max pooling, QDense + BatchNormalization,
softmax): the emulator against QKeras layer by layer, configurations as generated, and errors.
Its sixteen cells (every backend x strategy x io type at reuse factors 1 and 4) giving the same
bits at QKeras's accuracy are what `nnhls demo` shows, and tests/test_cli.py checks that."""

from tests.keras_models import convert_example, load_example  # sets TF_USE_LEGACY_KERAS before TensorFlow loads

import numpy as np
import pytest

import nnhls
from nnhls.errors import NnhlsError
from nnhls.examples import DIGITS_QCNN, load_digits_images
from nnhls.hls.backend import IO_TYPES

STRATEGIES = ("Latency", "Resource")


@pytest.fixture(scope="module")
def qcnn():
    return load_example(DIGITS_QCNN)


@pytest.fixture(scope="module")
def digits():
    _, _, X, y = load_digits_images()
    return X, y


@pytest.fixture(scope="module")
def keras_outputs(qcnn, digits):
    import tensorflow as tf

    X, _ = digits
    names = ["relu1", "pool2", "relu3", "fc1", "relu_fc1", "logits", "softmax"]
    probe = tf.keras.Model(qcnn.inputs, [qcnn.get_layer(name).output for name in names])
    return dict(zip(names, probe.predict(X, verbose=0)))


def convert(model, backend, strategy, io_type, reuse_factor, folder, **config_options):
    # conv1 (9 inputs) takes 3 for 4 under Resource, with a warning
    return convert_example(model, backend, strategy, io_type, folder, "digits", reuse_factor, **config_options)


def test_emulator_equals_qkeras_where_qkeras_is_exact(qcnn, digits, keras_outputs, tmp_path):
    """The folded, quantized convolutions, the quantized ReLUs and the max pooling are exact in
    QKeras's float32 too, so they agree value for value; the float batch norm after fc1 is a
    ScaleShift of 16-bit constants, which moves a few quantized_relu outputs by one LSB."""
    X, _ = digits
    model = convert(qcnn, "Vitis", "Latency", "io_parallel", 1, tmp_path / "prj")
    _, per_layer = model.trace(X)
    for name in ("relu1", "pool2", "relu3", "fc1"):
        assert np.array_equal(per_layer[name], keras_outputs[name]), name
    relu_lsb = 2.0**-6  # quantized_relu(6)
    assert np.abs(per_layer["relu_fc1"] - keras_outputs["relu_fc1"]).max() <= relu_lsb
    assert np.mean(per_layer["relu_fc1"] == keras_outputs["relu_fc1"]) > 0.99
    # One relu LSB times a weight of at most 1/2, on a few of the 16 inputs; logits' LSB is 2**-11.
    assert np.abs(per_layer["logits"] - keras_outputs["logits"]).max() <= 4 * relu_lsb / 2


# conv3 (3 x 3 x 24 x 32) at reuse factor 1 under Latency is past the synthesis limits, and says so.
CONV3_LIMITS = "ignore:layer 'conv3'.*more than the tools handle well:UserWarning"


@pytest.mark.filterwarnings(CONV3_LIMITS)
@pytest.mark.parametrize("io_type", IO_TYPES)
def test_configuration_with_only_the_strategy_changed(qcnn, digits, io_type, tmp_path):
    """config_from_keras_model(granularity='name') as it comes, and with an ap_fixed<16,6> default."""
    X, y = digits
    outputs = []
    for options in ({}, {"default_precision": "ap_fixed<16,6>"}):
        for strategy in STRATEGIES:
            config = nnhls.config_from_keras_model(qcnn, granularity="name", backend="Vivado", **options)
            config["Model"]["Strategy"] = strategy
            model = nnhls.convert_from_keras_model(qcnn, hls_config=config, backend="Vivado", io_type=io_type,
                                                   output_dir=tmp_path / f"{strategy}_{len(options)}")
            model.compile()
            csim = model.predict(X, engine="csim")
            assert np.array_equal(csim, model.predict(X))
            outputs.append(csim)
    for csim in outputs[1:]:
        assert np.array_equal(csim, outputs[0])


def test_wrong_image_size_names_the_input(qcnn, tmp_path):
    model = convert(qcnn, "Vivado", "Latency", "io_parallel", 1, tmp_path / "prj")
    with pytest.raises(NnhlsError, match=r"input 'pixels' expects shape \(batch, 8, 8, 1\), got \(3, 8, 9, 1\)"):
        model.predict(np.zeros((3, 8, 9, 1)))


def test_reuse_factor_no_kernel_can_take_names_the_layer(qcnn, tmp_path):
    config = nnhls.config_from_keras_model(qcnn, granularity="name")
    config["LayerName"]["conv2"]["ReuseFactor"] = 5000  # conv2 has 3 * 3 * 16 * 24 = 3456 multiplications
    with pytest.raises(NnhlsError, match=r"layer 'conv2': reuse factor 5000 is larger than its 3456 multiplications"):
        nnhls.convert_from_keras_model(qcnn, hls_config=config, output_dir=tmp_path / "prj")


@pytest.mark.filterwarnings(CONV3_LIMITS)
def test_parallelization_factor_must_divide_the_output_pixels(qcnn, tmp_path):
    config = nnhls.config_from_keras_model(qcnn, granularity="name")
    config["LayerName"]["conv1"]["ParallelizationFactor"] = 3  # conv1 has 64 output pixels
    with pytest.raises(NnhlsError, match=r"layer 'conv1': ParallelizationFactor 3 is not valid for 64 output pixels"):
        nnhls.convert_from_keras_model(qcnn, hls_config=config, output_dir=tmp_path / "prj", strict=True)
    config["LayerName"]["conv1"]["ParallelizationFactor"] = 4
    model = nnhls.convert_from_keras_model(qcnn, hls_config=config, output_dir=tmp_path / "prj")
    assert model.graph["conv1"].parallelization_factor == 4
    config["LayerName"]["conv1"]["ConvImplementation"] = "Encoded"
    with pytest.raises(NnhlsError, match=r"\['conv1'\]\['ConvImplementation'\] is 'Encoded'; supported: LineBuffer"):
        nnhls.convert_from_keras_model(qcnn, hls_config=config, output_dir=tmp_path / "prj")


def test_overflow_report_counts_each_value_once_over_chunks(qcnn, digits, tmp_path):
    """The emulator runs large batches in chunks; the report still counts every value of the
    batch once and every constant once."""
    X, _ = digits
    model = convert(qcnn, "Vivado", "Latency", "io_parallel", 1, tmp_path / "prj")
    rows = {(row.layer, row.point): row for row in model.overflow_report(X)}
    assert rows[("conv1", "bias")].values == 16
    assert rows[("conv1", "accumulator")].values == len(X) * 8 * 8 * 16
    relu = rows[("relu1", "result")]
    # quantized_relu(6) saturates at 63/64: inputs from 127/128 up round to 64/64 (ties to even)
    assert relu.by_framework and relu.overflowed == int(np.count_nonzero(model.trace(X)[1]["conv1"] >= 127 / 128))
