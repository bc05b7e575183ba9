"""A batch gives the same bits however the emulator cuts it: in chunks, in stages of the graph
(each in chunks of its own size), on one thread or several, as one sample at a time; the overflow
report and the trace too."""

from tests.keras_models import load_example  # sets TF_USE_LEGACY_KERAS before TensorFlow loads

import numpy as np
import pytest

import nnhls
import nnhls.emulate as emulate
from nnhls.examples import DIGITS_QCNN, DIGITS_RESIDUAL, load_digits_images


@pytest.fixture(scope="module", params=[DIGITS_QCNN, DIGITS_RESIDUAL], ids=["qcnn", "residual"])
def converted(request, tmp_path_factory):
    model = load_example(request.param)
    config = nnhls.config_from_keras_model(model, granularity="name")
    return nnhls.convert_from_keras_model(model, hls_config=config,
                                          output_dir=tmp_path_factory.mktemp("chunks") / "prj")


def images(n: int) -> np.ndarray:
    X_train, _, X_test, _ = load_digits_images()
    rng = np.random.default_rng(0)
    X = np.concatenate([X_train, X_test])[:n]
    return X + rng.normal(0, 0.3, X.shape)  # past the digits' range too: saturation in every layer


@pytest.mark.parametrize("threads", ["1", "2"])
def test_chunks_stages_and_threads_give_the_bits_of_one_sample_at_a_time(converted, threads, monkeypatch):
    X = images(150)
    one_at_a_time = np.stack([converted.predict(x) for x in X[:40]])
    monkeypatch.setenv("NNHLS_NUM_THREADS", threads)
    monkeypatch.setattr(emulate, "_CHUNK_VALUES", 3000)  # a few samples per chunk of the wide layers
    assert len(emulate._stages(converted.graph, False)) >= 2  # the narrow layers in larger chunks
    chunked = converted.predict(X)
    assert np.array_equal(chunked[:40], one_at_a_time)
    monkeypatch.setattr(emulate, "_CHUNK_VALUES", 1 << 30)  # the whole batch at once
    assert np.array_equal(converted.predict(X), chunked)


def test_the_overflow_report_and_the_trace_do_not_depend_on_the_chunks(converted, monkeypatch):
    X = images(120) * 20  # past the input type's range: saturation from the input on
    whole_outputs, whole_report = converted.predict_with_overflows(X)
    _, whole_trace = converted.trace(X)
    assert sum(row.overflowed for row in whole_report) > 0
    monkeypatch.setenv("NNHLS_NUM_THREADS", "2")
    monkeypatch.setattr(emulate, "_CHUNK_VALUES", 2000)
    outputs, report = converted.predict_with_overflows(X)
    _, trace = converted.trace(X)
    assert np.array_equal(outputs, whole_outputs)
    assert sorted(map(tuple, report)) == sorted(map(tuple, whole_report))
    assert trace.keys() == whole_trace.keys()
    assert all(np.array_equal(trace[name], whole_trace[name]) for name in trace)


def test_the_threads_follow_the_environment(monkeypatch):
    monkeypatch.setenv("NNHLS_NUM_THREADS", "3")
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    assert emulate.threads() == 3
    monkeypatch.delenv("NNHLS_NUM_THREADS")
    assert emulate.threads() == 1  # a process pool's worker (Dask's set OMP_NUM_THREADS=1)
    monkeypatch.delenv("OMP_NUM_THREADS")
    assert emulate.threads() >= 1
