"""Design-space sweeps: many configurations of one model, each converted, emulated on a data set,
scored and estimated, in parallel on any concurrent.futures Executor (a local process pool by
default; a Dask cluster's `Client.get_executor()` scales it out), with results kept in a file a
rerun resumes from, and the points no other beats on both score and cost.

The model is read once, in the calling process, into nnhls's graph; workers get the graph, the
data and the framework's own outputs, so they import neither TensorFlow nor PyTorch.
"""

from __future__ import annotations

import concurrent.futures
import copy
import itertools
import json
import math
import multiprocessing
import os
import pickle
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nnhls.errors import NnhlsError

__all__ = ["METRICS", "SweepResults", "precisions", "sweep"]

# How a point is scored: against the labels y, or against the framework's own outputs.
METRICS = ("accuracy", "agreement")
# The columns of a point's row besides its settings.
_FIGURES = ("score", "multipliers", "bram_18k", "latency", "interval", "weight_bits", "overflowed")
_MODEL_AXES = ("Precision", "ReuseFactor", "Strategy", "IOType")
_LAYER_KEYS = ("Precision", "ReuseFactor", "Strategy", "RecurrentReuseFactor", "Static", "TableSize")
# The marks of points a worker started, by which a dead worker's point is told apart.
_STARTED = ".started"


def precisions(widths, integers, signed: bool = True, rounding: str = "RND_CONV", overflow: str = "SAT") -> list[str]:
    """Precision strings for every width in `widths` and integer bits in `integers` (ranges or
    lists): ap_fixed<W,I,AP_RND_CONV,AP_SAT> by default, integer bits at most the width."""
    kind = "ap_fixed" if signed else "ap_ufixed"
    return [f"{kind}<{w},{i},AP_{rounding},AP_{overflow}>" for w in widths for i in integers if i <= w]


@dataclass(frozen=True)
class _Axis:
    """One axis of the space: where in the configuration its values go."""

    name: str  # as the user wrote it
    scope: str  # 'Model', 'LayerName', 'LayerType', or 'io_type'
    target: str | None  # the layer name or type
    key: str  # 'Precision', 'ReuseFactor', ... ; 'Precision.<key>' for one precision key

    @classmethod
    def parse(cls, name: str) -> _Axis:
        if name in ("IOType", "io_type"):
            return cls(name, "io_type", None, "IOType")
        if name in _MODEL_AXES:
            return cls(name, "Model", None, name)
        parts = name.split(":")
        key = parts[-1] if len(parts) == 3 else ""
        if len(parts) != 3 or parts[0] not in ("LayerName", "LayerType") or key.split(".")[0] not in _LAYER_KEYS:
            raise NnhlsError(f"sweep axis {name!r} is not one nnhls knows: use {', '.join(_MODEL_AXES)}, or "
                             "'LayerName:<layer>:<key>' / 'LayerType:<type>:<key>' with <key> one of "
                             f"{', '.join(_LAYER_KEYS)} or 'Precision.<precision key>' (e.g. "
                             "'LayerName:fc1:Precision.result')")
        return cls(name, parts[0], parts[1], key)

    def apply(self, config: dict, value) -> None:
        if self.scope == "Model":
            if self.key == "Precision":
                config["Model"]["Precision"] = {**_as_dict(config["Model"].get("Precision")), "default": value}
            else:
                config["Model"][self.key] = value
            return
        entry = config.setdefault(self.scope, {}).setdefault(self.target, {})
        key, _, precision_key = self.key.partition(".")
        if precision_key:
            entry["Precision"] = {**_as_dict(entry.get("Precision")), precision_key: value}
        elif key == "Precision":
            entry["Precision"] = {**_as_dict(entry.get("Precision")), "default": value}
        else:
            entry[key] = value


def _check_values(axis: _Axis, values) -> None:
    """Precisions are checked before any point runs (each point would fail alike)."""
    from nnhls.types import parse_precision

    if not axis.key.startswith("Precision"):
        return
    for value in values:
        try:
            parse_precision(value)
        except NnhlsError as error:
            hint = (" (in a YAML flow list, quote precisions: ['ap_fixed<12,5>'], since a comma separates "
                    "items)") if isinstance(value, str) and value.count("<") != value.count(">") else ""
            raise NnhlsError(f"sweep axis {axis.name!r}: value {value!r}: {error}{hint}") from None


def _as_dict(precision) -> dict:
    if precision is None:
        return {}
    return dict(precision) if isinstance(precision, dict) else {"default": precision}


def _points(space: dict, samples: int | None, seed: int) -> list[dict]:
    """Every combination of the axes' values (a grid), or `samples` of them drawn without
    replacement by `seed`; each a dict axis name -> value."""
    if not isinstance(space, dict) or not space:
        raise NnhlsError("space must be a dict of axis name -> list of values, e.g. {'ReuseFactor': [1, 2, 4]}")
    for name, values in space.items():
        if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__") or not list(values):
            raise NnhlsError(f"sweep axis {name!r} has {values!r}; give it a non-empty list of values")
    names = list(space)
    grid = [dict(zip(names, combination)) for combination in itertools.product(*(list(space[n]) for n in names))]
    if samples is None or samples >= len(grid):
        return grid
    if not isinstance(samples, int) or samples < 1:
        raise NnhlsError(f"samples is {samples!r}; give a positive number of points, or None for the whole grid")
    chosen = np.random.default_rng(seed).choice(len(grid), size=samples, replace=False)
    return [grid[i] for i in sorted(chosen)]


def _key(settings: dict) -> str:
    """A point's identity in the results file: its settings, canonically."""
    return json.dumps(settings, sort_keys=True, default=str)


@dataclass(frozen=True)
class _Shared:
    """What every point reads, sent to each worker once where the executor allows it: the model's
    graph, the data, and the labels (accuracy) or the framework's outputs (agreement)."""

    graph: object
    X: object
    expected: np.ndarray | None


# The shared data a worker of the default pool read from the sweep's file: (path, _Shared).
_WORKER_SHARED: list = []


def _shared_from(path: str) -> _Shared:
    """The shared data the default pool's workers read, once each, from the file the sweep wrote."""
    if not _WORKER_SHARED or _WORKER_SHARED[0][0] != path:
        with open(path, "rb") as file:
            _WORKER_SHARED[:] = [(path, pickle.load(file))]
    return _WORKER_SHARED[0][1]


def _start_worker() -> None:
    """A default pool worker's start: the modules every point needs, imported while the caller
    still reads the model."""
    import nnhls.converters  # noqa: F401
    import nnhls.estimate  # noqa: F401


@dataclass
class _Task:
    """What a worker needs for one point (picklable; the model's graph, not the model)."""

    number: int
    settings: dict
    base_config: dict | None  # the caller's configuration, else the model's made per point:
    configuration: dict  # config_from_graph's arguments for that (granularity, default precision)
    metric: object
    backend: str
    io_type: str
    options: dict
    folder: str | None  # the point's own project folder (build or keep), else None
    build: bool
    marks: str  # where the worker marks that it started the point


def _evaluate(task: _Task, shared: _Shared | str) -> dict:
    """Convert, emulate, score and estimate one point (in a worker), reading `shared` or the file
    it names. Errors become the row's `error`."""
    from nnhls.converters import convert_graph
    from nnhls.estimate import estimate

    shared = _shared_from(shared) if isinstance(shared, str) else shared

    try:  # on a cluster's machines the sweep's folder may not be there; only the local pool reads marks
        (Path(task.marks) / f"{task.number}{_STARTED}").write_text(str(os.getpid()))
    except OSError:
        pass
    start = time.perf_counter()
    row: dict = {"point": task.number, **task.settings}
    try:
        config = _configuration(task, shared.graph)
        io_type = task.io_type
        for name, value in task.settings.items():
            axis = _Axis.parse(name)
            if axis.scope == "io_type":
                io_type = value
            else:
                axis.apply(config, value)
        with tempfile.TemporaryDirectory() as scratch, warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")  # a point's warnings (reuse factors moved, limits) join its row
            output_dir = task.folder or str(Path(scratch) / "prj")
            hls_model = convert_graph(copy.deepcopy(shared.graph), hls_config=config, backend=task.backend,
                                      io_type=io_type, output_dir=output_dir, **task.options)
            outputs, overflows = hls_model.predict_with_overflows(shared.X)
            row["score"] = _score(task.metric, outputs, shared.expected, task.settings)
            total = estimate(hls_model).total
            row.update(multipliers=total.multipliers, bram_18k=total.bram_18k, latency=total.latency,
                       interval=total.interval, weight_bits=total.weight_bits)
            row["overflowed"] = int(sum(overflows.by_layer().values()))
            if task.build:
                row.update(_report_figures(hls_model.build(csim=False, synth=True, echo=False)))
            elif task.folder is not None:  # keep: the point's project, written for a later look or build
                hls_model.write()
        row["warnings"] = " | ".join(dict.fromkeys(str(w.message) for w in caught))
        row["error"] = ""
    except Exception as error:  # a point that fails is recorded as failed; the sweep goes on
        row["error"] = f"{type(error).__name__}: {error}"
    row["wall_s"] = round(time.perf_counter() - start, 4)
    return row


def _configuration(task: _Task, graph) -> dict:
    """The point's starting configuration: the caller's, or the model's own as config_from_graph
    makes it with the point's default precision and reuse factor (so that every layer takes them)."""
    from nnhls.config import config_from_graph

    if task.base_config is not None:
        return copy.deepcopy(task.base_config)
    options = dict(task.configuration)
    options["default_precision"] = task.settings.get("Precision", options["default_precision"])
    options["default_reuse_factor"] = task.settings.get("ReuseFactor", 1)
    return config_from_graph(graph, **options)  # which only reads the graph


def _score(metric, outputs, expected, settings: dict) -> float:
    outputs = outputs[0] if isinstance(outputs, list) else outputs
    if callable(metric):
        import inspect

        takes_settings = len(inspect.signature(metric).parameters) >= 3
        return float(metric(outputs, expected, settings) if takes_settings else metric(outputs, expected))
    if metric == "accuracy":
        return float(np.mean(np.argmax(outputs.reshape(len(outputs), -1), axis=1) == np.asarray(expected)))
    # agreement: the share of samples whose top class is the framework's
    framework = np.asarray(expected).reshape(len(outputs), -1)
    return float(np.mean(np.argmax(outputs.reshape(len(outputs), -1), axis=1) == np.argmax(framework, axis=1)))


def _report_figures(report: dict) -> dict:
    """The vendor synthesis report's figures (nnhls.report.read) for a row: latency and interval
    in cycles, resources, the estimated clock."""
    synthesis = report.get("synthesis") or {}
    figures = {f"synth_{key}": synthesis.get(key) for key in ("latency_best", "latency_worst", "interval_min",
                                                                "interval_max")}
    figures.update({f"synth_{key}": value for key, value in (synthesis.get("resources") or {}).items()})
    figures["synth_estimated_ns"] = (report.get("clock") or {}).get("estimated_ns")
    return figures


class SweepResults:
    """One row per point (a pandas DataFrame, `.frame`): its settings, score, estimate (multipliers,
    bram_18k, latency, interval, weight_bits), overflow count, the conversion's warnings, wall time,
    error ('' if none), and with a build the synthesis report's figures (`synth_...`)."""

    def __init__(self, frame, axes: list[str]):
        self.frame = frame
        self.axes = axes

    def __len__(self) -> int:
        return len(self.frame)

    def __repr__(self) -> str:
        return f"<SweepResults: {len(self.frame)} points, {int((self.frame['error'] != '').sum())} failed>"

    @property
    def failed(self):
        return self.frame[self.frame["error"] != ""]

    def pareto(self, score: str = "score", cost: str = "multipliers"):
        """The points no other point beats on both: as high a `score` and as low a `cost`."""
        done = self.frame[self.frame["error"] == ""]
        keep = []
        for index, row in done.iterrows():
            beaten = ((done[score] >= row[score]) & (done[cost] <= row[cost])
                      & ((done[score] > row[score]) | (done[cost] < row[cost]))).any()
            if not beaten:
                keep.append(index)
        return done.loc[keep].sort_values(cost)

    def plot(self, path=None, score: str = "score", cost: str = "multipliers"):
        """Score against cost, every point, the Pareto front marked; saved as a PNG at `path`."""
        try:
            import matplotlib

            matplotlib.use("Agg")
            import matplotlib.pyplot as plt
        except ImportError:
            raise NnhlsError("plot() needs matplotlib: pip install 'nnhls[plot]'") from None
        done = self.frame[self.frame["error"] == ""]
        front = self.pareto(score, cost)
        figure, axes = plt.subplots(figsize=(7, 4.5))
        axes.scatter(done[cost], done[score], color="0.6", label="points")
        axes.plot(front[cost], front[score], "o-", color="tab:red", label="Pareto front")
        axes.set_xlabel(f"{cost} (nnhls estimate)")
        axes.set_ylabel(score)
        axes.set_title(f"{len(done)} points, {len(front)} on the front")
        axes.legend()
        figure.tight_layout()
        path = Path(path or "sweep.png")
        path.parent.mkdir(parents=True, exist_ok=True)
        figure.savefig(path, format="png", dpi=100)
        plt.close(figure)
        return path


def sweep(model, space: dict, X, y=None, metric="accuracy", backend: str = "Vivado", io_type: str = "io_parallel",
          executor: concurrent.futures.Executor | None = None, build: bool = False, keep: bool = False,
          results=None, folder=None, samples: int | None = None, seed: int = 0, input_shape=None,
          granularity: str = "name", default_precision: str = "fixed<16,6>", hls_config: dict | None = None,
          progress: bool | None = None, **options) -> SweepResults:
    """Convert `model` at every point of `space`, emulate it on `X`, score it and estimate it.

    space: axis name -> list of values. Axes: 'Precision' (the model's default precision),
      'ReuseFactor', 'Strategy', 'IOType', and 'LayerName:<layer>:<key>' or 'LayerType:<type>:<key>'
      (keys Precision, ReuseFactor, Strategy, RecurrentReuseFactor, Static, TableSize, or one
      precision key as 'Precision.<key>', e.g. 'LayerName:fc1:Precision.result'). `precisions()`
      makes lists of widths and integer bits. The whole grid, or `samples` points drawn by `seed`.
    metric: 'accuracy' (against the labels `y`), 'agreement' (the share of samples whose top
      class is the framework's own), or a function (outputs, y) -> score, or (outputs, y, the
      point's settings) -> score (picklable: defined at a module's top level).
    executor: any concurrent.futures.Executor; by default a process pool of one worker per core.
      A Dask cluster's `Client(...).get_executor()` runs the same sweep there.
    results: a .csv (or .parquet) file; points it holds without an error are not computed again,
      and each finished point is written to it at once, so an interrupted sweep resumes.
    folder: the sweep's folder; each point's project goes to `<folder>/point_<n>`, written only
      with `build` (the vendor synthesis, whose report figures join the row) or `keep`.
    input_shape: a PyTorch module's input shape. Each point starts from the model's configuration
      (`granularity`, default 'name') made with the point's 'Precision' and 'ReuseFactor' as the
      defaults every layer takes, or from `hls_config` where given (where its layer entries win
      over the model-level axes). Other options go to the converter (part, clock_period, ...).

    A point that raises, or whose worker dies, is recorded as failed (its `error`), and the sweep
    goes on. Returns the rows of every point of the space as a SweepResults.
    """
    import pandas as pd

    from nnhls.config import config_from_graph

    if metric not in METRICS and not callable(metric):
        raise NnhlsError(f"metric {metric!r} is not valid; use 'accuracy', 'agreement' or a function (outputs, y)")
    if metric == "accuracy" and y is None:
        raise NnhlsError("metric 'accuracy' needs the labels: pass y (or use metric='agreement')")
    points = _points(space, samples, seed)
    for name, values in space.items():
        _check_values(_Axis.parse(name), values)
    configuration = {"granularity": granularity, "backend": backend, "default_precision": default_precision}
    base = copy.deepcopy(hls_config) if hls_config else None  # as it is now; each point copies it again
    folder = Path(folder) if folder is not None else Path(tempfile.mkdtemp(prefix="nnhls_sweep_"))
    folder.mkdir(parents=True, exist_ok=True)
    marks = folder / ".marks"
    marks.mkdir(exist_ok=True)
    for stale in marks.glob(f"*{_STARTED}"):
        stale.unlink()
    store = _ResultsFile(Path(results)) if results is not None else None
    done = store.finished(list(space)) if store is not None else {}
    rows = dict(done)
    tasks = []
    for number, settings in enumerate(points):
        if _key(settings) in done:
            continue
        point_folder = str(folder / f"point_{number}") if (build or keep) else None
        tasks.append(_Task(number, settings, base, configuration,
                           metric, backend, io_type, options, point_folder, build, str(marks)))
    pool = _start_pool(os.cpu_count() or 1) if executor is None and tasks else None
    try:  # the pool's workers start while the model is read
        graph, framework_outputs = _read(model, X, input_shape, need_outputs=metric == "agreement")
        expected = framework_outputs if metric == "agreement" else (None if y is None else np.asarray(y))
        config_from_graph(graph, **configuration)  # a wrong argument is reported now, not per point
        shared = _Shared(graph, X, expected)
        if pool is not None:  # which read it from a file, once each
            with open(marks / "shared.pickle", "wb") as file:
                pickle.dump(shared, file, protocol=pickle.HIGHEST_PROTOCOL)
            shared = str(marks / "shared.pickle")
        for row in _run(tasks, shared, executor, pool, marks, _show_progress(progress)):
            key = _key({name: row[name] for name in space})
            rows[key] = row
            if store is not None:
                store.add(key, row)
    finally:
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
        (marks / "shared.pickle").unlink(missing_ok=True)
    ordered = [rows[_key(settings)] for settings in points]
    frame = pd.DataFrame(ordered)
    for column in (*_FIGURES, "wall_s", "warnings", "error"):
        if column not in frame:
            frame[column] = "" if column in ("warnings", "error") else np.nan
    for column in ("warnings", "error"):
        frame[column] = frame[column].fillna("").astype(str)
    return SweepResults(frame, list(space))


def _read(model, X, input_shape, need_outputs: bool):
    """The model's graph, and its framework's outputs on X where the metric needs them."""
    from nnhls.compare import _is_onnx_model, _is_torch_module
    from nnhls.ir import Graph

    if isinstance(model, Graph):
        if need_outputs:
            raise NnhlsError("metric 'agreement' needs the framework's model, not an nnhls graph; pass the model")
        return model, None
    if _is_torch_module(model):
        if input_shape is None:
            raise NnhlsError("a PyTorch module needs input_shape (one sample's shape without the batch axis)")
        from nnhls.frontends.pytorch import read_pytorch

        graph = read_pytorch(model, input_shape)
        outputs = None
        if need_outputs:
            import torch

            with torch.no_grad():
                outputs = model(torch.as_tensor(np.asarray(X), dtype=torch.float32)).numpy()
        return graph, outputs
    if _is_onnx_model(model):
        from nnhls.frontends.onnx import read_onnx, reference_outputs

        graph = read_onnx(model)
        outputs = next(iter(reference_outputs(model, [np.asarray(X)]).values())) if need_outputs else None
        return graph, outputs
    from nnhls.frontends.keras import load_keras_file, read_keras

    if isinstance(model, (str, os.PathLike)):
        model = load_keras_file(model)
    graph = read_keras(model)
    outputs = np.asarray(model.predict(np.asarray(X), verbose=0)) if need_outputs else None
    return graph, outputs


def _show_progress(progress: bool | None) -> bool:
    return sys.stderr.isatty() if progress is None else bool(progress)


def _run(tasks: list[_Task], shared: _Shared | str, executor, pool, marks: Path, show_progress: bool):
    """Each task's row as it finishes, on `executor`, or on the default pool `pool` already
    started. On another executor a point whose worker dies raises there (Dask's KilledWorker,
    after its retries) and is recorded as failed. On the default pool a dying worker breaks the
    whole pool: the points not yet started go to a new pool, and each point that had started runs
    again alone, so that only one whose worker dies on its own is recorded as failed."""
    if not tasks:
        return
    bar = _progress_bar(len(tasks)) if show_progress else None
    pending, suspects = list(tasks), []
    while pending or suspects:
        if suspects:
            batch, workers = [suspects.pop(0)], 1
        else:
            batch, pending, workers = pending, [], os.cpu_count() or 1
        for task in batch:
            (marks / f"{task.number}{_STARTED}").unlink(missing_ok=True)
        if executor is None:
            # The pool started with the sweep serves until a worker dies; each round after that gets its own.
            own, pool = pool or _start_pool(workers), None
            rows = _round(batch, shared, own)
        else:
            own, rows = None, _round(batch, shared, executor)
        try:
            for task, row in rows:
                if row is None:  # the pool broke under it
                    if len(batch) == 1:
                        row = _failed(task, "its worker process died while computing it")
                    elif (marks / f"{task.number}{_STARTED}").exists():
                        suspects.append(task)
                        continue
                    else:
                        pending.append(task)
                        continue
                if bar is not None:
                    bar.update(1)
                yield row
        finally:
            if own is not None:
                own.shutdown(wait=True, cancel_futures=True)
    if bar is not None:
        bar.close()


# The environment the default pool's workers start with. One thread of numpy's BLAS and of the
# emulator each: the workers share the cores, and more threads would only contend for them. glibc's allocator kept
# from handing the emulator's arrays (megabytes per chunk, made and freed at every op) back to the
# kernel, which would fault them in again zeroed at the next op: that costs a third of a point's
# time, and twice it under a trim threshold as low as Dask's workers have (docs/sweep.md).
_WORKER_ENVIRONMENT = {**{name: "1" for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                                                  "NNHLS_NUM_THREADS")},
                       "MALLOC_MMAP_THRESHOLD_": str(32 << 20), "MALLOC_TRIM_THRESHOLD_": str(256 << 20)}


def _start_pool(workers: int) -> concurrent.futures.ProcessPoolExecutor:
    """The default pool, its workers starting now: fresh processes (the caller may hold
    TensorFlow's or PyTorch's threads, which a fork copies badly) in _WORKER_ENVIRONMENT."""
    saved = {name: os.environ.get(name) for name in _WORKER_ENVIRONMENT}
    os.environ.update(_WORKER_ENVIRONMENT)
    try:  # a process starts at a submit that finds no idle one, in the environment of that moment
        pool = concurrent.futures.ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"),
                                                      initializer=_start_worker)
        for _ in range(workers):
            pool.submit(int)
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
    return pool


def _round(batch: list[_Task], shared: _Shared | str, executor):
    """(task, row) of each task of `batch` as it finishes; row None where the default pool broke.
    The shared data go to each worker once: the default pool's read them from the file `shared`
    names, a Dask cluster's get them scattered to every worker (ClientExecutor's client); any
    other executor gets them with every point."""
    argument = shared
    client = getattr(executor, "_client", None)
    if client is not None and hasattr(client, "scatter"):
        argument = client.scatter(shared, broadcast=True)
    futures = {executor.submit(_evaluate, task, argument): task for task in batch}
    for future in concurrent.futures.as_completed(futures):
        task = futures[future]
        try:
            yield task, future.result()
        except concurrent.futures.process.BrokenProcessPool:
            yield task, None
        except Exception as error:  # the worker died (Dask's KilledWorker) or the task could not run there
            yield task, _failed(task, f"{type(error).__name__}: {error}")


def _failed(task: _Task, error: str) -> dict:
    return {"point": task.number, **task.settings, **{name: math.nan for name in _FIGURES}, "warnings": "",
            "wall_s": math.nan, "error": error}


def _progress_bar(total: int):
    try:
        from tqdm import tqdm
    except ImportError:
        return None
    return tqdm(total=total, desc="sweep", unit="point")


class _ResultsFile:
    """The rows of finished points, in a CSV or Parquet file rewritten as each point finishes."""

    def __init__(self, path: Path):
        if path.suffix not in (".csv", ".parquet"):
            raise NnhlsError(f"results file {str(path)!r}: use a .csv or .parquet file")
        self.path = path
        self.rows: dict[str, dict] = {}

    def finished(self, axes: list[str]) -> dict:
        """Rows of points computed without an error, by their settings' key (the `axes`)."""
        import pandas as pd

        if not self.path.exists() or self.path.stat().st_size == 0:
            return {}
        frame = pd.read_csv(self.path) if self.path.suffix == ".csv" else pd.read_parquet(self.path)
        missing = [name for name in (*axes, "error") if name not in frame]
        if missing:
            raise NnhlsError(f"results file {str(self.path)!r} holds no rows of this sweep's axes (it lacks "
                             f"{', '.join(missing)}); give another file")
        frame["error"] = frame["error"].fillna("").astype(str)
        self.rows = {_key({a: _plain(row[a]) for a in axes}): row for row in frame.to_dict("records")}
        return {key: row for key, row in self.rows.items() if row["error"] == ""}

    def add(self, key: str, row: dict) -> None:
        import pandas as pd

        self.rows[key] = row
        self.path.parent.mkdir(parents=True, exist_ok=True)
        frame = pd.DataFrame(list(self.rows.values()))
        partial = self.path.with_name(self.path.name + ".partial")
        if self.path.suffix == ".csv":
            frame.to_csv(partial, index=False)
        else:
            frame.to_parquet(partial, index=False)
        partial.replace(self.path)  # a sweep killed while writing leaves the last whole file


def _plain(value):
    """A value read back from a results file as the space gave it (numpy ints as ints)."""
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return int(value) if float(value).is_integer() else float(value)
    if isinstance(value, np.bool_):
        return bool(value)
    return value


def sweep_from_config(config_file) -> SweepResults:
    """The sweep a YAML file describes, as `nnhls sweep -c sweep.yml` runs it: the keys of
    `nnhls convert` (the model, Backend, IOType, Part, ClockPeriod, HLSConfig) and a `Sweep:`
    section (nnhls.config_file lists its keys). Errors in the file name its line."""
    from nnhls.config_file import read_config_file
    from nnhls.converters import model_from_config

    config = read_config_file(config_file)
    settings = config.values.get("Sweep")
    if not settings or "Space" not in settings or "Data" not in settings:
        raise config.error("a sweep needs a Sweep: section with Space (axis: [values]) and Data (a .npz file of X "
                           "and y)", "Sweep")
    data_path = Path(settings["Data"])
    data_path = data_path if data_path.is_absolute() else config.path.parent / data_path
    if not data_path.is_file():
        raise config.error(f"Data: file {str(data_path)!r} does not exist", "Sweep", "Data")
    with np.load(data_path) as data:
        if "X" not in data:
            raise config.error(f"Data: {str(data_path)!r} holds no array X (np.savez(path, X=..., y=...))",
                               "Sweep", "Data")
        X, y = data["X"], (data["y"] if "y" in data else None)
    model, input_shape = model_from_config(config)
    values = config.values

    def relative(key):
        value = settings.get(key)
        if value is None:
            return None
        path = Path(value)
        return path if path.is_absolute() else config.path.parent / path

    executor, client = None, None
    if settings.get("Scheduler"):
        from distributed import Client

        client = Client(settings["Scheduler"])
        executor = client.get_executor()
    elif settings.get("Workers"):
        executor = _start_pool(int(settings["Workers"]))
    options = {"part": values.get("Part", "xcu250-figd2104-2L-e"), "clock_period": values.get("ClockPeriod", 5)}
    try:
        results = sweep(model, settings["Space"], X, y, metric=settings.get("Metric", "accuracy"),
                        backend=values.get("Backend", "Vivado"), io_type=values.get("IOType", "io_parallel"),
                        executor=executor, build=bool(settings.get("Build", False)),
                        keep=bool(settings.get("Keep", False)), results=relative("Results"),
                        folder=relative("Folder"), samples=settings.get("Samples"), seed=int(settings.get("Seed", 0)),
                        input_shape=input_shape, hls_config=values.get("HLSConfig"), **options)
    except NnhlsError as error:
        raise config.located(error) from None
    finally:
        if client is not None:
            client.close()
        elif executor is not None:
            executor.shutdown()
    if settings.get("Plot"):
        results.plot(relative("Plot"))
    return results
