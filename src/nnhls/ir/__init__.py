"""The intermediate representation: a graph of ops with canonical tensors and fixed-point types.

Layouts are canonical and never depend on a backend: Dense kernels are `(n_in, n_out)`,
activations are channels-last, shapes exclude the batch dimension. Frontends fill in float
weights and the quantizers the framework applied; passes turn them into exact integer codes and
assign a `FixedType` to every tensor (the lowered IR). The emulator and the HLS writer only read
the lowered IR.
"""

from nnhls.ir.graph import Graph
from nnhls.ir.ops import (ACTIVATIONS, OPS, Activation, BatchNorm, Concatenate, Conv, Crop, Dense, Dot, Embedding,
                          Flatten, HardSigmoid, Input, Lookup, Merge, Node, ParametricRelu, Pool, Reshape, ScaleShift,
                          Softmax, Softsign, Step, Transpose, Upsample, Weights, Window, ZeroPad, bilinear_denominator,
                          bilinear_taps, dot_type, embedding_index_type, make_activation, mean_dividend_type, mean_type,
                          merge_range, range_type, same_padding, softsign_types, table_low_type, union_type)
from nnhls.ir.ops import LayerNorm, LayerNormTypes
from nnhls.ir.recurrent import CELLS, ONE, PART_INPUT, CellTypes, Recurrent, recurrent_parts
from nnhls.ir.registry import Registry

__all__ = ["ACTIVATIONS", "OPS", "Activation", "BatchNorm", "Concatenate", "Conv", "Crop", "Dense", "Dot", "Flatten",
           "Graph", "HardSigmoid", "Input", "Lookup", "Merge", "Node", "ParametricRelu", "Pool", "Registry", "Reshape",
           "ScaleShift", "Softmax", "Softsign", "Step", "Transpose", "Upsample", "Weights", "Window", "ZeroPad",
           "bilinear_denominator", "bilinear_taps", "dot_type", "make_activation",
           "mean_dividend_type", "mean_type", "merge_range", "range_type", "same_padding", "softsign_types",
           "table_low_type", "union_type", "Embedding", "embedding_index_type"]
__all__ += ["LayerNorm", "LayerNormTypes", "CELLS", "ONE", "PART_INPUT", "CellTypes", "Recurrent",
            "recurrent_parts"]

OPS[Recurrent.op] = Recurrent
