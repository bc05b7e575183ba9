"""The vendor's own open-source ap_types headers (Apache-2.0), fetched at test time as an oracle.

They ship inside the hls4ml wheel on PyPI (under hls4ml/templates/vivado/ap_types/). They are
downloaded once into build/vendor_ap_types (ignored by git) and never committed; set
NNHLS_VENDOR_AP_TYPES to a folder holding ap_fixed.h to use a copy you already have. A test that
needs them skips, saying why, when neither the folder nor the package registry is reachable.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import pytest

WHEEL = "hls4ml==1.3.0"
_INSIDE_WHEEL = "hls4ml/templates/vivado/ap_types/"
_CACHE = Path(__file__).resolve().parent.parent / "build" / "vendor_ap_types"


def vendor_ap_types() -> Path:
    """The folder holding the vendor's ap_fixed.h, ap_int.h and hls_stream.h (fetched if needed)."""
    given = os.environ.get("NNHLS_VENDOR_AP_TYPES")
    if given:
        folder = Path(given)
        if not (folder / "ap_fixed.h").is_file():
            pytest.fail(f"NNHLS_VENDOR_AP_TYPES={given!r} holds no ap_fixed.h")
        return folder
    headers = _CACHE / "ap_types"
    _CACHE.mkdir(parents=True, exist_ok=True)
    with open(_CACHE / ".lock", "w") as lock:  # pytest-xdist workers fetch it once between them
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (headers / "ap_fixed.h").is_file():
            _fetch(headers)
    return headers


def _fetch(headers: Path) -> None:
    with tempfile.TemporaryDirectory() as download:
        result = subprocess.run(
            [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "-d", download, WHEEL],
            capture_output=True, text=True, timeout=300)
        wheels = list(Path(download).glob("*.whl"))
        if result.returncode != 0 or not wheels:
            pytest.skip(f"the vendor's headers could not be fetched ({WHEEL} from the package registry): "
                        f"{result.stderr.strip()[-300:]}")
        staging = headers.with_name("ap_types.partial")
        shutil.rmtree(staging, ignore_errors=True)
        with zipfile.ZipFile(wheels[0]) as wheel:
            for member in wheel.namelist():
                if member.startswith(_INSIDE_WHEEL) and not member.endswith("/"):
                    target = staging / member[len(_INSIDE_WHEEL):]
                    target.parent.mkdir(parents=True, exist_ok=True)
                    target.write_bytes(wheel.read(member))
        staging.rename(headers)
