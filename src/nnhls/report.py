"""What the HLS tool reported: the synthesis estimates and the co-simulation measurements of a
written and built project, read from the tool's own report files into a plain dictionary.

`read(project_dir)` takes the folder nnhls wrote (the one holding `build_prj.tcl`), or the HLS
project folder itself. The script opens the HLS project `<project_name>_prj` there, with one
solution, `solution1`; the tool writes its reports inside it:

    <project_name>_prj/solution1/syn/report/csynth.xml              the top function's summary
    <project_name>_prj/solution1/syn/report/<module>_csynth.xml     one per module not inlined
    <project_name>_prj/solution1/sim/report/<project_name>_cosim.rpt  C/RTL co-simulation

Vivado HLS and Vitis HLS write the same XML layout (a `profile` root with `UserAssignments`,
`PerformanceEstimates` and `AreaEstimates`) and differ in one spelling: the DSP count is
`DSP48E` in Vivado HLS and `DSP` in Vitis HLS; both become "DSP" here.

The dictionary `read` returns::

    {
      "project": "myproject",            # the top function (= project_name)
      "solution": "solution1",
      "backend": "Vivado" | "Vitis" | None,   # from build_prj.tcl, else from the report's spelling
      "tool_version": "2019.2" | None,   # ReportVersion/Version
      "part": "xcku115-flvb2104-2-i" | None,
      "clock": {"target_ns": float, "uncertainty_ns": float, "estimated_ns": float},
      "synthesis": None | {
          "file": "myproject_prj/solution1/syn/report/csynth.xml",   # relative to project_dir
          "latency_best": int, "latency_worst": int,                # clock cycles
          "interval_min": int, "interval_max": int,                 # clock cycles
          "resources": {"BRAM_18K": int, "DSP": int, "FF": int, "LUT": int, "URAM": int},
          "available": {same keys: what the part has},
          "modules": {name: {"latency_best", "latency_worst", "interval_min", "interval_max",
                             "estimated_ns", "resources"}},          # sorted by name
      },
      "cosim": None | {
          "file": "myproject_prj/solution1/sim/report/myproject_cosim.rpt",
          "language": "Verilog" | "VHDL" | None,   # the RTL that was simulated
          "status": "Pass" | "Fail" | None,        # as the tool spells it
          "simulator": "xsim" | None,
          "latency": {"min": int, "avg": int, "max": int},      # clock cycles, measured
          "interval": {"min": int, "avg": int, "max": int},
          "total_cycles": int | None,              # Vitis HLS only: total execution time
      },
    }

Every value the tool left out, or wrote as "undef", "?" or "NA", is None: a latency is
undefined, for example, when a loop has a variable bound and no trip count. "synthesis" or
"cosim" is None when that step has not run; at least one of them must exist.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

from nnhls.errors import NnhlsError
from nnhls.text import table

__all__ = ["RESOURCES", "print_report", "read", "summary"]

RESOURCES = ("BRAM_18K", "DSP", "FF", "LUT", "URAM")
# The XML element of each resource, in both tools' spellings.
_SPELLINGS = {"BRAM_18K": ("BRAM_18K",), "DSP": ("DSP", "DSP48E"), "FF": ("FF",), "LUT": ("LUT",),
              "URAM": ("URAM",)}
_UNKNOWN = {"", "undef", "?", "na", "n/a", "-"}
_NANOSECONDS = {"ps": 1e-3, "ns": 1.0, "us": 1e3}
_LANGUAGES = {"verilog": "Verilog", "vhdl": "VHDL", "systemc": "SystemC"}
_HOW_TO_SYNTHESIZE = "run synthesis first: `nnhls build -p DIR --synth` or HLSModel.build(synth=True)"


# finding the files --------------------------------------------------------------------------

def _hls_project(project_dir: Path) -> tuple[Path, str, str | None]:
    """The HLS project folder inside `project_dir`, the top function's name, and the backend
    named by build_prj.tcl (None without it)."""
    if not project_dir.is_dir():
        raise NnhlsError(f"{project_dir} is not a folder; give the folder nnhls wrote the project to "
                         "(the one holding build_prj.tcl)")
    script = project_dir / "build_prj.tcl"
    if script.is_file():
        text = script.read_text(errors="replace")
        name = re.search(r"^\s*set\s+project_name\s+\"?([^\s\"]+)\"?", text, re.MULTILINE)
        tool = re.search(r"^#\s*(Vivado|Vitis) HLS build script", text, re.MULTILINE)
        if name:
            return project_dir / f"{name.group(1)}_prj", name.group(1), tool.group(1) if tool else None
    folders = sorted(path for path in project_dir.glob("*_prj") if path.is_dir())
    if not folders and project_dir.name.endswith("_prj"):
        return project_dir, project_dir.name[:-len("_prj")], None  # given the HLS project folder itself
    if len(folders) == 1:
        return folders[0], folders[0].name[:-len("_prj")], None
    if not folders:
        raise NnhlsError(f"no HLS report in {project_dir}: it has no build_prj.tcl naming the project and no "
                         f"<project_name>_prj folder; {_HOW_TO_SYNTHESIZE.replace('DIR', str(project_dir))}")
    names = ", ".join(folder.name for folder in folders)
    raise NnhlsError(f"{project_dir} holds several HLS projects ({names}) and no build_prj.tcl saying which "
                     "one nnhls wrote; give the folder of one project")


def _solution(prj: Path, solution: str | None) -> Path:
    if solution is not None:
        return prj / solution
    candidates = sorted(path for path in prj.glob("*") if (path / "syn").is_dir() or (path / "sim").is_dir())
    if (prj / "solution1").is_dir() or len(candidates) != 1:
        return prj / "solution1"  # the solution nnhls's build script opens
    return candidates[0]


# values ---------------------------------------------------------------------------------------

def _number(text: str | None, kind):
    """`text` as an int or float; None for a missing or undefined value."""
    if text is None or text.strip().lower() in _UNKNOWN:
        return None
    for convert in ((float,) if kind is float else (int, lambda value: int(float(value)))):
        try:
            return convert(text.strip())
        except ValueError:
            pass
    return None


def _nanoseconds(value: float | None, unit: str | None) -> float | None:
    if value is None:
        return None
    return value * _NANOSECONDS.get((unit or "ns").strip().lower(), 1.0)


def _parse_xml(path: Path) -> ET.Element:
    try:
        return ET.parse(path).getroot()
    except ET.ParseError as error:
        raise NnhlsError(f"{path} is not well-formed XML ({error}); the HLS tool may have stopped while "
                         "writing it: run synthesis again") from None


def _resources(element: ET.Element | None) -> dict[str, int | None]:
    found = {}
    for key, spellings in _SPELLINGS.items():
        texts = [element.findtext(tag) for tag in spellings] if element is not None else []
        found[key] = next((_number(text, int) for text in texts if text is not None), None)
    return found


def _csynth(root: ET.Element) -> dict:
    """The fields one `*_csynth.xml` file gives (the top's or a module's)."""
    latency = root.find("PerformanceEstimates/SummaryOfOverallLatency")
    timing = root.find("PerformanceEstimates/SummaryOfTimingAnalysis")
    assignments = root.find("UserAssignments")

    def text(element, tag):
        return element.findtext(tag) if element is not None else None

    def period(element, tag):
        return _nanoseconds(_number(text(element, tag), float), text(element, "unit"))

    return {
        "top": text(assignments, "TopModelName"),
        "version": text(root.find("ReportVersion"), "Version"),
        "part": text(assignments, "Part"),
        "target_ns": period(assignments, "TargetClockPeriod"),
        "uncertainty_ns": period(assignments, "ClockUncertainty"),
        "estimated_ns": period(timing, "EstimatedClockPeriod"),
        "latency_best": _number(text(latency, "Best-caseLatency"), int),
        "latency_worst": _number(text(latency, "Worst-caseLatency"), int),
        "interval_min": _number(text(latency, "Interval-min"), int),
        "interval_max": _number(text(latency, "Interval-max"), int),
        "resources": _resources(root.find("AreaEstimates/Resources")),
        "available": _resources(root.find("AreaEstimates/AvailableResources")),
        "spelling": _spelling(root),
    }


def _spelling(root: ET.Element) -> str | None:
    """The tool a report's spelling shows: Vivado HLS counts DSP48E, Vitis HLS counts DSP and
    names its flow target."""
    if root.find("AreaEstimates/Resources/DSP48E") is not None:
        return "Vivado"
    vitis_only = ("AreaEstimates/Resources/DSP", "UserAssignments/FlowTarget")
    if any(root.find(tag) is not None for tag in vitis_only):
        return "Vitis"
    return None


def _cosim(path: Path) -> dict:
    """The co-simulation report: a header of `key : value.` lines, then a table with one row per
    RTL language (language, status, latency min/avg/max, interval min/avg/max and, from Vitis
    HLS, the total execution time); the language that was not simulated reads NA throughout."""
    text = path.read_text(errors="replace")
    simulator = re.search(r"^\s*Simulation tool\s*:\s*(.*?)\.?\s*$", text, re.MULTILINE)
    rows = []
    for line in text.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if line.lstrip().startswith("|") and len(cells) >= 8 and cells[0].lower() in _LANGUAGES:
            rows.append(cells)
    if not rows:
        raise NnhlsError(f"{path} has no result row (Verilog or VHDL) in its table; the co-simulation may "
                         "have stopped before writing it: run it again")
    ran = [row for row in rows if row[1].lower() not in _UNKNOWN]
    row = ran[0] if ran else rows[0]
    numbers = [_number(cell, int) for cell in row[2:]]
    return {
        "language": _LANGUAGES[row[0].lower()] if ran else None,
        "status": row[1] if ran else None,
        "simulator": simulator.group(1) or None if simulator else None,
        "latency": dict(zip(("min", "avg", "max"), numbers[0:3])),
        "interval": dict(zip(("min", "avg", "max"), numbers[3:6])),
        "total_cycles": numbers[6] if len(numbers) > 6 else None,
    }


# reading -------------------------------------------------------------------------------------

def read(project_dir, solution: str | None = None) -> dict:
    """The synthesis and co-simulation reports of the project nnhls wrote to `project_dir`, as a
    plain dictionary (its layout is in this module's docstring). `solution` defaults to the one
    nnhls's build script opens, solution1."""
    prj, top, backend = _hls_project(Path(project_dir))
    project_dir = prj.parent  # file names in the report are relative to it
    solution_dir = _solution(prj, solution)
    syn_dir, sim_dir = solution_dir / "syn" / "report", solution_dir / "sim" / "report"

    candidates = (syn_dir / "csynth.xml", syn_dir / f"{top}_csynth.xml")
    syn_file = next((path for path in candidates if path.is_file()), None)
    top_values = _csynth(_parse_xml(syn_file)) if syn_file else None
    if top_values and top_values["top"]:
        top = top_values["top"]
    cosim_file = sim_dir / f"{top}_cosim.rpt"
    if syn_file is None and not cosim_file.is_file():
        raise NnhlsError(
            f"no HLS report in {project_dir}: looked for {syn_dir.relative_to(project_dir)}/csynth.xml (or "
            f"{top}_csynth.xml) and {cosim_file.relative_to(project_dir)}, and neither exists; "
            + _HOW_TO_SYNTHESIZE.replace("DIR", str(project_dir)))

    report = {"project": top, "solution": solution_dir.name, "backend": backend, "tool_version": None,
              "part": None, "clock": {"target_ns": None, "uncertainty_ns": None, "estimated_ns": None},
              "synthesis": None, "cosim": None}
    if top_values:
        report.update(backend=backend or top_values["spelling"], tool_version=top_values["version"],
                      part=top_values["part"])
        report["clock"] = {key: top_values[key] for key in ("target_ns", "uncertainty_ns", "estimated_ns")}
        modules = {}
        for path in sorted(syn_dir.glob("*_csynth.xml")):
            name = path.name[:-len("_csynth.xml")]
            if name == top:
                continue
            values = _csynth(_parse_xml(path))
            modules[name] = {key: values[key] for key in ("latency_best", "latency_worst", "interval_min",
                                                          "interval_max", "estimated_ns", "resources")}
        report["synthesis"] = {"file": syn_file.relative_to(project_dir).as_posix(),
                               **{key: top_values[key] for key in ("latency_best", "latency_worst",
                                                                   "interval_min", "interval_max",
                                                                   "resources", "available")},
                               "modules": modules}
    if cosim_file.is_file():
        report["cosim"] = {"file": cosim_file.relative_to(project_dir).as_posix(), **_cosim(cosim_file)}
    return report


# printing ------------------------------------------------------------------------------------

def _show(value) -> str:
    return "-" if value is None else f"{value:g}" if isinstance(value, float) else str(value)


def _microseconds(cycles: int | None, period_ns: float | None) -> str:
    return "-" if cycles is None or period_ns is None else f"{cycles * period_ns / 1000:.3f}"


def _span(low, high) -> str:
    return _show(low) if low == high else f"{_show(low)}-{_show(high)}"


def summary(report: dict) -> str:
    """A short text of a `read` report: latency and interval (in cycles and, at the target clock
    as the tool counts them, in microseconds), resources with their share of the part, the
    modules, and the co-simulation's measurements."""
    tool = f"{report['backend']} HLS" if report.get("backend") else "HLS"
    if report.get("tool_version"):
        tool += f" {report['tool_version']}"
    heading = f"{report['project']}: {tool}, {report['solution']}"
    if report.get("part"):
        heading += f", part {report['part']}"
    parts = [heading]
    clock = report.get("clock") or {}
    if any(value is not None for value in clock.values()):
        target, estimated = _show(clock.get("target_ns")), _show(clock.get("estimated_ns"))
        parts.append(f"clock: target {target} ns, estimated {estimated} ns, "
                     f"uncertainty {_show(clock.get('uncertainty_ns'))} ns")

    synthesis = report.get("synthesis")
    if synthesis is None:
        parts.append("synthesis: no report")
    else:
        period = clock.get("target_ns")
        rows = []
        for label, low, high in (("latency", "latency_best", "latency_worst"),
                                 ("interval", "interval_min", "interval_max")):
            low, high = synthesis[low], synthesis[high]
            rows.append((label, _show(low), _show(high),
                         _microseconds(low, period), _microseconds(high, period)))
        parts.append(table(("synthesis", "min (cycles)", "max (cycles)", "min (us)", "max (us)"), rows))
        rows = []
        for key in RESOURCES:
            used, available = synthesis["resources"].get(key), synthesis["available"].get(key)
            if used is None and available is None:
                continue
            share = f"{100 * used / available:.2f}%" if used is not None and available else "-"
            rows.append((key, _show(used), _show(available), share))
        parts.append(table(("resource", "used", "available", "share"), rows))
        if synthesis["modules"]:
            rows = [(name, _span(m["latency_best"], m["latency_worst"]),
                     _span(m["interval_min"], m["interval_max"]),
                     *(_show(m["resources"].get(key)) for key in RESOURCES))
                    for name, m in synthesis["modules"].items()]
            parts.append(table(("module", "latency", "interval", *RESOURCES), rows))

    cosim = report.get("cosim")
    if cosim is None:
        parts.append("co-simulation: not run")
    elif cosim["status"] is None:
        parts.append("co-simulation: the report shows no simulated RTL")
    else:
        simulator = f", {cosim['simulator']}" if cosim.get("simulator") else ""
        text = f"co-simulation ({cosim['language']}{simulator}): {cosim['status']}"
        rows = [(kind, *(_show(cosim[kind][key]) for key in ("min", "avg", "max")))
                for kind in ("latency", "interval")]
        text += "\n" + table(("measured (cycles)", "min", "avg", "max"), rows)
        if cosim.get("total_cycles") is not None:
            text += f"\ntotal execution: {cosim['total_cycles']} cycles"
        parts.append(text)
    return "\n\n".join(parts)


def print_report(project_dir, solution: str | None = None) -> None:
    """Print the summary of the project's HLS reports."""
    print(summary(read(project_dir, solution)))
