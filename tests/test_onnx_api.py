"""The ONNX entry points as users call them: the field's names, every kind of model argument, the
configuration's layer names, the layouts, the YAML file, and errors that name what is wrong."""

import numpy as np
import pytest

import nnhls
from nnhls.errors import NnhlsError
from nnhls.examples import DIGITS_ONNX_CNN, DIGITS_QONNX_CNN, DIGITS_QONNX_MLP, load_digits_data

onnx = pytest.importorskip("onnx")
pytest.importorskip("qonnx")
pytest.importorskip("onnxruntime")


def images(n=64):
    return load_digits_data()[2][:n].reshape(-1, 1, 8, 8)


def converted(model, tmp_path, **config_options):
    config = nnhls.config_from_onnx_model(model, granularity="name", **config_options)
    return nnhls.convert_from_onnx_model(model, hls_config=config, output_dir=tmp_path / "prj")


def test_the_field_s_names_take_a_model_proto_a_path_and_a_model_wrapper_alike(tmp_path):
    import nnhls as hls4ml
    from qonnx.core.modelwrapper import ModelWrapper

    assert hls4ml.utils.config_from_onnx_model is nnhls.config_from_onnx_model
    assert hls4ml.converters.convert_from_onnx_model is nnhls.convert_from_onnx_model
    proto = onnx.load(DIGITS_QONNX_CNN)
    before = proto.SerializeToString()
    outputs = [converted(model, tmp_path).predict(images())
               for model in (proto, str(DIGITS_QONNX_CNN), DIGITS_QONNX_CNN, ModelWrapper(onnx.load(DIGITS_QONNX_CNN)))]
    assert all(np.array_equal(outputs[0], other) for other in outputs[1:])
    assert proto.SerializeToString() == before  # the user's model is read from a copy


def test_layer_names_are_the_prepared_graph_s_and_configure_their_layers(tmp_path):
    config = nnhls.config_from_onnx_model(DIGITS_QONNX_CNN, granularity="name")
    assert {"Conv_0", "Conv_1", "MatMul_0", "Quant_4", "MaxPool_0"} <= set(config["LayerName"])
    config["LayerName"]["Conv_1"]["ReuseFactor"] = 8
    config["Model"]["Strategy"] = "Resource"
    hls_model = nnhls.convert_from_onnx_model(DIGITS_QONNX_CNN, hls_config=config, output_dir=tmp_path / "prj")
    assert hls_model.graph["Conv_1"].reuse_factor == 8
    classes = {layer.name: layer.class_name for layer in hls_model.get_layers()}
    assert classes["Conv_0"] == "Conv2D" and classes["MatMul_0"] == "Dense" and classes["MaxPool_0"] == "Pooling2D"
    by_type = nnhls.config_from_onnx_model(DIGITS_QONNX_CNN, granularity="type")
    assert {"Conv", "MatMul", "Quant", "MaxPool"} <= set(by_type["LayerType"])


def test_internal_conversion_takes_channels_last_inputs_to_the_same_outputs(tmp_path):
    full = converted(DIGITS_ONNX_CNN, tmp_path / "full").predict(images())
    internal = converted(DIGITS_ONNX_CNN, tmp_path / "internal", channels_last_conversion="internal")
    assert internal.graph.inputs[0].shape == (8, 8, 1)
    assert np.array_equal(internal.predict(images().transpose(0, 2, 3, 1)), full)


def test_the_yaml_file_reads_an_onnx_model_as_the_python_api_does(tmp_path):
    from nnhls.converters import convert_from_config

    (tmp_path / "model.onnx").write_bytes(DIGITS_QONNX_MLP.read_bytes())
    (tmp_path / "config.yml").write_text(
        "OnnxModel: model.onnx\nOutputDir: prj\nIOType: io_stream\n"
        "HLSConfig:\n  Model:\n    Precision: ap_fixed<16,6>\n  LayerName:\n    MatMul_1:\n      ReuseFactor: 4\n")
    hls_model = convert_from_config(tmp_path / "config.yml")
    assert hls_model.graph["MatMul_1"].reuse_factor == 4 and hls_model.io_type == "io_stream"
    X = load_digits_data()[2][:64]
    config = nnhls.config_from_onnx_model(DIGITS_QONNX_MLP)
    expected = nnhls.convert_from_onnx_model(DIGITS_QONNX_MLP, hls_config=config, output_dir=tmp_path / "p").predict(X)
    assert np.array_equal(hls_model.predict(X), expected)
    (tmp_path / "both.yml").write_text("OnnxModel: model.onnx\nKerasH5: model.onnx\n")
    with pytest.raises(NnhlsError, match=r"both.yml:1: OnnxModel and KerasH5 both name a model"):
        convert_from_config(tmp_path / "both.yml")


def test_what_is_not_an_onnx_model_is_named(tmp_path):
    with pytest.raises(NnhlsError, match="cannot read .*missing.onnx.* as an ONNX model"):
        nnhls.config_from_onnx_model(tmp_path / "missing.onnx")
    (tmp_path / "garbage.onnx").write_bytes(b"not a protobuf at all")
    with pytest.raises(NnhlsError, match="garbage.onnx"):
        nnhls.config_from_onnx_model(tmp_path / "garbage.onnx")
    with pytest.raises(NnhlsError, match="expected an onnx.ModelProto, a path to a .onnx file or a qonnx ModelWrapper"):
        nnhls.config_from_onnx_model({"not": "a model"})


def test_compare_runs_qonnx_s_execution_on_a_float_model_too(tmp_path):
    hls_model = converted(DIGITS_ONNX_CNN, tmp_path, default_precision="ap_fixed<24,10,AP_RND_CONV,AP_SAT>")
    rows = {row.layer: row for row in nnhls.compare(DIGITS_ONNX_CNN, hls_model, images(32))}
    assert {"global_in", "global_out"} <= set(rows)
    assert rows["global_in"].max_error_lsb == 0
    assert rows["global_out"].max_error_lsb < 2**10  # float weights rounded to 14 fractional bits


def test_the_readme_s_onnx_example_runs(tmp_path, monkeypatch):
    import re
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    code = re.search(r"An ONNX or QONNX model .*?```python\n(.*?)```", readme, re.S).group(1)
    monkeypatch.chdir(tmp_path)
    namespace = {"nnhls": nnhls, "np": np, "images": np.random.default_rng(0).random((100, 1, 8, 8))}
    exec(compile(code, "README.md", "exec"), namespace)
    assert [node.op for node in namespace["hls_model"].graph].count("step") == 3


def test_a_model_the_user_cleaned_and_converted_with_qonnx_reads_to_the_same_outputs(tmp_path):
    """As the field's scripts do it: qonnx's clean-up and channels-last conversion by hand, then
    `hls4ml.utils.config.config_from_onnx_model`."""
    import warnings

    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.transformation.channels_last import ConvertToChannelsLastAndClean
    from qonnx.transformation.gemm_to_matmul import GemmToMatMul
    from qonnx.util.cleanup import cleanup_model

    import nnhls as hls4ml

    model = cleanup_model(ModelWrapper(str(DIGITS_QONNX_CNN)))
    with warnings.catch_warnings():  # qonnx's own, on the model's opset
        warnings.simplefilter("ignore", UserWarning)
        model = cleanup_model(model.transform(ConvertToChannelsLastAndClean()).transform(GemmToMatMul()))
    config = hls4ml.utils.config.config_from_onnx_model(model, granularity="name", default_precision="fixed<16,6>")
    by_hand = hls4ml.converters.convert_from_onnx_model(model, output_dir=tmp_path / "a", hls_config=config)
    assert np.array_equal(by_hand.predict(images()), converted(DIGITS_QONNX_CNN, tmp_path / "b").predict(images()))


def _tiny(nodes, inputs, outputs, initializers=()):
    from onnx import TensorProto, helper, numpy_helper

    graph = helper.make_graph(
        nodes, "tiny", [helper.make_tensor_value_info(n, TensorProto.FLOAT, s) for n, s in inputs],
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, s) for n, s in outputs],
        [numpy_helper.from_array(np.asarray(v, np.float32), n) for n, v in initializers])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])


def test_a_model_passing_its_input_through_is_read(tmp_path):
    X = np.arange(12).reshape(3, 4) / 8
    assert np.array_equal(converted(_tiny([], [("x", ["N", 4])], [("x", ["N", 4])]), tmp_path).predict(X), X)


def test_a_weight_that_is_not_a_number_is_named():
    from onnx import helper

    model = _tiny([helper.make_node("MatMul", ["x", "W"], ["y"])], [("x", ["N", 4])], [("y", ["N", 2])],
                  [("W", np.full((4, 2), np.nan))])
    config = nnhls.config_from_onnx_model(model)
    with pytest.raises(NnhlsError, match="layer 'MatMul_0': its weight holds nan"):
        nnhls.convert_from_onnx_model(model, hls_config=config)
