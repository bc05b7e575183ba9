"""The README's example must run as written (up to the vendor tool, which is absent here)."""

import os
import re
import subprocess
import sys
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_example_runs(tmp_path):
    code = re.search(r"## Example\n\n```python\n(.*?)```", README.read_text(), re.S).group(1)
    assert "hls_model.build(" in code
    code = code.replace("hls_model.build(csim=True, synth=True)",
                        "try:\n    hls_model.build(csim=True, synth=True)\n"
                        "except nnhls.NnhlsError as error:\n    print('no vendor tool:', error)")
    (tmp_path / "example.py").write_text(code)
    environment = {key: value for key, value in os.environ.items() if not key.startswith("NNHLS_")}
    result = subprocess.run([sys.executable, "example.py"], cwd=tmp_path, capture_output=True, text=True,
                            env=environment, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "no vendor tool: Vitis HLS was not found" in result.stdout
    assert (tmp_path / "prj" / "build_prj.tcl").exists()
