"""Export the shipped PyTorch digits models to ONNX and QONNX, next to this file.

    python -m nnhls.examples.export_digits_onnx

- digits_onnx_cnn.onnx: the float CNN (torch_digits 'cnn') by torch.onnx.export, with a dynamic
  batch axis, in one file;
- digits_qonnx_mlp.onnx and digits_qonnx_cnn.onnx: the Brevitas MLP and CNN by Brevitas's QONNX
  export (brevitas.export.export_qonnx), for a batch of one.

Needs torch, Brevitas, onnx, onnxscript (torch's exporter) and onnxoptimizer (Brevitas's).
"""

from pathlib import Path

import onnx
import torch

from nnhls.examples import DIGITS_ONNX_CNN, DIGITS_QONNX_CNN, DIGITS_QONNX_MLP
from nnhls.examples.torch_digits import load


def export_float_cnn(path: Path) -> None:
    model = load("cnn")
    batch = torch.export.Dim("batch")
    program = torch.onnx.export(model, (torch.zeros(1, 1, 8, 8),), dynamo=True, input_names=["image"],
                                output_names=["logits"], dynamic_shapes=({0: batch},))
    onnx.save(program.model_proto, path)


def export_brevitas(name: str, input_shape: tuple[int, ...], path: Path) -> None:
    from brevitas.export import export_qonnx

    export_qonnx(load(name), torch.zeros(1, *input_shape), export_path=str(path))
    # torch's exporter leaves its weights file beside the model, which holds them itself: one file.
    onnx.save(onnx.load(path), path)
    path.with_name(path.name + ".data").unlink(missing_ok=True)


def main() -> None:
    export_float_cnn(DIGITS_ONNX_CNN)
    export_brevitas("brevitas_mlp", (64,), DIGITS_QONNX_MLP)
    export_brevitas("brevitas_cnn", (1, 8, 8), DIGITS_QONNX_CNN)
    for path in (DIGITS_ONNX_CNN, DIGITS_QONNX_MLP, DIGITS_QONNX_CNN):
        onnx.checker.check_model(onnx.load(path))
        print(f"wrote {path} ({path.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
