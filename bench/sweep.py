"""Design-space sweeps of the shipped QKeras CNN (nnhls.sweep), the same 72 points (6 default
precisions x 3 reuse factors x 2 strategies x 2 io types) scored on 7,188 digits: points per
second in one process (numpy's BLAS threads as they are, and held to one), on the default pool
(one worker process per core), and on a Dask LocalCluster of as many workers, started as Dask
starts them and with the allocator settings of docs/sweep.md (its first sweep, whose workers
import nnhls, and a second); whether the tables agree. Prints one JSON object; TensorFlow is
imported before any figure.

Run: .venv/bin/python bench/sweep.py
"""

import concurrent.futures
import json
import os
import tempfile
import time
from pathlib import Path

import prelude  # noqa: F401  first: it sets up the environment

import numpy as np  # noqa: E402
from quantize import machine  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

import nnhls  # noqa: E402
from nnhls.examples import DIGITS_QCNN, load_digits_images  # noqa: E402

SPACE = {"Precision": ["ap_fixed<8,3>", "ap_fixed<10,4>", "ap_fixed<12,5>", "ap_fixed<14,6>", "ap_fixed<16,6>",
                       "ap_fixed<18,8>"], "ReuseFactor": [1, 2, 4],
         "Strategy": ["Latency", "Resource"], "IOType": ["io_parallel", "io_stream"]}
COLUMNS = ["score", "multipliers", "bram_18k", "latency", "interval", "weight_bits", "overflowed"]


def timed(executor, X, y, folder: Path):
    start = time.perf_counter()
    results = nnhls.sweep(DIGITS_QCNN, SPACE, X, y, executor=executor, folder=folder, progress=False)
    return results, time.perf_counter() - start


# The environment in which Dask's workers keep their freed memory (docs/sweep.md).
KEEP_FREED = {"MALLOC_TRIM_THRESHOLD_": str(256 << 20), "MALLOC_MMAP_THRESHOLD_": str(32 << 20)}


def on_dask(X, y, folder: Path, workers: int, environment: dict):
    """(results, seconds) of the first sweep on a new LocalCluster started from `environment` (its
    workers import nnhls at their first point) and of a second one."""
    from distributed import Client, LocalCluster

    for name in KEEP_FREED:
        os.environ.pop(name, None)
    os.environ.update(environment)
    with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        return [timed(client.get_executor(), X, y, folder / str(run)) for run in range(2)]


def main():

    X_train, y_train, X_test, y_test = load_digits_images()
    X = np.concatenate([X_train, X_test] * 4)  # 7,188 images: each point's emulation outweighs a worker's start
    y = np.concatenate([y_train, y_test] * 4)
    workers = os.cpu_count() or 1
    figures = {}
    nnhls.sweep(DIGITS_QCNN, {"ReuseFactor": [1]}, X[:10], y[:10], progress=False)  # TensorFlow imported: no figure has it
    with tempfile.TemporaryDirectory() as folder:
        with concurrent.futures.ThreadPoolExecutor(max_workers=1) as one:  # in this process, one point at a time
            single, seconds = timed(one, X, y, Path(folder) / "single")
        figures["single_process"] = seconds
        # The same, numpy's BLAS held to one thread, as in each worker of the pool: one core's work.
        with threadpool_limits(limits=1), concurrent.futures.ThreadPoolExecutor(max_workers=1) as one:
            _, figures["single_process_one_thread"] = timed(one, X, y, Path(folder) / "single_one_thread")
        pool, figures["default_pool"] = timed(None, X, y, Path(folder) / "pool")
        _, (_, figures["dask_local_cluster_as_dask_starts_it"]) = on_dask(X, y, Path(folder) / "dask_default",
                                                                           workers, {})
        (_, figures["dask_local_cluster_first_sweep"]), (dask, figures["dask_local_cluster"]) = on_dask(
            X, y, Path(folder) / "dask", workers, KEEP_FREED)
    points = len(single)
    same = all(single.frame[COLUMNS].equals(other.frame[COLUMNS]) for other in (pool, dask))
    results = {
        "points": points, "images": len(X), "workers": workers,
        **{f"{name}_points_per_s": round(points / seconds, 2) for name, seconds in figures.items()},
        "default_pool_over_single_process": round(figures["single_process"] / figures["default_pool"], 2),
        "default_pool_over_one_thread": round(figures["single_process_one_thread"] / figures["default_pool"], 2),
        "dask_over_single_process": round(figures["single_process"] / figures["dask_local_cluster"], 2),
        "dask_over_one_thread": round(figures["single_process_one_thread"] / figures["dask_local_cluster"], 2),
        "same_table_everywhere": same, "failed_points": int((pool.frame["error"] != "").sum()),
        "pareto_points": len(pool.pareto()),
    }
    print(json.dumps({"benchmark": "sweep", "machine": machine(), "results": results}, indent=2))


if __name__ == "__main__":
    main()
