"""Vivado HLS: what differs from other backends, as data (UG902)."""

from nnhls.hls.target import Backend

VIVADO = Backend(
    name="Vivado",
    executables=("vivado_hls",),
    environment_variable="NNHLS_VIVADO_HLS",
    cflags="-std=c++0x",
    open_solution="open_solution -reset solution1",
    interface="#pragma HLS INTERFACE {mode} port={port}",
    # Vivado HLS packs a struct on an AXI stream only when told to.
    stream_port_extra="#pragma HLS DATA_PACK variable={port}",
    pragma_macros=(
        "#define NNHLS_ALLOCATION_MUL(n) NNHLS_PRAGMA(HLS ALLOCATION instances=mul limit=n operation)\n"
        "#define NNHLS_BIND_ROM(v) NNHLS_PRAGMA(HLS RESOURCE variable=v core=ROM_nP_BRAM)\n"
    ),
)
