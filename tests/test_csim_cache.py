"""The C simulation's build cache: a project compiled before, or one that differs only in what g++
ignores (comments, HLS pragmas: the same design for Vivado and for Vitis), is not compiled again;
anything else that changes is."""

import os
import shutil
import stat

import numpy as np
import pytest

from tests.test_equivalence import realize, spanning_inputs


@pytest.fixture
def counted_compiler(tmp_path, monkeypatch):
    """$CXX: g++ behind a script that logs each call; returns a function counting them."""
    log = tmp_path / "calls.log"
    script = tmp_path / "counted-g++"
    script.write_text(f'#!/bin/sh\necho "$@" >> {log}\nexec {shutil.which("g++")} "$@"\n')
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("CXX", str(script))
    monkeypatch.setenv("NNHLS_CACHE_DIR", str(tmp_path / "cache"))

    def builds():
        lines = log.read_text().splitlines() if log.exists() else []
        return sum("--version" not in line for line in lines)
    return builds


def test_one_design_for_two_backends_is_compiled_once(counted_compiler, tmp_path):
    models = [realize(1, backend, "Latency", "io_stream", tmp_path / backend)[0] for backend in ("Vivado", "Vitis")]
    X = spanning_inputs(models[0].graph, 100, 1)
    for model in models:
        model.compile()
        assert np.array_equal(model.predict(X, engine="csim"), model.predict(X))
    assert counted_compiler() == 1
    libraries = [model._library.path for model in models]
    assert libraries[0] != libraries[1] and all(path.is_file() for path in libraries)  # each loads its own copy


def test_a_change_g_plus_plus_sees_is_compiled_again(counted_compiler, tmp_path):
    model, graph = realize(1, "Vitis", "Latency", "io_parallel", tmp_path / "a")
    model.compile()
    other, _ = realize(1, "Vitis", "Resource", "io_parallel", tmp_path / "b")  # other loops, other weight order
    other.compile()
    assert counted_compiler() == 2
    model.compile()  # unchanged: from the cache
    assert counted_compiler() == 2


def test_an_empty_cache_directory_turns_the_cache_off(counted_compiler, tmp_path, monkeypatch):
    monkeypatch.setenv("NNHLS_CACHE_DIR", "")
    model, _ = realize(1, "Vitis", "Latency", "io_parallel", tmp_path / "a")
    model.compile()
    model.compile()
    assert counted_compiler() == 2
    assert not os.path.exists(tmp_path / "cache")
