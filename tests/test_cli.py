import os
import subprocess
import sys
from pathlib import Path

from nnhls.cli import main


def installed_nnhls() -> str:
    """The `nnhls` command the package installs beside the interpreter (a console-script entry point)."""
    command = Path(sys.executable).parent / "nnhls"
    assert command.is_file(), f"{command} is missing: the package installs no `nnhls` command"
    return str(command)


def run_installed(*args: str, cwd=None) -> subprocess.CompletedProcess:
    environment = {key: value for key, value in os.environ.items() if key != "TF_USE_LEGACY_KERAS"}
    return subprocess.run([installed_nnhls(), *args], capture_output=True, text=True, cwd=cwd, env=environment)


def test_types_shows_numpy_and_cpp_agreeing(capsys):
    assert main(["types"]) == 0
    out = capsys.readouterr().out
    assert "ap_fixed<8,3,AP_RND_CONV,AP_SAT>" in out
    assert "all agree." in out
    assert "!" not in out.split("\n\n")[1]  # no cell marked as a disagreement


def test_module_entry_point_runs():
    result = subprocess.run([sys.executable, "-m", "nnhls", "--help"], capture_output=True, text=True)
    assert result.returncode == 0
    assert "demo" in result.stdout


def test_installed_command_runs():
    result = run_installed("--help")
    assert result.returncode == 0, result.stderr
    assert "convert" in result.stdout and "demo" in result.stdout


def test_demo_converts_the_shipped_model_in_every_cell(tmp_path):
    # Through the installed command, as a user types it; it sets TF_USE_LEGACY_KERAS itself.
    result = run_installed("demo", "-o", str(tmp_path / "demo"))
    assert result.returncode == 0, result.stderr[-3000:]
    out = result.stdout
    assert "every cell gives the same bits." in out
    rows = [line for line in out.splitlines() if line.startswith(("Vivado", "Vitis"))]
    assert len(rows) == 16 and all("True" in row and "False" not in row for row in rows)
    assert {row.split()[3] for row in rows} == {"1", "4"}
    keras_accuracy = float(out.split("QKeras accuracy: ")[1].split()[0])
    accuracies = {float(row.split()[4]) for row in rows}
    assert len(accuracies) == 1 and abs(accuracies.pop() - keras_accuracy) <= 0.01
    assert (tmp_path / "demo" / "vitis_resource_io_stream_rf4" / "build_prj.tcl").exists()
