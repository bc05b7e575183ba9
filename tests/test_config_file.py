"""The YAML flow (`nnhls convert -c config.yml`) gives the Python API's project and bits, and
errors in the file name their line."""

import keras_models  # noqa: F401  (sets TF_USE_LEGACY_KERAS before TensorFlow loads)

import warnings

import numpy as np
import pytest

import nnhls
from nnhls.cli import main
from test_cli import run_installed
from nnhls.converters import convert_from_config
from nnhls.errors import NnhlsError
from nnhls.examples import DIGITS_QCNN, load_digits_images

YAML = """\
KerasH5: {model}
OutputDir: {output}
ProjectName: digits
Backend: Vitis
Part: xcvu13p-flga2577-2-e
ClockPeriod: 4
IOType: io_stream
HLSConfig:
  Model:
    Precision: ap_fixed<16,6>
    ReuseFactor: 1
    Strategy: Resource
  LayerName:
    conv2:
      ReuseFactor: 4
    softmax:
      TableSize: 512
"""


def write(tmp_path, text, name="config.yml"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_yaml_flow_writes_and_compiles_the_python_apis_project(tmp_path):
    config = write(tmp_path, YAML.format(model=DIGITS_QCNN, output="yaml_prj"))
    result = run_installed("convert", "-c", str(config), "--compile")  # the command a user types
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Vitis io_stream project written to" in result.stdout

    from nnhls.frontends.keras import load_keras_file

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = load_keras_file(DIGITS_QCNN)
    hls_config = {"Model": {"Precision": "ap_fixed<16,6>", "ReuseFactor": 1, "Strategy": "Resource"},
                  "LayerName": {"conv2": {"ReuseFactor": 4}, "softmax": {"TableSize": 512}}}
    python = nnhls.convert_from_keras_model(model, hls_config=hls_config, backend="Vitis", io_type="io_stream",
                                            output_dir=tmp_path / "python_prj", project_name="digits",
                                            part="xcvu13p-flga2577-2-e", clock_period=4)
    python.compile()
    for written in sorted((tmp_path / "python_prj").rglob("*")):
        relative = written.relative_to(tmp_path / "python_prj")
        if written.is_file() and relative.parts[0] != "build":
            assert (tmp_path / "yaml_prj" / relative).read_bytes() == written.read_bytes(), relative

    from_yaml = convert_from_config(config)
    from_yaml.compile()
    _, _, X, _ = load_digits_images()
    assert np.array_equal(from_yaml.predict(X, engine="csim"), python.predict(X, engine="csim"))
    assert np.array_equal(from_yaml.predict(X, engine="csim"), python.predict(X))


def test_errors_name_the_line(tmp_path):
    base = YAML.format(model=DIGITS_QCNN, output="prj")
    cases = [
        (base.replace("Backend: Vitis", "Backedn: Vitis"), r"config.yml:4: unknown key 'Backedn'"),
        (base.replace("Backend: Vitis", "Backend: Quartus"), r"config.yml:4: backend 'Quartus' is not supported"),
        (base.replace("IOType: io_stream", "IOType: io_serial"), r"config.yml:7: IOType 'io_serial' is not valid"),
        (base.replace("ClockPeriod: 4", "ClockPeriod: fast"), r"config.yml:6: ClockPeriod must be a positive number"),
        (base.replace("    conv2:", "    conv9:"), r"config.yml:14: unknown key 'conv9' in config\['LayerName'\]"),
        (base.replace("      ReuseFactor: 4", "      ReuseFactor: -4"),
         r"config.yml:15: config\['LayerName'\]\['conv2'\]\['ReuseFactor'\] must be a positive integer"),
        (base.replace("      TableSize: 512", "      TableSize: 500"), r"config.yml:17: .*\['TableSize'\] is 500"),
        (base.replace("KerasH5:", "KerasH5: missing.h5\n#"), r"config.yml:1: KerasH5: file .*missing.h5' does not exist"),
        (base.replace("  Model:", "  Model: [1\n"), r"config.yml:\d+: not valid YAML"),
        ("OutputDir: prj\n", r"config.yml: no model: give KerasModel or KerasH5"),
    ]
    for text, message in cases:
        with pytest.raises(NnhlsError, match=message):
            convert_from_config(write(tmp_path, text))


def test_command_line_reports_errors_without_a_traceback(tmp_path, capsys):
    config = write(tmp_path, "KerasH5: nowhere.h5\n")
    assert main(["convert", "-c", str(config)]) == 2
    assert "nnhls convert: error: " in capsys.readouterr().err
