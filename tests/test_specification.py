"""The emulator as the specification: compile()'s self-check, overflow accounting, comparison."""

import keras_models  # noqa: F401  (sets TF_USE_LEGACY_KERAS before TensorFlow is imported)
import numpy as np
import pytest

import nnhls
from nnhls.errors import NnhlsError
from nnhls.hls import layout
from test_equivalence import realize, spanning_inputs


@pytest.fixture(scope="module")
def qmlp():
    return keras_models.qkeras_mlp()


@pytest.fixture(scope="module")
def data():
    return keras_models.synthetic_data(1000, seed=4)[0]


def transpose_first_block(original):
    """A copy of the Resource layout with one bug planted: its first block is transposed."""
    def planted(weight, reuse_factor):
        blocks = original(weight, reuse_factor).copy()
        rows = blocks.shape[1] // weight.shape[1]
        if rows > 1:
            blocks[0] = blocks[0].reshape(rows, weight.shape[1]).T.reshape(-1)
        return blocks
    return planted


def test_self_check_catches_a_planted_layout_bug_and_names_the_layer(qmlp, tmp_path, monkeypatch):
    config = nnhls.config_from_keras_model(qmlp, granularity="name")
    config["Model"]["Strategy"] = "Resource"
    config["LayerName"]["fc1"]["ReuseFactor"] = 4  # blocks of 4 rows of 64
    model = nnhls.convert_from_keras_model(qmlp, hls_config=config, output_dir=tmp_path / "prj")
    model.compile()  # the true layout passes
    monkeypatch.setattr(layout, "dense_blocks", transpose_first_block(layout.dense_blocks))
    with pytest.raises(NnhlsError, match=r"self-check failed: layer 'fc1' \(dense\) gives different outputs"):
        model.compile()


def test_the_matrix_catches_a_planted_layout_bug(tmp_path, monkeypatch):
    monkeypatch.setattr(layout, "dense_blocks", transpose_first_block(layout.dense_blocks))
    model, graph = realize(1, "Vivado", "Resource", "io_parallel", tmp_path)
    graph["dense"].reuse_factor = 4  # blocks of 3 rows
    model.compile(self_check=False)
    X = spanning_inputs(graph, 200, 1)
    _, csim = model.trace(X, engine="csim")
    _, emulated = model.trace(X)
    differing = [node.name for node in graph if not np.array_equal(csim[node.name], emulated[node.name])]
    assert differing and differing[0] == "dense"


def test_overflowing_accumulator_is_named_by_the_report_and_the_comparison(qmlp, data, tmp_path):
    config = nnhls.config_from_keras_model(qmlp, granularity="name")
    config["LayerName"]["fc2"]["Precision"]["accum"] = "ap_fixed<8,2>"
    with pytest.warns(UserWarning, match=r"layer 'fc2': accum ap_fixed<8,2> can overflow"):
        model = nnhls.convert_from_keras_model(qmlp, hls_config=config, output_dir=tmp_path / "prj")
    report = model.overflow_report(data)
    counts = report.by_layer()
    assert counts["fc2"] > 0
    assert all(count == 0 for layer, count in counts.items() if layer in ("input_1", "fc1", "relu1"))
    fc2 = {row.point: row for row in report if row.layer == "fc2"}
    assert fc2["accumulator"].overflowed > 0 and str(fc2["accumulator"].type) == "ap_fixed<8,2>"
    assert fc2["accumulator"].values == len(data) * 32
    assert "fc2" in str(report) and "accumulator" in str(report)

    comparison = nnhls.compare(qmlp, model, data)
    assert comparison.first_divergent == "fc2"
    assert [row.layer for row in comparison] == ["input_1", "fc1", "relu1", "fc2", "relu2", "fc3", "relu3", "output"]
    assert {row.layer: row.overflowed for row in comparison}["fc2"] == counts["fc2"]
    assert "first layer off by more than 1 LSB: fc2" in str(comparison)
    png = tmp_path / "comparison.png"
    comparison.plot(png)
    assert png.stat().st_size > 1000 and png.read_bytes()[:4] == b"\x89PNG"


def test_faithful_model_has_no_divergent_layer_and_no_overflow(qmlp, data, tmp_path):
    config = nnhls.config_from_keras_model(qmlp, granularity="name")
    model = nnhls.convert_from_keras_model(qmlp, hls_config=config, output_dir=tmp_path / "prj")
    assert sum(model.overflow_report(data).by_layer().values()) == 0
    comparison = nnhls.compare(qmlp, model, data)
    assert comparison.first_divergent is None
    assert "every layer within 1 LSB" in str(comparison)


def test_predict_defaults_to_the_emulator_without_a_compiler(qmlp, data, tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    model = nnhls.convert_from_keras_model(qmlp, output_dir=tmp_path / "prj")
    assert model.predict(data[:10]).shape == (10, 5)
    monkeypatch.delenv("CXX", raising=False)
    with pytest.raises(NnhlsError, match="C simulation needs a C\\+\\+ compiler: 'g\\+\\+' was not found on PATH"):
        model.compile()
