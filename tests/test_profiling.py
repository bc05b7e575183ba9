"""Profiling pictures (numerical ranges, the graph) and the progress line."""

import io

import keras_models  # sets TF_USE_LEGACY_KERAS before TensorFlow is imported
import numpy as np
import pytest

from nnhls.errors import NnhlsError
from nnhls.hls.backend import Project, get_backend
from nnhls.ir import Activation, Conv, Dense, Flatten, Graph, Input, Lookup, Pool, ScaleShift, Weights, Window
from nnhls.model import HLSModel
from nnhls.passes import lower
from nnhls.profiling import graph_picture, numerical, progress
from nnhls.types import AUTO, FixedType

pytest.importorskip("matplotlib")

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _weights(rng, shape, t: FixedType) -> Weights:
    codes = rng.integers(t.min_code, t.max_code, size=shape, endpoint=True)
    return Weights(values=codes * t.lsb, type=t)


@pytest.fixture(scope="module")
def image_model(tmp_path_factory):
    """Input (6, 6, 2) -> 3x3 Conv -> ScaleShift -> relu -> 2x2 max pool -> Flatten -> Dense -> tanh,
    with the convolution's output also an output (a branch the graph picture must draw)."""
    rng = np.random.default_rng(0)
    window = Window(6, 6, 2, 3, 3)
    pool = Window(window.out_h, window.out_w, 3, 2, 2, 2, 2)
    features = pool.n_pixels * 3
    image = (window.out_h, window.out_w, 3)
    nodes = [
        Input("x", [], (6, 6, 2), "InputLayer", result_type=FixedType(10, 3)),
        Conv("conv", ["x"], image, "Conv2D", result_type=FixedType(14, 6), accum_type=AUTO,
             weight=_weights(rng, (3, 3, 2, 3), FixedType(6, 1)), bias=_weights(rng, (3,), FixedType(6, 2)),
             window=window, in_shape=(6, 6, 2), reuse_factor=2),
        ScaleShift("bn", ["conv"], image, "BatchNormalization", result_type=AUTO,
                   scale=_weights(rng, (3,), FixedType(6, 1)), shift=_weights(rng, (3,), FixedType(6, 3))),
        Activation("relu", ["bn"], image, "Activation", function="relu", result_type=FixedType(8, 4, False)),
        Pool("pool", ["relu"], (pool.out_h, pool.out_w, 3), "MaxPooling2D", function="max", result_type=AUTO,
             window=pool, in_shape=image),
        Flatten("flat", ["pool"], (features,), "Flatten"),
        Dense("dense", ["flat"], (4,), "Dense", result_type=FixedType(16, 6), accum_type=AUTO,
              weight=_weights(rng, (features, 4), FixedType(5, 0)),
              bias=_weights(rng, (4,), FixedType(5, 1))),
        Lookup("tanh", ["dense"], (4,), "Activation", function="tanh", table_size=256,
               table_type=FixedType(12, 1, True, "RND", "SAT"), result_type=FixedType(10, 1)),
    ]
    graph = Graph(nodes, ["tanh", "conv"])
    lower(graph, {"default": FixedType(16, 6), "maximum": None}, strict=True)
    model = HLSModel(graph, Project(graph, get_backend("Vivado"), "io_parallel", "myproject", "xc", 5),
                     tmp_path_factory.mktemp("image") / "prj", {})
    X = np.random.default_rng(1).uniform(-4, 4, (40, 6, 6, 2))
    return model, X


def _is_png(path, min_bytes=5000) -> bool:
    data = path.read_bytes()
    return data.startswith(PNG_SIGNATURE) and len(data) > min_bytes


def test_numerical_profile_of_a_convolutional_network(image_model, tmp_path):
    model, X = image_model
    path = numerical(hls_model=model, X=X, path=tmp_path / "profile.png")
    assert path == tmp_path / "profile.png" and _is_png(path)


def test_numerical_profile_defaults_to_the_output_folder_and_works_without_inputs(image_model):
    model, _ = image_model
    path = numerical(hls_model=model)
    assert path == model.output_dir / "numerical.png" and _is_png(path)


def test_graph_picture(image_model, tmp_path):
    model, _ = image_model
    path = graph_picture(model, tmp_path / "graph.png")
    assert path == tmp_path / "graph.png" and _is_png(path)


def test_bad_inputs_are_clear_errors(image_model, tmp_path):
    model, X = image_model
    with pytest.raises(NnhlsError, match=r"input 'x' expects shape \(batch, 6, 6, 2\), got \(40, 6, 6\)"):
        numerical(hls_model=model, X=X[..., 0], path=tmp_path / "bad.png")
    with pytest.raises(NnhlsError, match="needs hls_model"):
        numerical(X=X, path=tmp_path / "bad.png")
    with pytest.raises(NnhlsError, match="no inputs X"):
        numerical(model=object(), hls_model=model, path=tmp_path / "bad.png")
    with pytest.raises(NnhlsError, match="must be the Keras model"):
        numerical(model=object(), hls_model=model, X=X, path=tmp_path / "bad.png")
    assert not (tmp_path / "bad.png").exists()


def test_without_matplotlib_the_error_says_how_to_get_it(image_model, tmp_path, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)  # makes the import fail
    model, X = image_model
    for draw in (lambda: numerical(hls_model=model, X=X, path=tmp_path / "p.png"),
                 lambda: graph_picture(model, tmp_path / "g.png")):
        with pytest.raises(NnhlsError, match=r"needs matplotlib: pip install 'nnhls\[plot\]'"):
            draw()


def test_numerical_profile_with_the_keras_model(tmp_path):
    import nnhls

    keras_model = keras_models.qkeras_mlp(epochs=0)
    X, _ = keras_models.synthetic_data(200, seed=3)
    hls_model = nnhls.convert_from_keras_model(keras_model, output_dir=tmp_path / "prj")
    path = numerical(keras_model, hls_model, X, tmp_path / "keras.png")
    assert _is_png(path)
    assert _is_png(graph_picture(hls_model, tmp_path / "keras_graph.png"))


def test_progress_is_silent_unless_forced():
    class Terminal(io.StringIO):
        def isatty(self):
            return True

    for stream in (io.StringIO(), Terminal()):  # a terminal too: a running test never shows progress
        assert list(progress(range(5), description="work", stream=stream)) == list(range(5))
        assert stream.getvalue() == ""


def test_progress_forced_ends_with_a_complete_line():
    stream = io.StringIO()
    assert list(progress(iter(range(3)), total=3, description="work", force=True, stream=stream)) == [0, 1, 2]
    text = stream.getvalue()
    assert text.startswith("\r") and text.endswith("\n")
    last = text.rstrip("\n").split("\r")[-1]
    assert last.startswith("work  3/3  100%")

    stream = io.StringIO()
    for item in progress(range(10), force=True, stream=stream):  # left early: the line still ends
        if item == 4:
            break
    assert stream.getvalue().rstrip("\n").split("\r")[-1].startswith("4/10")
    assert stream.getvalue().endswith("\n")


def test_progress_without_a_length_shows_the_count():
    stream = io.StringIO()
    list(progress((i for i in range(7)), force=True, stream=stream))
    assert stream.getvalue().rstrip("\n").split("\r")[-1].split()[0] == "7"
