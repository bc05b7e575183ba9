"""The firmware folder's own files: defines.h (sizes and types), nnhls_backend.h (the tool's
pragma spellings), parameters.h (every layer's configuration and constants), and the top
function with its header.

The top function declares each value's array or stream (io_stream: with its planned FIFO
depth), calls every layer (io_stream: each call a dataflow stage), copies values with several
reads, and traces every value for the C simulation.
"""

from __future__ import annotations

from nnhls.hls.emitters import Emission
from nnhls.hls.plan import Plan, cpp_type, top_pragma
from nnhls.hls.target import Project
from nnhls.ir import Node

__all__ = ["backend_header", "banner", "defines", "parameters", "top_function", "top_header"]

# The kernel headers parameters.h includes, whatever the network uses.
_KERNEL_HEADERS = ("activation", "conv", "dense", "embedding", "layernorm", "lookup", "merge", "pool", "recurrent",
                   "scale_shift", "shape", "softmax", "trace")


def banner(project: Project) -> str:
    return f"// Written by nnhls for {project.project_name} ({project.backend.name}, {project.io_type}).\n"


def defines(project: Project, plan: Plan) -> str:
    lines = [banner(project), "#ifndef NNHLS_DEFINES_H", "#define NNHLS_DEFINES_H", "",
             '#include "ap_fixed.h"', '#include "ap_int.h"', '#include "hls_stream.h"',
             '#include "nnhls_backend.h"', '#include "nnhls/common.h"', "", "// Tensor sizes"]
    values = [node for node in plan.graph if not node.VIEW]
    lines += [f"#define {plan.size_macro(node.name)} {node.size}" for node in values]
    lines += ["", "// Tensor types"]
    for node in values:
        lines.append(f"typedef {cpp_type(node.result_type)} {plan.type_name[node.name]};  // {node.name}")
        if plan.stream:
            lines.append(f"typedef nnhls::packet<{plan.type_name[node.name]}, {plan.packet_size(node.name)}> "
                         f"{plan.packet(node.name)};")
    lines += ["", "#endif", ""]
    return "\n".join(lines)


def backend_header(project: Project) -> str:
    return "\n".join([banner(project), f"// Pragmas spelled for {project.backend.name} HLS.",
                      "#ifndef NNHLS_BACKEND_H", "#define NNHLS_BACKEND_H", "",
                      project.backend.pragma_macros, "#endif", ""])


def parameters(project: Project, emission: Emission) -> str:
    includes = [f'#include "nnhls/{header}.h"' for header in _KERNEL_HEADERS]
    weights = [f'#include "{path[len("firmware/"):]}"' for path in sorted(emission.weight_files)]
    return "\n".join([banner(project), "#ifndef NNHLS_PARAMETERS_H", "#define NNHLS_PARAMETERS_H", "",
                      '#include "defines.h"', *includes, "", *emission.configs, *weights, "", *emission.after_weights,
                      "#endif", ""])


def top_header(project: Project, plan: Plan) -> str:
    name = project.project_name
    return "\n".join([banner(project), f"#ifndef {name.upper()}_H", f"#define {name.upper()}_H", "",
                      '#include "defines.h"', "", f"void {name}({_top_arguments(plan)});", "",
                      "#endif", ""])


def _top_arguments(plan: Plan) -> str:
    return ", ".join(_port_declaration(plan, *port) for port in plan.ports())


def _port_declaration(plan: Plan, name: str, var: str, is_input: bool) -> str:
    if plan.stream:
        return f"hls::stream<{plan.packet(name)}>& {var}"
    const = "const " if is_input else ""
    return f"{const}{plan.type_name[name]} {var}[{plan.size_macro(name)}]"


def top_function(project: Project, plan: Plan, calls: list[tuple[Node, str]]) -> str:
    name = project.project_name
    body = _port_pragmas(project, plan) + [f"#pragma HLS {top_pragma(plan.graph, project.io_type)}", ""]
    body += _TopBody(plan).lines(calls)
    text = "\n".join("    " + line if line else "" for line in body).rstrip()
    return (f'{banner(project)}#include "{name}.h"\n#include "parameters.h"\n\n'
            f"void {name}({_top_arguments(plan)}) {{\n{text}\n}}\n")


def _port_pragmas(project: Project, plan: Plan) -> list[str]:
    backend, lines = project.backend, []
    for _, var, _ in plan.ports():
        if plan.stream:
            lines.append(backend.interface.format(mode="axis", port=var))
            if backend.stream_port_extra:
                lines.append(backend.stream_port_extra.format(port=var))
        else:
            lines.append(f"#pragma HLS ARRAY_RESHAPE variable={var} complete dim=0")
            lines.append(backend.interface.format(mode="ap_vld", port=var))
    return lines


class _TopBody:
    """The statements of the top function after its pragmas, for the layers' calls in order."""

    def __init__(self, plan: Plan):
        self.plan = plan
        self.depths = plan.fifo_depths() if plan.stream else {}
        self.port_variables = {var for _, var, _ in plan.ports()}

    def lines(self, calls: list[tuple[Node, str]]) -> list[str]:
        plan, body = self.plan, []
        if plan.stream:
            body.append("NNHLS_DATAFLOW_REGION")
        for node in plan.graph.inputs:
            body.append(self.trace(node))
            body += self.copies(node)
        for node, statement in calls:
            var = plan.variable[node.name]
            if var not in self.port_variables:
                body += self.declaration(node.name, var)
            body.append(self.stage(statement))
            body.append(self.trace(node))
            body += self.copies(node)
            body.append("")
        if plan.stream:
            body.append("NNHLS_DATAFLOW_END")
        return body

    def stage(self, statement: str) -> str:
        """A call in the top function; in io_stream one dataflow stage, which the threaded C
        simulation (nnhls/dataflow.h) runs in a thread of its own."""
        return f"NNHLS_STAGE({statement[:-1]})" if self.plan.stream else statement

    def declaration(self, name: str, var: str) -> list[str]:
        plan = self.plan
        if plan.stream:
            depth = self.depths.get(var, 1)
            return [f'hls::stream<{plan.packet(name)}> {var}("{var}");',
                    f"#pragma HLS STREAM variable={var} depth={depth}", f"NNHLS_STREAM_DEPTH({var}, {depth})"]
        return [f"{plan.type_name[name]} {var}[{plan.size_macro(name)}];",
                f"#pragma HLS ARRAY_PARTITION variable={var} complete dim=0"]

    def copies(self, node: Node) -> list[str]:
        """io_stream: the node's stream copied into one stream per read, two at a time.
        io_parallel: the node's array copied into the output ports among its readers."""
        plan = self.plan
        readers = plan.readers[node.name]
        var = plan.variable[node.name]
        if len(readers) < 2:
            return []
        if not plan.stream:
            ports = [plan.read_from[reader] for reader in readers if reader[0].startswith("output:")]
            return [f"for (unsigned i = 0; i < {plan.size_macro(node.name)}; i++) {port}[i] = {var}[i];"
                    for port in ports]
        lines = []
        for target in [plan.read_from[reader] for reader in readers]:
            if target not in self.port_variables:
                lines += self.declaration(node.name, target)
        n = plan.n_packets(node.name)
        for source, first, second in plan.clone_chain(node.name):
            if second not in self.port_variables and second.startswith(f"{var}_rest"):
                lines += self.declaration(node.name, second)
            lines.append(self.stage(f"nnhls::clone_stream<{n}>({source}, {first}, {second});"))
        return lines

    def trace(self, node: Node) -> str:
        plan = self.plan
        k, var = plan.index[node.name], plan.variable[node.name]
        if plan.stream:
            return f"NNHLS_TRACE_STREAM({k}, {var}, {plan.n_packets(node.name)})"
        return f"NNHLS_TRACE_ARRAY({k}, {var}, {plan.size_macro(node.name)})"
