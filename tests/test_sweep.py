"""Design-space sweeps: the grid and random samples of a space, every point's score and estimate,
results that a rerun resumes from, a point whose worker dies recorded as failed while the sweep
goes on, the same table from the default process pool and from a Dask cluster, the Pareto front."""

from tests.keras_models import load_example  # sets TF_USE_LEGACY_KERAS before TensorFlow loads

import os
import signal
from pathlib import Path

import numpy as np
import pytest

import nnhls
from nnhls.errors import NnhlsError
from nnhls.examples import DIGITS_QCNN, DIGITS_QMLP, load_digits_data, load_digits_images

pytest.importorskip("pandas")

SPACE = {"Precision": ["ap_fixed<10,4>", "ap_fixed<16,6>"], "ReuseFactor": [1, 4], "Strategy": ["Latency", "Resource"]}
FIGURES = ["score", "multipliers", "bram_18k", "latency", "interval", "weight_bits", "overflowed"]


def digits():
    _, _, X, y = load_digits_data()
    return X[:200], y[:200]


def counted_accuracy(outputs, y, settings):
    """Accuracy, and one line per call in the file NNHLS_TEST_SWEEP_LOG names (workers inherit it)."""
    with open(os.environ["NNHLS_TEST_SWEEP_LOG"], "a") as log:
        log.write(f"{settings['ReuseFactor']} {settings['Strategy']}\n")
    if os.environ.get("NNHLS_TEST_SWEEP_KILL") == str(settings["ReuseFactor"]):
        os.kill(os.getpid(), signal.SIGKILL)  # this point's worker dies
    return float(np.mean(outputs.argmax(axis=1) == y))


def recorded_environment(outputs, y, settings):
    """1.0, and the worker's allocator and BLAS-thread variables as one line of the log."""
    names = ("MALLOC_TRIM_THRESHOLD_", "MALLOC_MMAP_THRESHOLD_", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS")
    with open(os.environ["NNHLS_TEST_SWEEP_LOG"], "a") as log:
        log.write(" ".join(f"{name}={os.environ.get(name)}" for name in names) + "\n")
    return 1.0


def computed(log: Path) -> list[str]:
    return log.read_text().splitlines() if log.exists() else []


@pytest.fixture(scope="module")
def qmlp():
    return load_example(DIGITS_QMLP)


def test_every_point_of_the_grid_scored_and_estimated(qmlp, tmp_path):
    X, y = digits()
    results = nnhls.sweep(qmlp, SPACE, X, y, folder=tmp_path / "sweep", executor=_ThreadExecutor())
    frame = results.frame
    assert len(frame) == 8 and (frame["error"] == "").all()
    assert list(frame["point"]) == list(range(8))
    # Each point is its own conversion: the same as converting it by hand.
    one = frame[(frame["ReuseFactor"] == 4) & (frame["Strategy"] == "Resource") & (frame["Precision"] == SPACE["Precision"][1])]
    config = nnhls.config_from_keras_model(qmlp, granularity="name", default_precision=SPACE["Precision"][1],
                                           default_reuse_factor=4)
    config["Model"]["Strategy"] = "Resource"
    by_hand = nnhls.convert_from_keras_model(qmlp, hls_config=config, output_dir=tmp_path / "by_hand")
    assert float(one["score"].iloc[0]) == float(np.mean(by_hand.predict(X).argmax(axis=1) == y))
    assert int(one["multipliers"].iloc[0]) == nnhls.estimate.estimate(by_hand).total.multipliers
    # The reuse factor divides the multipliers; nothing was written without build or keep.
    latency = frame[frame["Strategy"] == "Latency"]
    assert latency[latency["ReuseFactor"] == 1]["multipliers"].min() > latency[latency["ReuseFactor"] == 4]["multipliers"].max()
    assert not list((tmp_path / "sweep").glob("point_*"))
    kept = nnhls.sweep(qmlp, {"ReuseFactor": [2]}, X, y, folder=tmp_path / "kept", keep=True,
                       executor=_ThreadExecutor())
    assert kept.frame["error"].iloc[0] == "" and (tmp_path / "kept" / "point_0" / "build_prj.tcl").exists()


def test_the_pareto_front_and_its_plot(qmlp, tmp_path):
    X, y = digits()
    results = nnhls.sweep(qmlp, SPACE, X, y, folder=tmp_path / "sweep", executor=_ThreadExecutor())
    front = results.pareto()
    done = results.frame
    for _, point in front.iterrows():  # no point beats a front point on both
        assert not ((done["score"] >= point["score"]) & (done["multipliers"] <= point["multipliers"])
                    & ((done["score"] > point["score"]) | (done["multipliers"] < point["multipliers"]))).any()
    assert len(front) >= 1 and front["multipliers"].is_monotonic_increasing
    pytest.importorskip("matplotlib")
    path = results.plot(tmp_path / "pareto.png")
    assert path.stat().st_size > 1000


def test_a_random_sample_of_the_space_by_its_seed(qmlp, tmp_path):
    X, y = digits()
    space = {"LayerName:fc1:ReuseFactor": [1, 2, 4, 8], "LayerName:fc1:Precision.accum": ["auto", "ap_fixed<12,6>"]}
    first = nnhls.sweep(qmlp, space, X, y, samples=3, seed=7, folder=tmp_path / "a", executor=_ThreadExecutor())
    again = nnhls.sweep(qmlp, space, X, y, samples=3, seed=7, folder=tmp_path / "b", executor=_ThreadExecutor())
    assert len(first) == 3
    assert first.frame[list(space)].equals(again.frame[list(space)])
    assert first.frame[FIGURES].equals(again.frame[FIGURES])


def test_a_failing_point_is_recorded_and_the_sweep_goes_on(qmlp, tmp_path):
    X, y = digits()
    # A reuse factor above a layer's multiplications fits no kernel: that point's conversion fails.
    results = nnhls.sweep(qmlp, {"LayerName:fc1:ReuseFactor": [2, 10**6]}, X, y, folder=tmp_path / "sweep",
                          executor=_ThreadExecutor())
    errors = list(results.frame["error"])
    assert errors[0] == "" and "reuse factor 1000000 is larger than its" in errors[1]
    assert len(results.failed) == 1


def test_a_killed_worker_loses_only_its_point_and_a_rerun_computes_only_that(qmlp, tmp_path, monkeypatch):
    """On the default process pool (two spawned workers): the points with ReuseFactor 4 kill their
    worker; the sweep records them as failed and finishes the others. Rerun with the same results
    file (no more kills), only those points are computed."""
    X, y = digits()
    log, results_file = tmp_path / "calls.log", tmp_path / "results.csv"
    monkeypatch.setenv("NNHLS_TEST_SWEEP_LOG", str(log))
    monkeypatch.setenv("NNHLS_TEST_SWEEP_KILL", "4")
    space = {"ReuseFactor": [1, 2, 4], "Strategy": ["Latency", "Resource"]}
    first = nnhls.sweep(qmlp, space, X, y, metric=counted_accuracy, results=results_file, folder=tmp_path / "sweep")
    failed = first.failed
    assert sorted(failed["ReuseFactor"]) == [4, 4] and all("died" in e for e in failed["error"])
    assert (first.frame[first.frame["ReuseFactor"] != 4]["error"] == "").all()
    monkeypatch.delenv("NNHLS_TEST_SWEEP_KILL")
    log.unlink()
    second = nnhls.sweep(qmlp, space, X, y, metric=counted_accuracy, results=results_file, folder=tmp_path / "sweep")
    assert sorted(computed(log)) == ["4 Latency", "4 Resource"]
    assert (second.frame["error"] == "").all() and len(second) == 6
    kept = second.frame[second.frame["ReuseFactor"] != 4].reset_index(drop=True)
    assert kept[FIGURES].equals(first.frame[first.frame["ReuseFactor"] != 4].reset_index(drop=True)[FIGURES])


def test_the_default_pool_s_workers_keep_freed_memory_and_leave_the_caller_s_environment(qmlp, tmp_path, monkeypatch):
    X, y = digits()
    log = tmp_path / "environment.log"
    monkeypatch.setenv("NNHLS_TEST_SWEEP_LOG", str(log))
    monkeypatch.delenv("MALLOC_TRIM_THRESHOLD_", raising=False)
    before = dict(os.environ)
    results = nnhls.sweep(qmlp, {"ReuseFactor": [1, 2]}, X, y, metric=recorded_environment, folder=tmp_path / "sweep")
    assert (results.frame["error"] == "").all()
    assert computed(log) == ["MALLOC_TRIM_THRESHOLD_=268435456 MALLOC_MMAP_THRESHOLD_=33554432 "
                             "OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1"] * 2
    assert dict(os.environ) == before
    assert not list((tmp_path / "sweep").rglob("*.pickle"))  # the workers' shared data, removed


def test_the_shipped_cnn_gives_the_same_table_on_a_dask_cluster(tmp_path):
    """The acceptance sweep: the QKeras CNN over 3 default precisions x 3 reuse factors x 2
    strategies, with the default process pool and with a Dask LocalCluster of two workers."""
    distributed = pytest.importorskip("distributed")
    _, _, X, y = load_digits_images()
    X, y = X[:300], y[:300]
    space = {"Precision": ["ap_fixed<10,4>", "ap_fixed<12,5>", "ap_fixed<16,6>"], "ReuseFactor": [1, 2, 4],
             "Strategy": ["Latency", "Resource"]}
    pool = nnhls.sweep(DIGITS_QCNN, space, X, y, folder=tmp_path / "pool")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        dask = nnhls.sweep(DIGITS_QCNN, space, X, y, folder=tmp_path / "dask", executor=client.get_executor())
    assert len(pool) == len(dask) == 18
    assert (pool.frame["error"] == "").all() and (dask.frame["error"] == "").all()
    columns = ["Precision", "ReuseFactor", "Strategy", *FIGURES]
    assert pool.frame[columns].equals(dask.frame[columns])
    assert pool.plot(tmp_path / "pareto.png").exists()


def test_the_space_s_errors_name_the_axis(qmlp):
    X, y = digits()
    with pytest.raises(NnhlsError, match="sweep axis 'Reuse' is not one nnhls knows"):
        nnhls.sweep(qmlp, {"Reuse": [1, 2]}, X, y)
    with pytest.raises(NnhlsError, match="sweep axis 'ReuseFactor' has 4; give it a non-empty list"):
        nnhls.sweep(qmlp, {"ReuseFactor": 4}, X, y)
    with pytest.raises(NnhlsError, match="metric 'accuracy' needs the labels"):
        nnhls.sweep(qmlp, {"ReuseFactor": [1]}, X)
    # Checked before any point runs, with the hint for YAML's flow lists, which split at commas.
    with pytest.raises(NnhlsError, match="sweep axis 'Precision': value 'ap_fixed<12'.*quote precisions"):
        nnhls.sweep(qmlp, {"Precision": ["ap_fixed<12", "5>"]}, X, y)


def test_precisions_spans_widths_and_integer_bits():
    assert nnhls.sweep.__module__ == "nnhls.sweep"
    from nnhls.sweep import precisions

    assert precisions(range(6, 9, 2), [2, 7]) == ["ap_fixed<6,2,AP_RND_CONV,AP_SAT>", "ap_fixed<8,2,AP_RND_CONV,AP_SAT>",
                                                  "ap_fixed<8,7,AP_RND_CONV,AP_SAT>"]


class _ThreadExecutor:
    """A concurrent.futures executor in this process (one thread), for sweeps that test the points
    rather than the pool; any Executor works."""

    def __init__(self):
        import concurrent.futures

        self._pool = concurrent.futures.ThreadPoolExecutor(max_workers=1)

    def submit(self, function, *args):
        return self._pool.submit(function, *args)


def test_nnhls_sweep_on_the_command_line(tmp_path, capsys):
    from nnhls.cli import main

    X, y = digits()
    np.savez(tmp_path / "digits.npz", X=X, y=y)
    (tmp_path / "sweep.yml").write_text(
        f"KerasH5: {DIGITS_QMLP}\nBackend: Vitis\nSweep:\n  Space:\n    ReuseFactor: [1, 4]\n"
        "    Precision: ['ap_fixed<12,5>']\n  Data: digits.npz\n  Results: results.csv\n  Workers: 1\n"
        "  Plot: pareto.png\n")
    assert main(["sweep", "-c", str(tmp_path / "sweep.yml")]) == 0
    printed = capsys.readouterr().out
    assert "Pareto front (score against multipliers)" in printed and "ap_fixed<12,5>" in printed
    assert (tmp_path / "results.csv").exists() and (tmp_path / "pareto.png").exists()
    (tmp_path / "bad.yml").write_text(f"KerasH5: {DIGITS_QMLP}\nSweep:\n  Space: {{ReuseFactor: [1]}}\n  Datas: x\n")
    assert main(["sweep", "-c", str(tmp_path / "bad.yml")]) == 2
    assert "unknown key 'Datas' in Sweep" in capsys.readouterr().err


def test_build_runs_the_vendor_synthesis_of_every_point_and_its_report_joins_the_row(qmlp, tmp_path, monkeypatch):
    """With a stand-in vitis_hls that leaves a recorded Vitis HLS report (tests/data/reports) in
    the project it is run in: each point's project in its own folder, the report's figures in its row."""
    reports = Path(__file__).parent / "data" / "reports" / "vitis"
    tool = tmp_path / "bin" / "vitis_hls"
    tool.parent.mkdir()
    tool.write_text(f'#!/bin/sh\ncp -r "{reports}/myproject_prj" .\n')
    tool.chmod(0o755)
    monkeypatch.setenv("NNHLS_VITIS_HLS", str(tool))
    X, y = digits()
    results = nnhls.sweep(qmlp, {"ReuseFactor": [1, 2]}, X, y, backend="Vitis", build=True, folder=tmp_path / "sweep",
                          executor=_ThreadExecutor())
    frame = results.frame
    assert (frame["error"] == "").all(), list(frame["error"])
    assert list(frame["synth_latency_best"]) == [120, 120] and list(frame["synth_DSP"]) == [12, 12]
    assert list(frame["synth_estimated_ns"]) == [3.412, 3.412]
    for point in (0, 1):
        assert (tmp_path / "sweep" / f"point_{point}" / "build_prj.tcl").exists()
