"""The project's files around the firmware: the vendor-facing testbench, the C-simulation bridge
that Python calls through ctypes, and the backend's build_prj.tcl."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from nnhls.hls.firmware import banner
from nnhls.hls.plan import Plan, words
from nnhls.hls.target import Project
from nnhls.ir import Graph, Node

__all__ = ["bridge", "build_tcl", "testbench"]


def testbench(project: Project, plan: Plan) -> str:
    inputs, outputs = _io_layout(plan.graph)
    offsets, total = _offsets(node.size for _, node in inputs)
    out_offsets, out_total = _offsets(node.size for _, node in outputs)
    sample = _run_sample(
        project, plan, "        ", lambda i, e: f"features[{offsets[i]} + {e}]",
        lambda o, e, v: (f"double y = {v}.to_double(); std::fprintf(log, \"%.17g \", y); "
                         f"if (have_expected && y != expected[{out_offsets[o]} + {e}]) mismatches++;"))
    return "\n".join([
        banner(project) + "// Runs tb_data/tb_input_features.dat through the design and compares every",
        "// output with tb_data/tb_output_predictions.dat exactly (nnhls writes the emulator's values there).",
        "#include <cstdio>", "#include <fstream>", "#include <sstream>", "#include <string>", "#include <vector>",
        "", f'#include "firmware/{project.project_name}.h"', "",
        "static std::vector<double> numbers(const std::string& line) {",
        "    std::istringstream in(line);", "    std::vector<double> values;", "    double v;",
        "    while (in >> v) values.push_back(v);", "    return values;", "}", "",
        "int main() {",
        '    std::ifstream features_file("tb_data/tb_input_features.dat");',
        '    std::ifstream predictions_file("tb_data/tb_output_predictions.dat");',
        '    FILE* log = std::fopen("tb_data/csim_results.log", "w");',
        "    if (!features_file || !log) {",
        '        std::fprintf(stderr, "cannot open tb_data/tb_input_features.dat or the log\\n");',
        "        return 2;", "    }",
        "    std::string line;", "    int samples = 0, mismatches = 0;",
        "    while (std::getline(features_file, line)) {",
        "        std::vector<double> features = numbers(line);",
        f"        if (features.size() != {total}) continue;",
        "        std::string expected_line;",
        "        bool have_expected = bool(std::getline(predictions_file, expected_line));",
        "        std::vector<double> expected = numbers(expected_line);",
        f"        have_expected = have_expected && expected.size() == {out_total};",
        *sample,
        '        std::fprintf(log, "\\n");', "        samples++;", "    }", "    std::fclose(log);",
        '    std::printf("%d samples, %d outputs differ from tb_output_predictions.dat\\n", samples, mismatches);',
        "    return mismatches ? 1 : 0;", "}", "",
    ])


def bridge(project: Project, plan: Plan) -> str:
    inputs, outputs = _io_layout(plan.graph)
    n_nodes = len(plan.graph)
    sample = _run_sample(
        project, plan, "        ", lambda i, e: f"inputs[{i}][s * {inputs[i][1].size} + {e}]",
        lambda o, e, v: (f"nnhls::put_code({v}, outputs[{o}] + (s * {outputs[o][1].size} + {e}) * "
                         f"{words(outputs[o][1].result_type)});"))
    return "\n".join([
        banner(project) + "// C simulation entry points for nnhls (Python, ctypes): a whole batch per call.",
        "#ifndef NNHLS_TRACE", "#define NNHLS_TRACE", "#endif",
        f'#include "firmware/{project.project_name}.h"',
        '#include "firmware/nnhls/trace.h"', "",
        "namespace nnhls {", f"long long* trace_buffers[{n_nodes}];", "long long trace_sample = 0;",
        "}", "", 'extern "C" {', "",
        "// inputs[i]: sample-major doubles of input i; outputs[o]: codes of output o (1 or 2 words each);",
        "// traces[k]: codes of node k, or null.",
        "void nnhls_predict(const double* const* inputs, long long n, long long* const* outputs,",
        "                   long long* const* traces) {",
        f"    for (int k = 0; k < {n_nodes}; k++) nnhls::trace_buffers[k] = traces ? traces[k] : 0;",
        "    for (long long s = 0; s < n; s++) {", "        nnhls::trace_sample = s;", *sample, "    }", "}", "",
        "}", "",
    ])


def build_tcl(project: Project) -> str:
    backend = project.backend
    return "\n".join([
        f"# {backend.name} HLS build script written by nnhls.",
        f"# Run: {backend.executables[0]} -f build_prj.tcl \"csim=1 synth=1 cosim=0 export=0 vsynth=0\"",
        "array set opt {reset 0 csim 1 synth 1 cosim 0 export 0 vsynth 0}",
        "# Options come as arguments (vivado_hls/vitis_hls -f) or in NNHLS_BUILD_OPTIONS (vitis-run).",
        "set arguments $::argv",
        "if {[info exists ::env(NNHLS_BUILD_OPTIONS)]} { lappend arguments $::env(NNHLS_BUILD_OPTIONS) }",
        "foreach arg $arguments {",
        "    foreach pair [split $arg] {",
        "        set kv [split $pair =]",
        "        if {[llength $kv] == 2 && [info exists opt([lindex $kv 0])]} { set opt([lindex $kv 0]) [lindex $kv 1] }",
        "    }",
        "}",
        "",
        f"set project_name {project.project_name}",
        "if {$opt(reset)} { open_project -reset ${project_name}_prj } else { open_project ${project_name}_prj }",
        "set_top ${project_name}",
        f'add_files firmware/${{project_name}}.cpp -cflags "{backend.cflags} -Ifirmware"',
        f'add_files -tb ${{project_name}}_test.cpp -cflags "{backend.cflags} -Ifirmware"',
        "add_files -tb tb_data",
        backend.open_solution,
        f"set_part {{{project.part}}}",
        f"create_clock -period {project.clock_period} -name default",
        f"set_clock_uncertainty {project.clock_uncertainty}",
        "",
        "if {$opt(csim)} { csim_design }",
        "if {$opt(synth)} { csynth_design }",
        "if {$opt(cosim)} { cosim_design }",
        "if {$opt(export)} { export_design -format ip_catalog }",
        "if {$opt(vsynth)} { export_design -flow syn -rtl verilog -format ip_catalog }",
        "exit",
        "",
    ])


def _io_layout(graph: Graph) -> tuple[list[tuple[str, Node]], list[tuple[str, Node]]]:
    inputs = [(node.name, node) for node in graph.inputs]
    outputs = [(name, graph[name]) for name in graph.outputs]
    return inputs, outputs


def _offsets(sizes: Iterable[int]) -> tuple[list[int], int]:
    """Where each of several arrays starts when they are laid side by side, and the total size."""
    offsets, total = [], 0
    for size in sizes:
        offsets.append(total)
        total += size
    return offsets, total


def _run_sample(project: Project, plan: Plan, indent: str, read_input: Callable[[int, str], str],
                use_output: Callable[[int, str, str], str]) -> list[str]:
    """Statements that fill the inputs with `read_input(input_index, element)`, run the top
    function, and pass each output element to `use_output(output_index, element, value)`."""
    inputs, outputs = _io_layout(plan.graph)
    lines, arguments = [], []
    for i, (name, node) in enumerate(inputs):
        var = f"in{i}"
        lines += _fill_input(plan, name, var, node.size, lambda e, i=i: read_input(i, e))
        arguments.append(var)
    for o, (name, node) in enumerate(outputs):
        var = f"out{o}"
        lines.append(f"hls::stream<{plan.packet(name)}> {var};" if plan.stream
                     else f"{plan.type_name[name]} {var}[{node.size}];")
        arguments.append(var)
    lines.append(f"{project.project_name}({', '.join(arguments)});")
    for o, (name, node) in enumerate(outputs):
        lines += _use_output(plan, name, f"out{o}", node.size, lambda e, v, o=o: use_output(o, e, v))
    return [indent + line for line in lines]


def _fill_input(plan: Plan, name: str, var: str, n: int, read: Callable[[str], str]) -> list[str]:
    if not plan.stream:
        return [f"{plan.type_name[name]} {var}[{n}];",
                f"for (unsigned e = 0; e < {n}; e++) {var}[e] = {read('e')};"]
    size = plan.packet_size(name)
    return [f"hls::stream<{plan.packet(name)}> {var};",
            f"for (unsigned p = 0; p < {n // size}; p++) {{",
            f"    {plan.packet(name)} packet;",
            f"    for (unsigned c = 0; c < {size}; c++) packet[c] = {read(f'p * {size} + c')};",
            f"    {var}.write(packet);", "}"]


def _use_output(plan: Plan, name: str, var: str, n: int, use: Callable[[str, str], str]) -> list[str]:
    if not plan.stream:
        return [f"for (unsigned e = 0; e < {n}; e++) {{ {use('e', f'{var}[e]')} }}"]
    size = plan.packet_size(name)
    return [f"for (unsigned p = 0; p < {n // size}; p++) {{",
            f"    {plan.packet(name)} result = {var}.read();",
            f"    for (unsigned c = 0; c < {size}; c++) {{ {use(f'(p * {size} + c)', 'result[c]')} }}", "}"]
