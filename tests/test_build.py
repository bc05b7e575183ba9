"""How nnhls runs the vendor tools, checked with stand-in executables (they record how they are
called and produce nothing else), and build_prj.tcl's option handling, run by tclsh with the
HLS commands replaced by procedures that print their arguments."""

import os
import shutil
import subprocess

import pytest
from test_equivalence import realize

from nnhls.cli import main
from nnhls.errors import NnhlsError

STEPS = ["reset=0", "csim=1", "synth=0", "cosim=0", "export=0", "vsynth=0"]


def stand_in(folder, name, exit_code=0):
    """An executable that records its working folder, arguments and NNHLS_BUILD_OPTIONS."""
    tool = folder / name
    folder.mkdir(exist_ok=True)
    tool.write_text('#!/bin/sh\necho "$PWD" "$@" > "$(dirname "$0")/invocation"\n'
                    'echo "options: $NNHLS_BUILD_OPTIONS" >> "$(dirname "$0")/invocation"\n'
                    f'echo "stand-in {name} running"\nexit {exit_code}\n')
    tool.chmod(0o755)
    return tool


@pytest.fixture
def clean_path(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}:/usr/bin:/bin")
    for variable in ("NNHLS_VIVADO_HLS", "NNHLS_VITIS_HLS"):
        monkeypatch.delenv(variable, raising=False)
    return tmp_path / "bin"


@pytest.mark.parametrize("backend, searched", [("Vivado", r"\$NNHLS_VIVADO_HLS \(not set\) and vivado_hls on PATH"),
                                               ("Vitis", r"\$NNHLS_VITIS_HLS \(not set\) and vitis_hls, vitis-run")])
def test_without_the_tool_the_error_names_it_the_variable_and_the_search(backend, searched, clean_path, tmp_path):
    model, _ = realize(1, backend, "Latency", "io_parallel", tmp_path)
    with pytest.raises(NnhlsError, match=f"{backend} HLS was not found: searched {searched}"):
        model.build()
    assert not model.output_dir.exists()  # nothing is written for a build that cannot run


def test_vivado_hls_runs_the_script_with_the_steps_as_arguments(clean_path, tmp_path, capsys):
    tool = stand_in(clean_path, "vivado_hls")
    model, _ = realize(1, "Vivado", "Latency", "io_parallel", tmp_path)
    assert model.build(csim=True, synth=False) == {}
    lines = (clean_path / "invocation").read_text().splitlines()
    assert lines[0].split() == [str(model.output_dir), "-f", "build_prj.tcl", *STEPS]
    assert "stand-in vivado_hls running" in capsys.readouterr().out  # the log is echoed
    log = (model.output_dir / "nnhls_build.log").read_text()
    assert log.startswith(f"# {tool} -f build_prj.tcl") and "stand-in vivado_hls running" in log


def test_vitis_run_gets_the_steps_through_the_environment(clean_path, tmp_path):
    stand_in(clean_path, "vitis-run")
    model, _ = realize(1, "Vitis", "Resource", "io_stream", tmp_path)
    model.build(csim=False, synth=False, cosim=False, export=True, echo=False)
    first, options = (clean_path / "invocation").read_text().splitlines()
    assert first.split() == [str(model.output_dir), "--mode", "hls", "--tcl", "build_prj.tcl"]
    assert options == "options: reset=0 csim=0 synth=0 cosim=0 export=1 vsynth=0"


def test_the_environment_variable_wins_over_path(clean_path, tmp_path, monkeypatch):
    stand_in(clean_path, "vitis_hls")
    chosen = stand_in(tmp_path / "elsewhere", "my_vitis_hls")
    monkeypatch.setenv("NNHLS_VITIS_HLS", str(chosen))
    model, _ = realize(1, "Vitis", "Latency", "io_parallel", tmp_path)
    model.build(synth=False, echo=False)
    assert (tmp_path / "elsewhere" / "invocation").exists() and not (clean_path / "invocation").exists()


def test_a_failing_tool_and_a_missing_report_are_clear_errors(clean_path, tmp_path):
    stand_in(clean_path, "vivado_hls", exit_code=3)
    model, _ = realize(1, "Vivado", "Latency", "io_parallel", tmp_path)
    with pytest.raises(NnhlsError, match=r"Vivado HLS \(.*vivado_hls\) failed with exit code 3; its output is in "
                                         r".*nnhls_build.log"):
        model.build(echo=False)
    stand_in(clean_path, "vivado_hls", exit_code=0)
    with pytest.raises(NnhlsError, match="synth"):  # the stand-in writes no report
        model.build(echo=False)


def test_build_command_reads_the_backend_from_the_project(clean_path, tmp_path, capsys):
    stand_in(clean_path, "vitis_hls")
    model, _ = realize(1, "Vitis", "Latency", "io_parallel", tmp_path)
    model.write()
    assert main(["build", "-p", str(model.output_dir), "--csim", "--reset"]) == 0
    assert (clean_path / "invocation").read_text().split()[1:9] == ["-f", "build_prj.tcl", "reset=1", "csim=1",
                                                                   "synth=0", "cosim=0", "export=0", "vsynth=0"]
    assert main(["build", "-p", str(tmp_path / "nowhere")]) == 2
    assert "holds no project written by nnhls" in capsys.readouterr().err


HLS_COMMANDS = ("open_project", "set_top", "add_files", "open_solution", "set_part", "create_clock",
                "set_clock_uncertainty", "csim_design", "csynth_design", "cosim_design", "export_design")


@pytest.mark.skipif(shutil.which("tclsh") is None, reason="needs tclsh")
@pytest.mark.parametrize("arguments, environment, expected", [
    ([], None, ["open_project myproject_prj", "csim_design", "csynth_design"]),
    (["reset=1 csim=0 synth=1 cosim=1 export=0 vsynth=0"], None,
     ["open_project -reset myproject_prj", "csynth_design", "cosim_design"]),
    ([], "reset=0 csim=0 synth=0 cosim=0 export=1 vsynth=1", ["open_project myproject_prj",
                                                              "export_design -format ip_catalog",
                                                              "export_design -flow syn -rtl verilog -format ip_catalog"]),
])
def test_build_script_runs_the_steps_it_is_given(arguments, environment, expected, tmp_path):
    model, _ = realize(1, "Vitis", "Latency", "io_parallel", tmp_path)
    project = model.write()
    stubs = "".join(f"proc {command} {{args}} {{ puts \"{command} $args\" }}\n" for command in HLS_COMMANDS)
    (project / "run.tcl").write_text(f"{stubs}set argv {{{' '.join(arguments)}}}\nproc exit {{}} {{}}\n"
                                     "source build_prj.tcl\n")
    env = {key: value for key, value in os.environ.items() if key != "NNHLS_BUILD_OPTIONS"}
    if environment:
        env["NNHLS_BUILD_OPTIONS"] = environment
    output = subprocess.run(["tclsh", "run.tcl"], cwd=project, capture_output=True, text=True, env=env, check=True)
    ran = [line.strip() for line in output.stdout.splitlines()
           if line.split()[0] in ("open_project", "csim_design", "csynth_design", "cosim_design", "export_design")]
    assert ran == expected
    assert "open_solution -reset -flow_target vivado solution1" in output.stdout
