import subprocess
import sys

from nnhls.cli import main


def test_demo_shows_numpy_and_cpp_agreeing(capsys):
    assert main(["demo"]) == 0
    out = capsys.readouterr().out
    assert "ap_fixed<8,3,AP_RND_CONV,AP_SAT>" in out
    assert "all agree." in out
    assert "!" not in out.split("\n\n")[1]  # no cell marked as a disagreement


def test_module_entry_point_runs():
    result = subprocess.run([sys.executable, "-m", "nnhls", "--help"], capture_output=True, text=True)
    assert result.returncode == 0
    assert "demo" in result.stdout
