"""Vitis HLS: what differs from other backends, as data (UG1399)."""

from nnhls.hls.target import Backend

VITIS = Backend(
    name="Vitis",
    # vitis_hls runs the script itself; newer releases drive HLS through vitis-run --mode hls.
    executables=("vitis_hls", "vitis-run"),
    environment_variable="NNHLS_VITIS_HLS",
    cflags="-std=c++14",
    # Vitis HLS asks which flow the solution targets; an IP for Vivado is what nnhls builds.
    open_solution="open_solution -reset -flow_target vivado solution1",
    interface="#pragma HLS INTERFACE mode={mode} port={port}",
    # Vitis HLS aggregates structs on top-level interfaces by default (no DATA_PACK).
    stream_port_extra="",
    pragma_macros=(
        "#define NNHLS_ALLOCATION_MUL(n) NNHLS_PRAGMA(HLS ALLOCATION operation instances=mul limit=n)\n"
        "#define NNHLS_BIND_ROM(v) NNHLS_PRAGMA(HLS BIND_STORAGE variable=v type=rom_np impl=bram)\n"
    ),
)
