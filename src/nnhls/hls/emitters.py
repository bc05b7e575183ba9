"""One small piece of C++ per op kind: a configuration struct for parameters.h and a call for the
top function, with the op's constants as arrays of exact integer codes, one weight file each.

`EMITTERS` maps each op to its emitter; `emit_layers` runs them over the graph in order.
"""

from __future__ import annotations

import math

import numpy as np

from nnhls.hls import layout
from nnhls.hls.plan import Plan, code_literals, cpp_type
from nnhls.ir import (PART_INPUT, Dense, Node, Registry, Transpose, Weights, dot_type, softsign_types, table_low_type,
                      union_type)
from nnhls.types import FixedType, add_type, mul_type, sub_type

__all__ = ["EMITTERS", "Emission", "call", "config", "constant_array", "emit_layers", "index_struct", "weight_file"]


class Emission:
    """The layers' C++ as the emitters write it: each configuration struct, each call of the top
    function, and the weight files (each opening with the project's banner)."""

    def __init__(self, plan: Plan, banner: str):
        self.plan = plan
        self.banner = banner
        self.configs: list[str] = []
        self.calls: list[tuple[Node, str]] = []
        self.weight_files: dict[str, str] = {}
        # C++ that reads the weight arrays (a recurrent layer's parts), after them in parameters.h.
        self.after_weights: list[str] = []


def emit_layers(plan: Plan, banner: str) -> Emission:
    """Every layer's C++, in the graph's order, which is the order of the top function's calls."""
    emission = Emission(plan, banner)
    for node in plan.graph:
        emitted = EMITTERS[node.op](emission, node)
        if emitted is not None:
            struct, statement = emitted
            emission.configs.append(struct)
            emission.calls.append((node, statement))
    return emission


# op -> (emission, node) -> (configuration struct, call in the top function), or None for no call.
EMITTERS = Registry("the HLS writer (hls/emitters.py EMITTERS)")


# helpers every emitter uses -----------------------------------------------------------------

def config(plan: Plan, node: Node, description: str, constants: dict, types: dict, before: tuple = ()) -> str:
    """The node's `config<k>` struct. `constants` are bools, ints or C++ enumerators (strings);
    `types` maps each member type to a FixedType (also typedef'd outside the struct as
    `<name><k>_t`, for arrays) or to the name of a C++ type."""
    k = plan.index[node.name]
    def outer(alias):
        return f"{alias[:-2]}{k}_t"
    lines = [f"// {node.name} ({node.framework_class}): {description}"]
    lines += [f"typedef {cpp_type(t)} {outer(alias)};" for alias, t in types.items() if isinstance(t, FixedType)]
    lines += [*before, f"struct config{k} {{"]
    lines += [_constant_member(name, value) for name, value in constants.items()]
    lines += [f"    typedef {outer(alias) if isinstance(t, FixedType) else t} {alias};" for alias, t in types.items()]
    return "\n".join(lines + ["};", ""])


def _constant_member(name: str, value) -> str:
    if isinstance(value, bool):
        return f"    static const bool {name} = {str(value).lower()};"
    kind = "int" if isinstance(value, int) and value < 0 else "unsigned"
    return f"    static const {kind} {name} = {value};"


def call(plan: Plan, node: Node, kernel: str, weights: str) -> str:
    """The kernel's call in the top function: its inputs' variables, its output's, then `weights`."""
    sources = [(plan.read_from[(node.name, position)], plan.kernel_type(source))
               for position, source in enumerate(node.inputs)]
    suffix = "_stream" if plan.stream else ""
    types = ", ".join([t for _, t in sources] + [plan.kernel_type(node.name), f"config{plan.index[node.name]}"])
    arguments = ", ".join(filter(None, [var for var, _ in sources] + [plan.variable[node.name], weights]))
    return f"nnhls::{kernel}{suffix}<{types}>({arguments});"


def constant_array(emission: Emission, node: Node, name: str, alias: str, t: FixedType, codes: np.ndarray,
                   title: str) -> str:
    """Write the constant array `<name><k>` of the codes of values of the node's configuration
    type `alias`; returns the array's name."""
    k = emission.plan.index[node.name]
    weight_file(emission, f"{name}{k}", f"{alias[:-2]}{k}_t", t, codes, f"{node.name}: {title}")
    return f"{name}{k}"


def weight_file(emission: Emission, variable: str, type_name: str, t: FixedType, codes: np.ndarray,
                title: str) -> None:
    """A constant array of the integer codes of values of `type_name` (FixedType `t`), which
    the kernels read through nnhls::from_code (nnhls/common.h says why: a `static const`
    integer array needs no start-up code in any C simulation and is a ROM for the HLS tools).
    nnhls's C simulation and the vendor's compile the very same array."""
    def table(items):
        rows = [", ".join(items[i:i + 16]) for i in range(0, len(items), 16)]
        return ",\n    ".join(rows)
    n = np.asarray(codes).size
    emission.weight_files[f"firmware/weights/{variable}.h"] = (
        f"{emission.banner}// {title}; {t}, as integer codes (value = code * 2^{-t.fractional})\n"
        f"#ifndef NNHLS_WEIGHTS_{variable.upper()}_H\n#define NNHLS_WEIGHTS_{variable.upper()}_H\n\n"
        f"static const nnhls::rom<{type_name}>::word {variable}[{n}] = {{\n    {table(code_literals(codes, t))}\n}};\n"
        "\n#endif\n")


def index_struct(name: str, x_type: FixedType, low: int, span_log2: int, size: int) -> str:
    """Types that compute a table index exactly from values of `x_type` (see nnhls/lookup.h)."""
    low_type = table_low_type(low)
    offset_type = sub_type(x_type, low_type)
    scale_type = FixedType(1, size.bit_length() - 1 - span_log2 + 1, signed=False)
    return "\n".join([
        f"struct {name} {{",
        f"    static const int low = {low};",
        f"    static const unsigned size = {size};",
        f"    static const unsigned bits = {size.bit_length() - 1};",
        f"    typedef {cpp_type(low_type)} low_t;",
        f"    typedef {cpp_type(offset_type)} offset_t;",
        f"    typedef {cpp_type(scale_type)} scale_t;",
        f"    typedef {cpp_type(mul_type(offset_type, scale_type))} scaled_t;",
        "};",
    ])


def _input_type(emission: Emission, node: Node, position: int = 0) -> FixedType:
    return emission.plan.graph[node.inputs[position]].result_type


# one emitter per op kind --------------------------------------------------------------------

@EMITTERS.register("input", "flatten")
def _no_call(emission: Emission, node: Node) -> None:
    return None  # an input is a port; a view is its input's variable


@EMITTERS.register("dense")
def _dense(emission: Emission, node: Node) -> tuple[str, str]:
    constants, types, arrays = _dense_parts(emission, node)
    struct = config(
        emission.plan, node,
        f"Dense {node.n_in} -> {node.n_out}, {node.strategy}, reuse factor {node.reuse_factor}", constants, types)
    return struct, call(emission.plan, node, "dense", arrays)


@EMITTERS.register("conv")
def _conv(emission: Emission, node: Node) -> tuple[str, str]:
    constants, types, arrays = _dense_parts(emission, node)
    w = node.window
    constants.update(_geometry(w), n_pixels=w.n_pixels, parallelization_factor=node.parallelization_factor,
                     groups=node.groups, group_in=w.channels // node.groups, n_filt=node.n_out)
    kernel = f"{w.kernel_h}x{w.kernel_w}" if len(node.in_shape) == 3 else f"{w.kernel_w}"
    grouping = f", {node.groups} groups" if node.groups > 1 else ""
    dilation = f", dilation {w.dilation_h}x{w.dilation_w}" if w.span_h > w.kernel_h or w.span_w > w.kernel_w else ""
    struct = config(
        emission.plan, node,
        f"Conv {kernel}, {w.channels} -> {node.n_out} channels{grouping}, stride {w.stride_h}x{w.stride_w}"
        f"{dilation}, {node.strategy}, reuse factor {node.reuse_factor}, parallelization factor "
        f"{node.parallelization_factor}", constants, types)
    kernel = "pointwise" if emission.plan.stream and node.pointwise else "conv"
    return struct, call(emission.plan, node, kernel, arrays)


def _geometry(w) -> dict:
    return {"in_h": w.in_h, "in_w": w.in_w, "n_chan": w.channels, "kernel_h": w.kernel_h, "kernel_w": w.kernel_w,
            "stride_h": w.stride_h, "stride_w": w.stride_w, "dilation_h": w.dilation_h, "dilation_w": w.dilation_w,
            "span_h": w.span_h, "span_w": w.span_w, "spread_h": w.spread_h, "spread_w": w.spread_w,
            "spread_in_h": w.spread_in_h, "spread_in_w": w.spread_in_w, "pad_top": w.pad_top, "pad_left": w.pad_left,
            "padded_h": w.padded_h, "padded_w": w.padded_w, "out_h": w.out_h, "out_w": w.out_w}


def _dense_parts(emission: Emission, node: Node) -> tuple[dict, dict, str]:
    """A Dense's (or a convolution's) configuration constants and types, and its arrays' names."""
    accum = node.accum_type
    wrap_accum = accum.overflow == "WRAP" and accum.sat_bits == 0
    # Partial sums must not overflow: an exact sum, converted into accum_t once, is the
    # specification. With a plain wrapping accumulator the running sum wraps identically.
    guard = node.n_in.bit_length()
    sum_type = accum if wrap_accum else FixedType(accum.width + guard, accum.integer + guard, accum.signed)
    resource = node.strategy == "Resource"
    if node.op == "conv":
        title = f"kernel, canonical (kernel_h, kernel_w, c_in, c_out) = {node.weight.shape} row-major"
    else:
        title = f"weight, canonical (n_in, n_out) = ({node.n_in}, {node.n_out}) row-major"
    if node.groups > 1:
        title += f", {node.groups} groups of {node.group_out} columns, each in its own order"
    weights = constant_array(emission, node, "w", "weight_t", node.weight.type,
                             layout.grouped_weights(node.weight_matrix(), node.groups, node.strategy,
                                                    node.reuse_factor), title)
    bias = constant_array(emission, node, "b", "bias_t", node.bias.type, node.bias.codes, "bias")
    constants = {"n_in": node.n_in, "n_out": node.group_out,
                 "strategy": f"nnhls::{'resource' if resource else 'latency'}",
                 "reuse_factor": node.reuse_factor, "multiplier_limit": node.multipliers,
                 "block_factor": node.block_factor, "rows_per_step": node.rows_per_step}
    types = {"weight_t": node.weight.type, "bias_t": node.bias.type, "accum_t": accum, "sum_t": sum_type}
    return constants, types, f"{weights}, {bias}"


@EMITTERS.register("pool")
def _pool(emission: Emission, node: Node) -> tuple[str, str]:
    w, x_type = node.window, _input_type(emission, node)
    constants = dict(_geometry(w), n_pixels=w.n_pixels, is_max=node.function == "max", is_sum=node.function == "sum")
    types = {"sum_t": cpp_type(node.sum_type(x_type)),
             "dividend_t": cpp_type(node.dividend_type(x_type, node.result_type)),
             "count_t": cpp_type(node.count_type())}
    struct = config(emission.plan, node, f"{node.function} pooling {w.kernel_h}x{w.kernel_w}, stride "
                                         f"{w.stride_h}x{w.stride_w}", constants, types)
    kernel = "global_pool" if emission.plan.stream and w.covers_image else "pool"
    return struct, call(emission.plan, node, kernel, "")


@EMITTERS.register("zero_pad")
def _zero_pad(emission: Emission, node: Node) -> tuple[str, str]:
    struct = config(emission.plan, node, "zero padding", _geometry(node.window), {})
    return struct, call(emission.plan, node, "zero_pad", "")


@EMITTERS.register("reshape")
def _reshape(emission: Emission, node: Node) -> tuple[str, str]:
    plan = emission.plan
    step = math.gcd(plan.packet_size(node.inputs[0]), plan.packet_size(node.name)) if plan.stream else 1
    struct = config(plan, node, f"reshape {tuple(plan.graph[node.inputs[0]].shape)} -> {tuple(node.shape)}",
                    {"n_in": node.size, "step": step}, {})
    return struct, call(plan, node, "reshape", "")


@EMITTERS.register("transpose")
def _transpose(emission: Emission, node: Node) -> tuple[str, str]:
    pad = Transpose.MAX_RANK - len(node.shape)
    dims, strides = (1,) * pad + tuple(node.shape), (0,) * pad + node.source_strides()
    constants = {"n_in": node.size, **{f"dim{k}": d for k, d in enumerate(dims)},
                 **{f"stride{k}": s for k, s in enumerate(strides)}}
    struct = config(emission.plan, node, f"transpose {tuple(node.in_shape)} -> {tuple(node.shape)}, "
                                         f"axes {tuple(node.perm)}", constants, {})
    return struct, call(emission.plan, node, "transpose", "")


@EMITTERS.register("crop")
def _crop(emission: Emission, node: Node) -> tuple[str, str]:
    in_h, in_w, channels = node.image
    constants = {"in_h": in_h, "in_w": in_w, "n_chan": channels, "top": node.top, "left": node.left,
                 "out_h": node.out_h, "out_w": node.out_w}
    struct = config(emission.plan, node, f"cropping {node.top}, {node.bottom} rows and {node.left}, {node.right} "
                                         "columns", constants, {})
    return struct, call(emission.plan, node, "crop", "")


@EMITTERS.register("upsample")
def _upsample(emission: Emission, node: Node) -> tuple[str, str]:
    in_h, in_w, channels = node.image
    constants = {"in_h": in_h, "in_w": in_w, "n_chan": channels, "size_h": node.size_h, "size_w": node.size_w,
                 "out_h": node.out_h, "out_w": node.out_w}
    types = {}
    if node.interpolation == "bilinear":
        x_type = _input_type(emission, node)
        constants["denominator"] = node.denominator
        types = {"weight_t": cpp_type(node.weight_type()), "sum_t": cpp_type(node.sum_type(x_type)),
                 "dividend_t": cpp_type(node.dividend_type(x_type, node.result_type)),
                 "count_t": cpp_type(node.count_type())}
    struct = config(emission.plan, node, f"{node.interpolation} upsampling by {node.size_h}x{node.size_w}",
                    constants, types)
    kernel = "upsample_bilinear" if node.interpolation == "bilinear" else "upsample"
    return struct, call(emission.plan, node, kernel, "")


@EMITTERS.register("activation")
def _activation(emission: Emission, node: Node) -> tuple[str, str]:
    return (config(emission.plan, node, node.function, {"n_in": node.size}, {}),
            call(emission.plan, node, node.function, ""))


@EMITTERS.register("scale_shift")
def _scale_shift(emission: Emission, node: Node) -> tuple[str, str]:
    scale = constant_array(emission, node, "s", "scale_t", node.scale.type, node.scale.codes, "scale")
    shift = constant_array(emission, node, "t", "shift_t", node.shift.type, node.shift.codes, "shift")
    struct = config(emission.plan, node, "per-channel scale and shift",
                    {"n_in": node.size, "n_channels": node.shape[-1]},
                    {"scale_t": node.scale.type, "shift_t": node.shift.type})
    return struct, call(emission.plan, node, "scale_shift", f"{scale}, {shift}")


@EMITTERS.register("lookup")
def _lookup(emission: Emission, node: Node) -> tuple[str, str]:
    k = emission.plan.index[node.name]
    table = constant_array(emission, node, "table", "table_t", node.table.type, node.table.codes,
                           f"{node.function} at the centres of {node.table_size} bins over "
                           f"[{node.low}, {node.low + 2 ** node.span_log2})")
    scale = node.tail_scale or Weights(np.ones(1), type=FixedType(2, 2), codes=np.ones(1, dtype=np.int64))
    scale_array = constant_array(emission, node, "scale", "scale_t", scale.type, scale.codes,
                                 "scale of the linear tail")
    tail_from = node.tail_from if node.tail_from is not None else 0
    struct = config(
        emission.plan, node, f"{node.function} from a table",
        {"n_in": node.size, "has_tail": node.tail_from is not None, "tail_from": tail_from,
         "has_scale": node.tail_scale is not None},
        {"tail_t": cpp_type(table_low_type(tail_from)), "table_t": node.table.type, "scale_t": scale.type,
         "index_t": f"index{k}"},
        before=(index_struct(f"index{k}", _input_type(emission, node), node.low, node.span_log2,
                             node.table_size),))
    return struct, call(emission.plan, node, "lookup", f"{table}, {scale_array}")


@EMITTERS.register("embedding")
def _embedding(emission: Emission, node: Node) -> tuple[str, str]:
    table = constant_array(emission, node, "embeddings", "embeddings_t", node.embeddings.type, node.embeddings.codes,
                           f"embeddings, ({node.input_dim}, {node.output_dim}) row-major: one row per index")
    struct = config(
        emission.plan, node, f"embedding of {node.input_dim} rows of {node.output_dim}",
        {"n_in": node.shape[0], "n_out": node.output_dim, "vocab_size": node.input_dim,
         "negative_wraps": node.negative_wraps},
        {"embeddings_t": node.embeddings.type, "index_t": node.index_type()})
    return struct, call(emission.plan, node, "embedding", table)


@EMITTERS.register("prelu")
def _prelu(emission: Emission, node: Node) -> tuple[str, str]:
    def bound(weights):  # an unused bound still needs an array (never read)
        return weights or Weights(np.zeros(1), type=FixedType(1, 1, False), codes=np.zeros(1, dtype=np.int64))
    arrays = [constant_array(emission, node, name, f"{name}_t", weights.type, weights.codes, name.replace("_", " "))
              for name, weights in (("threshold", node.threshold), ("slope", node.slope),
                                    ("max", bound(node.max_value)), ("min_input", bound(node.min_input)),
                                    ("min_value", bound(node.min_value)))]
    struct = config(
        emission.plan, node, "ReLU family",
        {"n_in": node.size, "n_channels": node.shape[-1], "n_slopes": node.slope.codes.size,
         "strict": node.strict, "has_max": node.max_value is not None, "has_min": node.min_input is not None},
        {"threshold_t": node.threshold.type, "slope_t": node.slope.type, "max_t": bound(node.max_value).type,
         "min_input_t": bound(node.min_input).type, "min_value_t": bound(node.min_value).type})
    return struct, call(emission.plan, node, "prelu", ", ".join(arrays))


@EMITTERS.register("step")
def _step(emission: Emission, node: Node) -> tuple[str, str]:
    plan = emission.plan
    # A C array needs one element at least; with no reachable threshold it is never read.
    codes = node.threshold_codes.reshape(-1) if node.threshold_codes.size else np.zeros(1, dtype=np.int64)
    n_channels, n_thresholds = node.threshold_codes.shape if node.per_channel else (1, len(node.threshold_codes))
    thresholds = constant_array(emission, node, "thresholds", "threshold_t", node.threshold_type, codes,
                                f"inputs where {node.staircase_of} steps up" + ", per channel" * node.per_channel)
    levels = constant_array(emission, node, "levels", "levels_t", node.levels.type, node.levels.codes,
                            "output levels")
    struct = config(
        plan, node, f"{node.staircase_of} as a staircase",
        {"n_in": node.size, "n_channels": n_channels, "n_thresholds": n_thresholds, "first_level": node.first_level,
         "n_levels": len(node.levels.codes)},
        {"levels_t": node.levels.type, "threshold_t": node.threshold_type})
    return struct, call(plan, node, "step", f"{thresholds}, {levels}")


@EMITTERS.register("softsign")
def _softsign(emission: Emission, node: Node) -> tuple[str, str]:
    magnitude, denominator, quotient = softsign_types(_input_type(emission, node))
    struct = config(emission.plan, node, "softsign", {"n_in": node.size},
                    {"abs_t": cpp_type(magnitude), "denominator_t": cpp_type(denominator),
                     "quotient_t": cpp_type(quotient)})
    return struct, call(emission.plan, node, "softsign", "")


@EMITTERS.register("hard_sigmoid")
def _hard_sigmoid(emission: Emission, node: Node) -> tuple[str, str]:
    x_type = _input_type(emission, node)
    slope = constant_array(emission, node, "slope", "slope_t", node.slope.type, node.slope.codes, "slope")
    offset = constant_array(emission, node, "offset", "offset_t", node.offset.type, node.offset.codes, "offset")
    struct = config(
        emission.plan, node, "hard sigmoid", {"n_in": node.size},
        {"slope_t": node.slope.type, "offset_t": node.offset.type,
         "line_t": cpp_type(add_type(mul_type(x_type, node.slope.type), node.offset.type))})
    return struct, call(emission.plan, node, "hard_sigmoid", f"{slope}, {offset}")


@EMITTERS.register("softmax")
def _softmax(emission: Emission, node: Node) -> tuple[str, str]:
    k = emission.plan.index[node.name]
    x_type = _input_type(emission, node)
    difference_type = sub_type(x_type, x_type)
    exps = constant_array(emission, node, "exp", "exp_t", node.exp_table.type, node.exp_table.codes,
                          f"exp at the centres of {node.table_size} bins over [{node.EXP_LOW}, 0)")
    inverses = constant_array(emission, node, "inv", "inv_t", node.inv_table.type, node.inv_table.codes,
                              f"1/x at the centres of {node.table_size} bins over [0, {2 ** node.inv_span_log2})")
    struct = config(
        emission.plan, node, f"softmax, {node.implementation}, over the last axis of {tuple(node.shape)}",
        {"n_in": node.n, "n_positions": node.n_positions, "implementation": f"nnhls::softmax_{node.implementation}"},
        {"exp_t": node.exp_table.type, "inv_t": node.inv_table.type, "diff_t": cpp_type(difference_type),
         "sum_t": cpp_type(node.sum_type), "exp_index": f"exp_index{k}", "inv_index": f"inv_index{k}"},
        before=(index_struct(f"exp_index{k}", difference_type, node.EXP_LOW, node.EXP_SPAN_LOG2,
                             node.table_size),
                index_struct(f"inv_index{k}", node.sum_type, 0, node.inv_span_log2, node.table_size)))
    return struct, call(emission.plan, node, "softmax", f"{exps}, {inverses}")


@EMITTERS.register("layernorm")
def _layernorm(emission: Emission, node: Node) -> tuple[str, str]:
    types = node.statistics(_input_type(emission, node))
    one = Weights(np.ones(1), type=FixedType(2, 2), codes=np.ones(1, dtype=np.int64))  # an unused gamma or beta
    scale, bias = node.scale or one, node.bias or one
    table = constant_array(emission, node, "table", "table_t", node.table.type, node.table.codes,
                           f"sqrt({node.n} / m) at the centres of {node.table_size // 2} bins over [1, 2) "
                           f"and as many over [2, 4)")
    epsilon = constant_array(emission, node, "epsilon", "variance_t", types.variance,
                             np.array([types.epsilon_code], dtype=object), f"{node.n}**3 * epsilon ({node.epsilon:g})")
    gamma = constant_array(emission, node, "gamma", "scale_t", scale.type, scale.codes, "gamma")
    beta = constant_array(emission, node, "beta", "bias_t", bias.type, bias.codes, "beta")
    struct = config(
        emission.plan, node, f"layer normalization over the last axis of {node.n} values",
        {"n_in": node.size, "n": node.n, "n_positions": node.positions, "table_size": node.table_size,
         "mantissa_bits": node.mantissa_bits, "shift_base": types.shift_base,
         "has_scale": node.scale is not None, "has_bias": node.bias is not None},
        {"sum_t": cpp_type(types.total), "count_t": cpp_type(types.count), "diff_t": cpp_type(types.difference),
         "square_sum_t": cpp_type(types.square_sum), "variance_t": types.variance, "shift_t": cpp_type(types.shift),
         "accum_t": node.accum_type, "table_t": node.table.type, "scale_t": scale.type, "bias_t": bias.type})
    return struct, call(emission.plan, node, "layernorm", f"{table}, {epsilon}, {gamma}, {beta}")

def _vector_sizes(plan, node: Node) -> dict:
    """A two-input kernel's io_stream mode: 1-D tensors are read as whole vectors (`vector`),
    since an input may arrive in packets of any size (a flattened image, a pixel at a time)."""
    return {"vector": len(node.shape) == 1, "a_size": plan.graph[node.inputs[0]].size,
            "b_size": plan.graph[node.inputs[1]].size, "out_size": node.size}


@EMITTERS.register("merge")
def _merge(emission: Emission, node: Node) -> tuple[str, str]:
    types = [emission.plan.graph[name].result_type for name in node.inputs]
    members: dict = {"function": f"nnhls::merge_{node.function}"}
    constants = {"n_in": node.size, **_vector_sizes(emission.plan, node)}
    if node.function in ("maximum", "minimum"):
        members["union_t"] = cpp_type(union_type(types))
    if node.function == "average":
        constants["count"] = node.count
        members.update(dividend_t=cpp_type(node.dividend_type(types)), count_t=cpp_type(node.count_type()))
    description = node.function if node.function != "average" else f"average of {node.count} values"
    return config(emission.plan, node, description, constants, members), call(emission.plan, node, "merge", "")


@EMITTERS.register("concatenate")
def _concatenate(emission: Emission, node: Node) -> tuple[str, str]:
    plan = emission.plan
    shapes = [plan.graph[name].shape for name in node.inputs]
    outer, inner = node.blocks(shapes)
    # io_stream: along the last axis each output packet joins one packet of each input; along
    # another axis the output passes blocks of whole packets of each input in turn; 1-D tensors
    # are read as whole vectors.
    blocks = plan.packet_blocks(node)
    constants = {"outer": outer, "a_inner": inner[0], "b_inner": inner[1], "lockstep": node.along_last_axis,
                 "a_blocks": blocks[0], "b_blocks": blocks[1], **_vector_sizes(plan, node)}
    struct = config(plan, node, f"concatenation along axis {node.axis} of {tuple(shapes[0])} and "
                                f"{tuple(shapes[1])}", constants, {})
    return struct, call(plan, node, "concatenate", "")


@EMITTERS.register("dot")
def _dot(emission: Emission, node: Node) -> tuple[str, str]:
    types = [emission.plan.graph[name].result_type for name in node.inputs]
    struct = config(emission.plan, node, f"dot product of two vectors of {node.length}",
                    {"n_in": node.length, **_vector_sizes(emission.plan, node)},
                    {"accum_t": cpp_type(dot_type(node, types))})
    return struct, call(emission.plan, node, "dot", "")


# A recurrent layer's cell codes in nnhls/recurrent.h.
_CELL_CODES = {"simple": "nnhls::simple_cell", "lstm": "nnhls::lstm_cell", "gru": "nnhls::gru_cell"}


@EMITTERS.register("recurrent")
def _recurrent(emission: Emission, node: Node) -> tuple[str, str]:
    """The layer's parts, each written by its op's emitter as a layer of a small graph of its
    own (index `<k>_<role>`), called from `parts<k>`; the cell and the step loop are nnhls/recurrent.h."""
    plan = emission.plan
    k = plan.index[node.name]
    functions, structs = [], []
    for role, part in node.parts.items():
        struct, statement = _part(emission, node, role, part)
        structs.append(struct)
        n_in, n_out = (part.n_in, part.n_out) if isinstance(part, Dense) else (part.size, part.size)
        functions += ["    template <class data_T, class res_T>",
                      f"    static void {role}(const data_T x[{n_in}], res_T y[{n_out}]) {{",
                      "#pragma HLS INLINE", f"        {statement}", "    }"]
    emission.after_weights.append("\n".join([f"// {node.name} ({node.framework_class}): its parts",
                                             f"struct parts{k} {{", *functions, "};", ""]))
    types = node.cell_types()
    cell = _CELL_CODES[node.cell]
    members = {"accum_t": node.accum_type, "state_t": node.state_type,
               "cell_t": node.cell_type if node.cell == "lstm" else node.state_type,
               "p_t": cpp_type(types.p), "q_t": cpp_type(types.q), "candidate_t": cpp_type(types.candidate),
               "hidden_t": cpp_type(types.hidden), "parts": f"parts{k}"}
    members.update({name: cpp_type(t) for name, t in (("gate_t", types.gate), ("output_t", types.output),
                                                      ("update_t", types.update), ("reset_q_t", types.reset_q),
                                                      ("reset_product_t", types.reset_product),
                                                      ("candidate_accum_t", node.candidate_accum_type))
                    if t is not None})
    direction = ", backwards" if node.go_backwards else ""
    sequence = "the sequence" if node.return_sequences else "the last state"
    cells = "one cell for every step" if node.static else "steps unrolled"
    struct = config(
        plan, node, f"{node.framework_class} of {node.units} units over {node.steps} steps of {node.n_in}{direction}, "
                    f"returning {sequence}; {node.strategy}, reuse factors {node.reuse_factor} (input) and "
                    f"{node.recurrent_reuse_factor} (recurrent), {cells}",
        {"n_steps": node.steps, "n_in": node.n_in, "units": node.units, "n_blocks": len(node.blocks),
         "n_q": node.parts["recurrent"].n_out, "reset_after": node.reset_after, "cell": cell,
         "return_sequences": node.return_sequences, "go_backwards": node.go_backwards,
         "time_order": node.time_order, "static_cell": node.static},
        members, before=(*structs, f"struct parts{k};"))
    return struct, call(plan, node, "recurrent", "")


def _part(emission: Emission, node: Node, role: str, part: Node) -> tuple[str, str]:
    """(configuration struct, call) of one part, written as the one layer of the small graph of
    its input and itself: its arrays and structs are named `<name><k>_<role>`."""
    k = emission.plan.index[node.name]
    plan = Plan(node.part_graph(role, node.part_input_type(role) if role != "input" else
                                emission.plan.graph[node.inputs[0]].result_type), "io_parallel")
    plan.index = {PART_INPUT: f"{k}_{role}_in", part.name: f"{k}_{role}"}
    plan.variable = {PART_INPUT: "x", part.name: "y"}
    plan.type_name = {PART_INPUT: "data_T", part.name: "res_T"}
    plan.read_from = {(part.name, 0): "x"}
    part_emission = Emission(plan, emission.banner)
    part_emission.weight_files = emission.weight_files
    return EMITTERS[part.op](part_emission, part)
