import re
import shutil
from pathlib import Path

import pytest

from nnhls.errors import NnhlsError
from nnhls.report import print_report, read, summary

DATA = Path(__file__).parent / "data" / "reports"
SYN = "myproject_prj/solution1/syn/report"
SIM = "myproject_prj/solution1/sim/report"


@pytest.fixture
def vivado(tmp_path):
    """A writable copy of the Vivado HLS project."""
    return Path(shutil.copytree(DATA / "vivado", tmp_path / "vivado"))


def test_read_vivado_hls_project():
    assert read(DATA / "vivado") == {
        "project": "myproject",
        "solution": "solution1",
        "backend": "Vivado",
        "tool_version": "2019.2",
        "part": "xcku115-flvb2104-2-i",
        "clock": {"target_ns": 5.0, "uncertainty_ns": 0.62, "estimated_ns": 4.271},
        "synthesis": {
            "file": f"{SYN}/csynth.xml",
            "latency_best": 9, "latency_worst": 11, "interval_min": 1, "interval_max": 2,
            # Vivado HLS spells the DSP count DSP48E
            "resources": {"BRAM_18K": 4, "DSP": 26, "FF": 3121, "LUT": 9876, "URAM": 0},
            "available": {"BRAM_18K": 4320, "DSP": 5520, "FF": 1326720, "LUT": 663360, "URAM": 0},
            "modules": {
                "dense_latency_ap_fixed_16_6_5_3_0_config2_s": {
                    "latency_best": 2, "latency_worst": 2, "interval_min": 1, "interval_max": 1,
                    "estimated_ns": 3.95,
                    "resources": {"BRAM_18K": 0, "DSP": 26, "FF": 1500, "LUT": 5000, "URAM": 0},
                },
            },
        },
        "cosim": {
            "file": f"{SIM}/myproject_cosim.rpt",
            "language": "Verilog", "status": "Pass", "simulator": "xsim",
            "latency": {"min": 9, "avg": 9, "max": 9},
            "interval": {"min": None, "avg": None, "max": None},  # NA: one transaction only
            "total_cycles": None,
        },
    }


def test_read_vitis_hls_project():
    report = read(DATA / "vitis")
    header = ("project", "solution", "backend", "tool_version", "part")
    assert [report[key] for key in header] == ["myproject", "solution1", "Vitis", "2023.1",
                                               "xcvu9p-flga2104-2-e"]
    assert report["clock"] == {"target_ns": 4.0, "uncertainty_ns": 0.5, "estimated_ns": 3.412}
    synthesis = report["synthesis"]
    assert (synthesis["latency_best"], synthesis["latency_worst"], synthesis["interval_min"],
            synthesis["interval_max"]) == (120, 142, 40, 48)
    assert synthesis["resources"] == {"BRAM_18K": 2, "DSP": 12, "FF": 4210, "LUT": 7350, "URAM": 0}
    assert synthesis["available"] == {"BRAM_18K": 4320, "DSP": 6840, "FF": 2364480, "LUT": 1182240,
                                      "URAM": 960}
    assert list(synthesis["modules"]) == ["dense_resource_ap_fixed_8_3_5_3_0_config2_s",
                                          "relu_ap_fixed_8_3_5_3_0_config3_s"]
    assert synthesis["modules"]["relu_ap_fixed_8_3_5_3_0_config3_s"] == {
        "latency_best": 17, "latency_worst": 17, "interval_min": 16, "interval_max": 16, "estimated_ns": 1.62,
        "resources": {"BRAM_18K": 0, "DSP": 0, "FF": 310, "LUT": 840, "URAM": 0}}
    assert report["cosim"] == {
        "file": f"{SIM}/myproject_cosim.rpt",
        "language": "Verilog", "status": "Pass", "simulator": None,
        "latency": {"min": 121, "avg": 125, "max": 138},
        "interval": {"min": 41, "avg": 44, "max": 47},
        "total_cycles": 580,
    }


def test_summary_shows_latency_in_cycles_and_microseconds_and_resource_shares():
    text = summary(read(DATA / "vivado"))
    lines = text.splitlines()
    assert lines[0] == "myproject: Vivado HLS 2019.2, solution1, part xcku115-flvb2104-2-i"
    assert "clock: target 5 ns, estimated 4.271 ns, uncertainty 0.62 ns" in lines
    # 9 and 11 cycles at the 5 ns target clock
    assert ["latency", "9", "11", "0.045", "0.055"] in [line.split() for line in lines]
    assert ["interval", "1", "2", "0.005", "0.010"] in [line.split() for line in lines]
    assert ["DSP", "26", "5520", "0.47%"] in [line.split() for line in lines]
    assert ["LUT", "9876", "663360", "1.49%"] in [line.split() for line in lines]
    assert ["URAM", "0", "0", "-"] in [line.split() for line in lines]  # the part has none
    assert ["dense_latency_ap_fixed_16_6_5_3_0_config2_s", "2", "1", "0", "26", "1500", "5000", "0"] in [
        line.split() for line in lines]
    assert "co-simulation (Verilog, xsim): Pass" in lines
    assert ["interval", "-", "-", "-"] in [line.split() for line in lines]


def test_summary_of_a_vitis_project_shows_ranges_and_total_execution():
    lines = summary(read(DATA / "vitis")).splitlines()
    assert lines[0] == "myproject: Vitis HLS 2023.1, solution1, part xcvu9p-flga2104-2-e"
    assert ["latency", "120", "142", "0.480", "0.568"] in [line.split() for line in lines]
    assert ["URAM", "0", "960", "0.00%"] in [line.split() for line in lines]
    assert ["module", "latency", "interval", "BRAM_18K", "DSP", "FF", "LUT", "URAM"] in [
        line.split() for line in lines]
    module_rows = [line.split() for line in lines if line.startswith(("dense_", "relu_"))]
    assert module_rows == [["dense_resource_ap_fixed_8_3_5_3_0_config2_s", "38-46", "38-46", "2", "12",
                            "2980", "5120", "0"],
                           ["relu_ap_fixed_8_3_5_3_0_config3_s", "17", "16", "0", "0", "310", "840", "0"]]
    assert "co-simulation (Verilog): Pass" in lines
    assert "total execution: 580 cycles" in lines


def test_print_report_prints_the_summary(capsys):
    print_report(DATA / "vitis")
    assert capsys.readouterr().out == summary(read(DATA / "vitis")) + "\n"


def test_undefined_latency_becomes_none(vivado):
    path = vivado / SYN / "csynth.xml"
    text = path.read_text()
    text = text.replace("<Worst-caseLatency>11<", "<Worst-caseLatency>undef<")
    text = text.replace("<Interval-max>2<", "<Interval-max>?<")
    path.write_text(text)
    report = read(vivado)
    synthesis = report["synthesis"]
    assert (synthesis["latency_best"], synthesis["latency_worst"], synthesis["interval_min"],
            synthesis["interval_max"]) == (9, None, 1, None)
    lines = [line.split() for line in summary(report).splitlines()]
    assert ["latency", "9", "-", "0.045", "-"] in lines
    assert ["interval", "1", "-", "0.005", "-"] in lines


def test_missing_elements_become_none(vivado):
    (vivado / SYN / "csynth.xml").write_text(
        "<profile><PerformanceEstimates><SummaryOfOverallLatency><Best-caseLatency>7</Best-caseLatency>"
        "</SummaryOfOverallLatency></PerformanceEstimates></profile>")
    report = read(vivado)
    assert report["part"] is None and report["tool_version"] is None
    assert report["clock"] == {"target_ns": None, "uncertainty_ns": None, "estimated_ns": None}
    assert report["synthesis"]["latency_best"] == 7
    assert report["synthesis"]["latency_worst"] is None
    assert report["synthesis"]["resources"] == dict.fromkeys(("BRAM_18K", "DSP", "FF", "LUT", "URAM"))
    assert report["backend"] == "Vivado"  # from build_prj.tcl
    text = summary(report)
    assert ["latency", "7", "-", "-", "-"] in [line.split() for line in text.splitlines()]


def test_missing_report_names_the_folder_and_how_to_synthesize(tmp_path):
    shutil.copy(DATA / "vivado" / "build_prj.tcl", tmp_path)
    with pytest.raises(NnhlsError) as error:
        read(tmp_path)
    message = str(error.value)
    assert str(tmp_path) in message
    assert f"{SYN}/csynth.xml" in message and f"{SIM}/myproject_cosim.rpt" in message
    assert f"nnhls build -p {tmp_path} --synth" in message and "HLSModel.build(synth=True)" in message


def test_folder_without_a_project_is_an_error(tmp_path):
    with pytest.raises(NnhlsError, match="no HLS report in .*nnhls build -p"):
        read(tmp_path)
    with pytest.raises(NnhlsError, match="is not a folder"):
        read(tmp_path / "missing")


def test_malformed_xml_names_the_file(vivado):
    path = vivado / SYN / "csynth.xml"
    path.write_text(path.read_text()[:300])
    with pytest.raises(NnhlsError, match=f"{re.escape(str(path))}.*not well-formed XML"):
        read(vivado)


def test_malformed_module_xml_names_the_file(vivado):
    path = vivado / SYN / "dense_latency_ap_fixed_16_6_5_3_0_config2_s_csynth.xml"
    path.write_text("<profile><AreaEstimates></profile>")
    with pytest.raises(NnhlsError, match=f"{re.escape(str(path))}.*not well-formed XML"):
        read(vivado)


def test_top_report_stands_in_for_csynth_xml(vivado):
    (vivado / SYN / "csynth.xml").unlink()
    report = read(vivado)
    assert report["synthesis"]["file"] == f"{SYN}/myproject_csynth.xml"
    assert report == {**read(DATA / "vivado"), "synthesis": {**read(DATA / "vivado")["synthesis"],
                                                              "file": f"{SYN}/myproject_csynth.xml"}}


def test_synthesis_without_cosimulation(vivado):
    shutil.rmtree(vivado / "myproject_prj" / "solution1" / "sim")
    report = read(vivado)
    assert report["cosim"] is None and report["synthesis"]["latency_best"] == 9
    assert summary(report).endswith("co-simulation: not run")


def test_failed_cosimulation(vivado):
    path = vivado / SIM / "myproject_cosim.rpt"
    text = path.read_text().replace("|      Pass|              9|              9|              9|",
                                    "|      Fail|             NA|             NA|             NA|")
    path.write_text(text)
    cosim = read(vivado)["cosim"]
    assert (cosim["language"], cosim["status"], cosim["latency"]) == (
        "Verilog", "Fail", {"min": None, "avg": None, "max": None})
    assert "co-simulation (Verilog, xsim): Fail" in summary(read(vivado))


def test_cosimulation_report_without_a_table_is_an_error(vivado):
    path = vivado / SIM / "myproject_cosim.rpt"
    path.write_text("Report time       : Mon Mar  3 10:00:00 CET 2025.\n")
    with pytest.raises(NnhlsError, match=f"{re.escape(str(path))} has no result row"):
        read(vivado)


def test_reads_the_hls_project_folder_itself_and_without_build_script(vivado):
    expected = read(vivado)
    assert read(vivado / "myproject_prj") == expected
    (vivado / "build_prj.tcl").unlink()
    # Without the script the backend comes from the report's DSP48E spelling.
    assert read(vivado) == expected
