"""Least FIFO depths of io_stream designs, against depths derived by hand from the kernels' loops."""

import pytest

from nnhls.errors import NnhlsError
from nnhls.hls.fifo import Stage, plan_depths


def conv3x3(name, source, target, size=8):
    """A same-padded 3x3 convolution on a size x size image."""
    geometry = dict(in_h=size, in_w=size, kernel_h=3, kernel_w=3, stride_h=1, stride_w=1,
                    pad_top=1, pad_bottom=1, pad_left=1, pad_right=1)
    return Stage(name, "windows", (source,), (target,), geometry)


def residual(long_path, clone_outputs, add_inputs, n=64):
    """x -> clone -> "a" along long_path to "d", and "s" directly; add("d", "s") -> y."""
    return [Stage("clone", "clone", ("x",), clone_outputs, {"n": n}), *long_path,
            Stage("add", "lockstep", add_inputs, ("y",), {"n": n})]


def test_a_chain_needs_depth_one_everywhere():
    stages = [Stage("relu", "elementwise", ("x",), ("h",), {"n": 4}),
              Stage("dense", "whole", ("h",), ("y",), {"n_in": 4, "n_out": 2})]
    assert plan_depths(stages, {"x": 4, "h": 4, "y": 2}, {"x"}, {"y"}) == {"h": 1}


def test_every_pattern_in_a_chain_needs_depth_one():
    pad = dict(in_h=6, in_w=6, pad_top=1, pad_bottom=1, pad_left=1, pad_right=1)
    pool = dict(in_h=8, in_w=8, kernel_h=2, kernel_w=2, stride_h=2, stride_w=2,
                pad_top=0, pad_bottom=0, pad_left=0, pad_right=0)
    stages = [Stage("pad", "zero_pad", ("x",), ("p",), pad),
              Stage("pool", "windows", ("p",), ("q",), pool),
              Stage("gap", "global_pool", ("q",), ("g",), {"n_in": 16}),
              Stage("dense", "whole", ("g",), ("y",), {"n_in": 1, "n_out": 3})]
    packets = {"x": 36, "p": 64, "q": 16, "g": 1, "y": 3}
    # The stream inside the pooling (line buffer -> per-window loop) is the kernel's, not listed.
    assert plan_depths(stages, packets, {"x"}, {"y"}) == {"p": 1, "q": 1, "g": 1}


# A same-padded 3x3 convolution on an 8x8 image writes output k (raster order) as the line
# buffer pushes padded pixel (y + 2, x + 2): having read image pixel (y + 1, x + 1), i.e. k + 10
# input packets (fewer at the right edge and on the last row). When the clone writes "a" before
# "s", it has written k + 9 packets into "s" by then; the add has taken s[0 .. k-1] if it reads
# "d" first, or also s[k] (held while it waits for d[k]) if it reads "s" first. So "s" holds
# 9 or 8 packets; one more when the clone writes "s" before "a". The long path's small FIFOs
# never fill because the add drains "d" as soon as the matching "s" packet is there.
@pytest.mark.parametrize("clone_outputs, add_inputs, short_depth", [
    (("a", "s"), ("d", "s"), 9),
    (("a", "s"), ("s", "d"), 8),
    (("s", "a"), ("d", "s"), 10),
    (("s", "a"), ("s", "d"), 9),
])
def test_a_skip_connection_holds_what_a_convolution_delays(clone_outputs, add_inputs, short_depth):
    long_path = [conv3x3("conv", "a", "c"), Stage("relu", "elementwise", ("c",), ("d",), {"n": 64})]
    stages = residual(long_path, clone_outputs, add_inputs)
    packets = dict.fromkeys(["x", "a", "s", "c", "d", "y"], 64)
    assert plan_depths(stages, packets, {"x"}, {"y"}) == {"a": 1, "c": 1, "d": 1, "s": short_depth}


# The second convolution's output k needs the first's outputs 0 .. k + 9, and the first's output
# k + 9 needs k + 19 input packets (k = 0: output 9 is (1, 1), written after image pixel (2, 2)).
# Each convolution thus adds one row and one pixel of delay: "s" holds 18 instead of 9.
def test_a_second_convolution_on_the_long_path_deepens_the_skip():
    long_path = [conv3x3("conv1", "a", "c"), conv3x3("conv2", "c", "e"),
                 Stage("relu", "elementwise", ("e",), ("d",), {"n": 64})]
    stages = residual(long_path, ("a", "s"), ("d", "s"))
    packets = dict.fromkeys(["x", "a", "s", "c", "e", "d", "y"], 64)
    assert plan_depths(stages, packets, {"x"}, {"y"}) == {"a": 1, "c": 1, "e": 1, "d": 1, "s": 18}


# Concatenating rows reads all 64 packets of "top" before any of "bottom". The clone has
# written 63 packets into "bottom" when it writes top[63]; its write of bottom[63] can wait for
# the concatenation to start on "bottom". Writing "bottom" first, the clone needs all 64 there.
@pytest.mark.parametrize("clone_outputs, bottom_depth", [(("top", "bottom"), 63), (("bottom", "top"), 64)])
def test_concatenating_rows_of_a_fork_holds_a_whole_image(clone_outputs, bottom_depth):
    stages = [Stage("clone", "clone", ("x",), clone_outputs, {"n": 64}),
              Stage("concat", "concatenate", ("top", "bottom"), ("y",), {"outer": 1, "blocks": (64, 64)})]
    packets = {"x": 64, "top": 64, "bottom": 64, "y": 128}
    assert plan_depths(stages, packets, {"x"}, {"y"}) == {"top": 1, "bottom": bottom_depth}


# Concatenating columns alternates 8 packets of "left" and 8 of "right" per row: the same
# argument as for rows, over one image row.
def test_concatenating_columns_of_a_fork_holds_a_row():
    stages = [Stage("clone", "clone", ("x",), ("left", "right"), {"n": 64}),
              Stage("concat", "concatenate", ("left", "right"), ("y",), {"outer": 8, "blocks": (8, 8)})]
    packets = {"x": 64, "left": 64, "right": 64, "y": 128}
    assert plan_depths(stages, packets, {"x"}, {"y"}) == {"left": 1, "right": 7}


def test_an_unknown_pattern_names_the_stage_and_the_pattern():
    stages = [Stage("lstm1", "recurrent", ("x",), ("y",), {"n": 1})]
    with pytest.raises(NnhlsError, match=r"stage 'lstm1' has the stream pattern 'recurrent'"):
        plan_depths(stages, {"x": 1, "y": 1}, {"x"}, {"y"})


def test_reading_a_stream_nobody_writes_names_the_stage_and_the_stream():
    stages = [Stage("add", "lockstep", ("x", "ghost"), ("y",), {"n": 4})]
    with pytest.raises(NnhlsError, match=r"stage 'add' reads stream 'ghost', which no stage writes"):
        plan_depths(stages, {"x": 4, "ghost": 4, "y": 4}, {"x"}, {"y"})


def test_reading_more_than_is_written_names_the_stages_and_streams():
    stages = [Stage("relu", "elementwise", ("x",), ("h",), {"n": 4}),
              Stage("dense", "whole", ("h",), ("y",), {"n_in": 5, "n_out": 1})]
    with pytest.raises(NnhlsError, match=r"'dense' waits to read 'h' \(4 packets written to it so far\)"):
        plan_depths(stages, {"x": 4, "h": 4, "y": 1}, {"x"}, {"y"})


# With depth 1, one packet too many waits in the FIFO after both stages finish; a second one
# leaves the writer blocked on a FIFO whose reader has finished.
@pytest.mark.parametrize("n_written, message", [
    (4, r"stage 'dense' leaves 1 of the packets of 'h' unread"),
    (5, r"'relu' waits to write 'h' \(4 packets written to it so far\)"),
])
def test_writing_more_than_is_read_names_the_stages_and_streams(n_written, message):
    stages = [Stage("relu", "elementwise", ("x",), ("h",), {"n": n_written}),
              Stage("dense", "whole", ("h",), ("y",), {"n_in": 3, "n_out": 1})]
    with pytest.raises(NnhlsError, match=message):
        plan_depths(stages, {"x": n_written, "y": 1}, {"x"}, {"y"})


def test_a_packet_count_that_disagrees_with_the_stages_is_an_error():
    stages = [Stage("relu", "elementwise", ("x",), ("h",), {"n": 4}),
              Stage("dense", "whole", ("h",), ("y",), {"n_in": 4, "n_out": 2})]
    message = r"stage 'dense' writes 2 packets to stream 'y', where packets says 1"
    with pytest.raises(NnhlsError, match=message):
        plan_depths(stages, {"x": 4, "h": 4, "y": 1}, {"x"}, {"y"})
