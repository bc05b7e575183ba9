"""The threaded dataflow C simulation (nnhls/dataflow.h, csim.simulate_dataflow): every stage in a
thread of its own and every internal stream bounded by its depth, so that a skip connection whose
short path is too shallow deadlocks, exactly at the depth where the hardware would, and the report
names the full stream and the empty ones. The unthreaded build of the same files stays the
vendor's model: stages in order over unbounded streams.

The designs are written here by hand: a fork (clone_stream) into a short path straight to a
two-input stage and a long path through a stage that must read several packets before it writes
its first, either a hand-written window sum or nnhls's own pool_stream (itself a region).
"""

import random
import shutil
import subprocess
from pathlib import Path

import pytest

from nnhls.csim import DataflowResult, simulate_dataflow
from nnhls.errors import NnhlsError
from nnhls.hls import AP_TYPES_DIR, INCLUDE_DIR

N_PACKETS = 12  # window-sum design: packets of 2 channels per sample
WINDOW = 5
# window_sum writes sum 0 only after reading packet WINDOW - 1 of long_path. clone_stream writes
# each packet to short_path before long_path, and add, having read short packet 0, waits for sum
# 0; so short_path must hold packets 1 .. WINDOW - 1, and the same holds for every later sum.
LEAST_SHORT_DEPTH = WINDOW - 1

IMAGE_H, IMAGE_W = 4, 5  # pooling design: 3x3 max pooling, stride 1, one pixel of padding around
# An inner output pixel (y, x) needs the window up to image pixel (y + 1, x + 1), which arrives
# IMAGE_W + 1 packets after pixel (y, x) itself; add waits for it holding short packet (y, x) only.
LEAST_POOL_SHORT_DEPTH = IMAGE_W + 1

TYPES = """#include "nnhls/common.h"

typedef ap_fixed<12, 4> value_t;
typedef ap_fixed<16, 8> sum_t;
typedef nnhls::packet<value_t, 2> value_packet_t;
typedef nnhls::packet<sum_t, 2> sum_packet_t;
"""

ADD = """
// The skip connection's end: one packet from each path, added.
template <unsigned N, class a_T, class b_T>
void add(hls::stream<a_T>& a, hls::stream<b_T>& b, hls::stream<sum_packet_t>& out) {
  for (unsigned p = 0; p < N; p++) {
    const a_T x = a.read();
    const b_T y = b.read();
    sum_packet_t z;
    for (unsigned c = 0; c < 2; c++) z[c] = x[c] + y[c];
    out.write(z);
  }
}
"""

WINDOW_SUM = """
// Output p is the sum of inputs p .. p + K - 1 (zeros past the end): it is written only after
// input p + K - 1 has been read, as a convolution waits for its window.
template <unsigned N, unsigned K>
void window_sum(hls::stream<value_packet_t>& in, hls::stream<sum_packet_t>& out) {
  value_packet_t window[K];
  for (unsigned p = 0; p < N + K - 1; p++) {
    value_packet_t incoming;
    for (unsigned c = 0; c < 2; c++) incoming[c] = 0;
    if (p < N) incoming = in.read();
    window[p % K] = incoming;
    if (p + 1 >= K) {
      sum_packet_t sum;
      for (unsigned c = 0; c < 2; c++) {
        sum[c] = 0;
        for (unsigned k = 0; k < K; k++) sum[c] += window[k][c];
      }
      out.write(sum);
    }
  }
}
"""

POOL_CONFIG = f"""
#include "nnhls/pool.h"

struct pool_config {{
  static const unsigned in_h = {IMAGE_H}, in_w = {IMAGE_W}, n_chan = 2;
  static const unsigned kernel_h = 3, kernel_w = 3, stride_h = 1, stride_w = 1, pad_top = 1, pad_left = 1;
  static const unsigned dilation_h = 1, dilation_w = 1, span_h = 3, span_w = 3;
  static const unsigned spread_h = 1, spread_w = 1, spread_in_h = {IMAGE_H}, spread_in_w = {IMAGE_W};
  static const unsigned padded_h = {IMAGE_H + 2}, padded_w = {IMAGE_W + 2};
  static const unsigned out_h = {IMAGE_H}, out_w = {IMAGE_W};
  static const unsigned n_pixels = {IMAGE_H * IMAGE_W};
  static const bool is_max = true;
  static const bool is_sum = false;
  typedef ap_fixed<16, 8> sum_t;  // sum_t, dividend_t and count_t: average pooling's
  typedef ap_fixed<16, 8> dividend_t;
  typedef ap_uint<4> count_t;
}};
"""

TOP = """
void {name}(hls::stream<value_packet_t>& in, hls::stream<sum_packet_t>& out) {{
#pragma HLS DATAFLOW
  NNHLS_DATAFLOW_REGION
  hls::stream<value_packet_t> short_path("short_path");
#pragma HLS STREAM variable=short_path depth={short_depth}
  NNHLS_STREAM_DEPTH(short_path, {short_depth})
  hls::stream<value_packet_t> long_path("long_path");
#pragma HLS STREAM variable=long_path depth=1
  NNHLS_STREAM_DEPTH(long_path, 1)
  hls::stream<{long_packet}> long_result("long_result");
#pragma HLS STREAM variable=long_result depth=1
  NNHLS_STREAM_DEPTH(long_result, 1)
  NNHLS_STAGE(nnhls::clone_stream<{n_packets}>(in, short_path, long_path))
  NNHLS_STAGE({long_stage})
  NNHLS_STAGE(add<{n_packets}, value_packet_t, {long_packet}>(short_path, long_result, out))
  NNHLS_DATAFLOW_END
}}
"""

TESTBENCH = """#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "firmware/{name}.h"

static std::vector<double> numbers(const std::string& line) {{
  std::istringstream in(line);
  std::vector<double> values;
  double v;
  while (in >> v) values.push_back(v);
  return values;
}}

int main() {{
  std::ifstream features("tb_data/tb_input_features.dat"), predictions("tb_data/tb_output_predictions.dat");
  std::string line, expected_line;
  int samples = 0, mismatches = 0;
  while (std::getline(features, line) && std::getline(predictions, expected_line)) {{
    const std::vector<double> x = numbers(line), expected = numbers(expected_line);
    hls::stream<value_packet_t> in("in");
    hls::stream<sum_packet_t> out("out");
    for (unsigned p = 0; p < {n_packets}; p++) {{
      value_packet_t packet;
      for (unsigned c = 0; c < 2; c++) packet[c] = x[2 * p + c];
      in.write(packet);
    }}
    {name}(in, out);
    for (unsigned p = 0; p < {n_packets}; p++) {{
      const sum_packet_t packet = out.read();
      for (unsigned c = 0; c < 2; c++) mismatches += packet[c].to_double() != expected[2 * p + c];
    }}
    samples++;
  }}
  std::printf("%d samples, %d outputs differ from tb_output_predictions.dat\\n", samples, mismatches);
  return mismatches ? 1 : 0;
}}
"""

SAMPLES = 3


def window_sum_outputs(x: list[float]) -> list[float]:
    return [x[2 * p + c] + sum(x[2 * q + c] for q in range(p, min(p + WINDOW, N_PACKETS)))
            for p in range(N_PACKETS) for c in range(2)]


def max_pool_outputs(x: list[float]) -> list[float]:
    def pixel(y, x_, c):
        return x[2 * (y * IMAGE_W + x_) + c]
    return [pixel(y, x_, c) + max(pixel(v, u, c) for v in range(max(y - 1, 0), min(y + 2, IMAGE_H))
                                  for u in range(max(x_ - 1, 0), min(x_ + 2, IMAGE_W)))
            for y in range(IMAGE_H) for x_ in range(IMAGE_W) for c in range(2)]


def write_project(folder: Path, name: str, short_depth: int, pooling: bool = False) -> Path:
    """A project laid out as nnhls writes one, with the skip design and SAMPLES samples whose
    expected outputs are exact: inputs on the grid of value_t, sums within sum_t."""
    n_packets = IMAGE_H * IMAGE_W if pooling else N_PACKETS
    if pooling:
        stages = ADD + POOL_CONFIG
        long_stage = "nnhls::pool_stream<value_packet_t, value_packet_t, pool_config>(long_path, long_result)"
        long_packet = "value_packet_t"
    else:
        stages = ADD + WINDOW_SUM
        long_stage = f"window_sum<{N_PACKETS}, {WINDOW}>(long_path, long_result)"
        long_packet = "sum_packet_t"
    files = {
        f"firmware/{name}.h": (f"#ifndef TOP_H\n#define TOP_H\n{TYPES}\n"
                               f"void {name}(hls::stream<value_packet_t>& in,"
                               " hls::stream<sum_packet_t>& out);\n"
                               "#endif\n"),
        f"firmware/{name}.cpp": f'#include "{name}.h"\n{stages}' + TOP.format(
            name=name, short_depth=short_depth, n_packets=n_packets, long_stage=long_stage,
            long_packet=long_packet),
        f"{name}_test.cpp": TESTBENCH.format(name=name, n_packets=n_packets),
    }
    rng = random.Random(7)
    inputs = [[rng.randint(-2048, 2047) / 256 for _ in range(2 * n_packets)] for _ in range(SAMPLES)]
    outputs = [(max_pool_outputs if pooling else window_sum_outputs)(x) for x in inputs]
    files["tb_data/tb_input_features.dat"] = "".join(" ".join(map(repr, x)) + "\n" for x in inputs)
    files["tb_data/tb_output_predictions.dat"] = "".join(" ".join(map(repr, y)) + "\n" for y in outputs)
    for relative, text in files.items():
        (folder / relative).parent.mkdir(parents=True, exist_ok=True)
        (folder / relative).write_text(text)
    for source, target in ((INCLUDE_DIR / "nnhls", folder / "firmware" / "nnhls"),
                           (AP_TYPES_DIR, folder / "ap_types")):
        target.mkdir(parents=True, exist_ok=True)
        for header in source.glob("*.h"):
            shutil.copyfile(header, target / header.name)
    return folder


@pytest.fixture(scope="module")
def window_project(tmp_path_factory) -> Path:
    """Declares the least short-path depth that works, as a depth computation would."""
    return write_project(tmp_path_factory.mktemp("window"), "skip", LEAST_SHORT_DEPTH)


def assert_ran_exactly(result: DataflowResult) -> None:
    outcome = (result.ok, result.deadlock, result.samples, result.mismatches)
    assert outcome == (True, False, SAMPLES, 0), result.report


def test_declared_depths_run_every_sample_bit_exact(window_project):
    assert_ran_exactly(simulate_dataflow(window_project, "skip"))
    assert_ran_exactly(simulate_dataflow(window_project, "skip", depths={"short_path": 0}))  # unbounded


def test_one_packet_less_than_the_least_depth_deadlocks_and_names_the_streams(window_project):
    result = simulate_dataflow(window_project, "skip", depths={"short_path": LEAST_SHORT_DEPTH - 1})
    assert (result.ok, result.deadlock, result.samples) == (False, True, 0)
    full, lines = f"{LEAST_SHORT_DEPTH - 1}/{LEAST_SHORT_DEPTH - 1}", result.report.splitlines()
    assert lines[0] == "nnhls dataflow deadlock:"
    clone = "skip / nnhls::clone_stream(in, short_path, long_path)"
    assert f"    {clone}: writing short_path (full, {full})" in lines
    assert "    skip / window_sum(long_path, long_result): reading long_path (empty)" in lines
    assert "    skip / add(short_path, long_result, out): reading long_result (empty)" in lines
    assert "    skip: waiting for its stages (3 running)" in lines
    assert f"    short_path (skip): {full} full" in lines
    assert "    long_path (skip): 0/1 empty" in lines
    assert "    long_result (skip): 0/1 empty" in lines
    # The testbench's own stream, unbounded: clone_stream has read packets 0 .. LEAST_SHORT_DEPTH
    # and holds the last, which short_path has no room for.
    assert f"    in: {N_PACKETS - LEAST_SHORT_DEPTH - 1}/unbounded" in lines


def test_deadlock_depends_on_the_depth_only(window_project):
    """Exact detection, not a timeout: every depth below the least deadlocks, every other runs,
    and the outcome is the same on every run whatever the threads' timing."""
    for _ in range(3):
        outcomes = [simulate_dataflow(window_project, "skip", depths={"short_path": depth}).deadlock
                    for depth in range(1, LEAST_SHORT_DEPTH + 3)]
        assert outcomes == [depth < LEAST_SHORT_DEPTH for depth in range(1, LEAST_SHORT_DEPTH + 3)]


def test_a_wrong_output_is_a_mismatch_not_a_deadlock(window_project, tmp_path):
    # With its build: the executable does not depend on the data.
    project = shutil.copytree(window_project, tmp_path / "project")
    predictions = project / "tb_data" / "tb_output_predictions.dat"
    lines = predictions.read_text().splitlines()
    values = lines[1].split()
    values[3] = repr(float(values[3]) + 2 ** -8)
    predictions.write_text("\n".join([lines[0], " ".join(values), *lines[2:]]) + "\n")
    result = simulate_dataflow(project, "skip")
    assert (result.ok, result.deadlock, result.samples, result.mismatches) == (False, False, SAMPLES, 1)
    assert f"{SAMPLES} samples, 1 outputs differ" in result.report


def test_depths_must_name_a_declared_stream(window_project):
    with pytest.raises(NnhlsError, match="short_pth"):
        simulate_dataflow(window_project, "skip", depths={"short_pth": 8})
    with pytest.raises(NnhlsError, match="whole number"):
        simulate_dataflow(window_project, "skip", depths={"short_path": -1})


def test_pool_stream_is_a_region_of_its_own_stages(tmp_path):
    """pool_stream runs stream_windows and pool_windows as stages of its own, nested in the top's."""
    project = write_project(tmp_path, "skip", LEAST_POOL_SHORT_DEPTH, pooling=True)
    assert_ran_exactly(simulate_dataflow(project, "skip"))
    assert_ran_exactly(simulate_dataflow(project, "skip", depths={"pool_windows": 1}))
    result = simulate_dataflow(project, "skip", depths={"short_path": LEAST_POOL_SHORT_DEPTH - 1})
    assert (result.ok, result.deadlock) == (False, True)
    lines = result.report.splitlines()
    pool = "skip / nnhls::pool_stream(long_path, long_result)"
    assert f"    {pool}: waiting for its stages (2 running)" in lines
    assert f"    {pool} / stream_windows(in, windows): reading long_path (empty)" in lines
    assert f"    {pool} / pool_windows(windows, out): reading pool_windows (empty)" in lines
    assert f"    pool_windows ({pool}): 0/2 empty" in lines
    depth = LEAST_POOL_SHORT_DEPTH - 1
    assert f"    short_path (skip): {depth}/{depth} full" in lines


def test_a_stage_that_polls_forever_is_reported_as_a_stall(tmp_path, monkeypatch):
    """A stage that polls a stream (size(), empty(), read_nb) never blocks, so only the
    watchdog can tell that nothing moves."""
    project = write_project(tmp_path, "skip", LEAST_SHORT_DEPTH)
    top = project / "firmware" / "skip.cpp"
    polling = """
// Waits for long_path to hold a whole window, which its depth of 1 never allows.
template <unsigned N, unsigned K>
void window_sum_polling(hls::stream<value_packet_t>& in, hls::stream<sum_packet_t>& out) {
  while (in.size() < K) {
  }
  window_sum<N, K>(in, out);
}
"""
    text = top.read_text().replace("\nvoid skip(", polling + "\nvoid skip(", 1)
    top.write_text(text.replace("NNHLS_STAGE(window_sum<", "NNHLS_STAGE(window_sum_polling<"))
    monkeypatch.setenv("NNHLS_DATAFLOW_TIMEOUT_MS", "300")
    result = simulate_dataflow(project, "skip", timeout=30)
    assert (result.ok, result.deadlock) == (False, False)
    lines = result.report.splitlines()
    assert lines[0] == "nnhls dataflow stall:"
    assert "    skip / window_sum_polling(long_path, long_result): running" in lines


def test_the_unthreaded_build_runs_stages_in_order_over_unbounded_streams(tmp_path):
    """Without NNHLS_THREADED_DATAFLOW the macros are the plain calls: a depth far too small for
    the threaded run is no matter, and neither <thread> nor the stream registry is compiled in."""
    project = write_project(tmp_path, "skip", 1)
    flags = ["-std=c++17", "-Wno-unknown-pragmas", "-Ifirmware", "-Iap_types"]
    command = ["g++", "-O1", *flags, "skip_test.cpp", "firmware/skip.cpp", "-o", "testbench"]
    subprocess.run(command, cwd=project, check=True)
    run = subprocess.run(["./testbench"], cwd=project, capture_output=True, text=True, timeout=60)
    assert run.returncode == 0
    assert run.stdout == f"{SAMPLES} samples, 0 outputs differ from tb_output_predictions.dat\n"
    headers = subprocess.run(["g++", "-E", "-H", *flags, "firmware/skip.cpp"], cwd=project,
                             capture_output=True, text=True, check=True)
    included = [line.split()[-1] for line in headers.stderr.splitlines() if line.startswith(".")]
    assert not [path for path in included if path.endswith(("/thread", "/mutex", "/condition_variable"))]
    assert "dataflow_sim" not in headers.stdout
    assert simulate_dataflow(project, "skip", depths={"short_path": 1}).deadlock
