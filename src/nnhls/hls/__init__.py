"""Everything that writes or builds HLS C++: the C++ library shipped with nnhls and the writers."""

from pathlib import Path

__all__ = ["AP_TYPES_DIR", "INCLUDE_DIR"]

INCLUDE_DIR = Path(__file__).resolve().parent / "include"
# Our own ap_int.h / ap_fixed.h / hls_stream.h, for C simulation where vendor headers are absent.
AP_TYPES_DIR = INCLUDE_DIR / "ap_types"
