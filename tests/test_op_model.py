"""The op model: every consumer registers every op of the lowered IR, facts about an op live on
its class, and a missing entry or a half-lowered node is one clear error."""

import numpy as np
import pytest

from nnhls.emulate import EMULATORS
from nnhls.errors import NnhlsError
from nnhls.estimate import ESTIMATES
from nnhls.hls.backend import EMITTERS, STREAM_PATTERNS
from nnhls.ir import OPS, Dense, Graph, Input, Merge, Registry, Weights
from nnhls.passes import check_lowered, lower
from nnhls.passes.infer_types import EXACT_RESULTS
from nnhls.types import AUTO, FixedType

# Every place an op is registered (docs/ops.md lists them).
REGISTRIES = [EXACT_RESULTS, EMULATORS, EMITTERS, STREAM_PATTERNS, ESTIMATES]


@pytest.mark.parametrize("registry", REGISTRIES, ids=lambda registry: registry.consumer.split(" (")[0])
def test_every_registry_covers_every_op(registry):
    assert registry.missing(OPS) == [], f"{registry.consumer} lacks these ops"


def test_a_missing_entry_names_the_op_and_the_consumer():
    registry = Registry("the example consumer")
    with pytest.raises(NnhlsError, match="op 'lstm' has no entry in the example consumer"):
        registry["lstm"]


def test_facts_of_an_op_live_on_its_class():
    for op, cls in OPS.items():
        assert cls.op == op
        assert cls.N_INPUTS is None or cls.N_INPUTS >= 0
        for name in cls.CONSTANTS:
            assert name in cls.__dataclass_fields__, f"{op}: constant {name!r} is no field"
    assert OPS["flatten"].VIEW and not OPS["dense"].VIEW
    assert OPS["flatten"].PRECISIONS == () and OPS["dense"].PRECISIONS == ("result", "weight", "bias", "accum")


def _dense(name, source, n):
    t = FixedType(6, 1)
    return Dense(name, [source], (n,), "Dense", result_type=AUTO, accum_type=AUTO,
                 weight=Weights(np.full((n, n), 0.25), type=t), bias=Weights(np.zeros(n), type=t))


def test_lowering_ends_with_one_check_of_the_lowered_ir():
    graph = Graph([Input("x", [], (3,), result_type=FixedType(8, 3)), _dense("d", "x", 3),
                   Merge("m", ["x", "d", "x", "d"], (3,), function="average", result_type=AUTO)], ["m"])
    lower(graph, {"default": FixedType(16, 6)})
    assert all(isinstance(node.result_type, FixedType) for node in graph)
    # A merge of four inputs became a chain of two-input merges; the last keeps the layer's name.
    assert [len(node.inputs) for node in graph if node.op == "merge"] == [2, 2, 2]
    assert graph["m"].count == 4
    graph["d"].bias.codes = None
    with pytest.raises(NnhlsError, match="layer 'd' .*bias has no integer codes"):
        check_lowered(graph)


def test_the_check_names_a_node_with_too_many_inputs():
    graph = Graph([Input("x", [], (3,), result_type=FixedType(8, 3)),
                   Merge("m", ["x", "x", "x"], (3,), function="add", result_type=FixedType(10, 5))], ["m"])
    with pytest.raises(NnhlsError, match="layer 'm' .* has 3 inputs in the lowered IR"):
        check_lowered(graph)
