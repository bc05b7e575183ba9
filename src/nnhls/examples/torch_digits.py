"""Small PyTorch and Brevitas models trained on scikit-learn's digits, shipped with nnhls.

The modules are written the way PyTorch users usually write them (nn modules mixed with
functional calls) so that they exercise the torch.fx frontend on ordinary code. Their trained
state_dicts sit next to this file; train_digits_torch.py makes them. The CNNs take images in
PyTorch's NCHW layout, `X.reshape(-1, 1, 8, 8)` of load_digits_data()'s X; the MLPs take X as is.

This module imports torch (and Brevitas, for the quantized models), so nnhls.examples does not
import it: only users who have torch do.

    from nnhls.examples.torch_digits import load
    model = load("brevitas_mlp")
"""

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from nnhls.errors import NnhlsError

__all__ = [
    "DIGITS_BREVITAS_CNN", "DIGITS_BREVITAS_MLP", "DIGITS_TORCH_CNN", "DIGITS_TORCH_MLP", "MODEL_NAMES",
    "DigitsBrevitasCNN", "DigitsBrevitasMLP", "DigitsCNN", "DigitsMLP", "build", "load", "weights_path",
]

EXAMPLES_DIR = Path(__file__).resolve().parent
DIGITS_TORCH_CNN = EXAMPLES_DIR / "digits_torch_cnn.pt"
DIGITS_TORCH_MLP = EXAMPLES_DIR / "digits_torch_mlp.pt"
DIGITS_BREVITAS_MLP = EXAMPLES_DIR / "digits_brevitas_mlp.pt"
DIGITS_BREVITAS_CNN = EXAMPLES_DIR / "digits_brevitas_cnn.pt"


class DigitsCNN(nn.Module):
    """A float CNN on (1, 8, 8) images: a conv+batchnorm stem, a residual block (x + f(x) around
    two convolutions), two branches (1x1 and 3x3 convolutions) joined by torch.cat along the
    channels, max pooling, flatten and two Linear layers. Returns logits."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 8, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(8)
        self.relu1 = nn.ReLU()
        # residual block: conv2 -> bn2 -> relu -> conv3 -> bn3, added to its input
        self.conv2 = nn.Conv2d(8, 8, 3, padding=1)
        self.bn2 = nn.BatchNorm2d(8)
        self.conv3 = nn.Conv2d(8, 8, 3, padding=1)
        self.bn3 = nn.BatchNorm2d(8)
        self.pool1 = nn.MaxPool2d(2)  # 8x8 -> 4x4
        self.branch_narrow = nn.Conv2d(8, 8, 1)
        self.branch_wide = nn.Conv2d(8, 8, 3, padding=1)
        self.pool2 = nn.MaxPool2d(2)  # 4x4 -> 2x2
        self.fc1 = nn.Linear(16 * 2 * 2, 24)
        self.fc2 = nn.Linear(24, 10)

    def forward(self, x):
        x = self.relu1(self.bn1(self.conv1(x)))
        y = F.relu(self.bn2(self.conv2(x)))
        y = self.bn3(self.conv3(y))
        x = F.relu(x + y)
        x = self.pool1(x)
        narrow = F.relu(self.branch_narrow(x))
        wide = F.relu(self.branch_wide(x))
        x = torch.cat([narrow, wide], dim=1)  # 16 channels
        x = self.pool2(x)
        x = torch.flatten(x, 1)
        x = F.relu(self.fc1(x))
        return self.fc2(x)


class DigitsMLP(nn.Module):
    """A float MLP 64-32-32-10 with ReLU, on the 64 pixels of a digit. Returns logits."""

    def __init__(self):
        super().__init__()
        self.layers = nn.Sequential(
            nn.Linear(64, 32), nn.ReLU(),
            nn.Linear(32, 32), nn.ReLU(),
            nn.Linear(32, 10),
        )

    def forward(self, x):
        return self.layers(x)


class DigitsBrevitasMLP(nn.Module):
    """A Brevitas MLP 64-32-32-10: an 8-bit QuantIdentity on the input, 6-bit weights, 6-bit
    QuantReLU activations. Brevitas's default quantizers otherwise, so the activation and weight
    scales are floats (learned or taken from the weights), not powers of two, and the biases are
    not quantized. Returns logits."""

    def __init__(self):
        super().__init__()
        from brevitas import nn as qnn  # imported here so the float models need only torch

        self.quant_input = qnn.QuantIdentity(bit_width=8)
        self.fc1 = qnn.QuantLinear(64, 32, bias=True, weight_bit_width=6)
        self.relu1 = qnn.QuantReLU(bit_width=6)
        self.fc2 = qnn.QuantLinear(32, 32, bias=True, weight_bit_width=6)
        self.relu2 = qnn.QuantReLU(bit_width=6)
        self.fc3 = qnn.QuantLinear(32, 10, bias=True, weight_bit_width=6)

    def forward(self, x):
        x = self.quant_input(x)
        x = self.relu1(self.fc1(x))
        x = self.relu2(self.fc2(x))
        return self.fc3(x)


class DigitsBrevitasCNN(nn.Module):
    """A Brevitas CNN on (1, 8, 8) images: an 8-bit QuantIdentity, two 6-bit QuantConv2d blocks
    (the second with one weight scale per output channel) each followed by a 6-bit QuantReLU and
    max pooling, a flatten and a 6-bit QuantLinear. Returns logits."""

    def __init__(self):
        super().__init__()
        from brevitas import nn as qnn
        from brevitas.quant import Int8WeightPerChannelFloat

        self.quant_input = qnn.QuantIdentity(bit_width=8)
        self.conv1 = qnn.QuantConv2d(1, 8, 3, padding=1, bias=True, weight_bit_width=6)
        self.relu1 = qnn.QuantReLU(bit_width=6)
        self.pool1 = nn.MaxPool2d(2)  # 8x8 -> 4x4
        self.conv2 = qnn.QuantConv2d(8, 16, 3, padding=1, bias=True, weight_quant=Int8WeightPerChannelFloat,
                                     weight_bit_width=6)
        self.relu2 = qnn.QuantReLU(bit_width=6)
        self.pool2 = nn.MaxPool2d(2)  # 4x4 -> 2x2
        self.flatten = nn.Flatten()
        self.fc = qnn.QuantLinear(16 * 2 * 2, 10, bias=True, weight_bit_width=6)

    def forward(self, x):
        x = self.quant_input(x)
        x = self.pool1(self.relu1(self.conv1(x)))
        x = self.pool2(self.relu2(self.conv2(x)))
        return self.fc(self.flatten(x))


# name -> (module class, weights file)
_MODELS = {
    "cnn": (DigitsCNN, DIGITS_TORCH_CNN),
    "mlp": (DigitsMLP, DIGITS_TORCH_MLP),
    "brevitas_mlp": (DigitsBrevitasMLP, DIGITS_BREVITAS_MLP),
    "brevitas_cnn": (DigitsBrevitasCNN, DIGITS_BREVITAS_CNN),
}
MODEL_NAMES = tuple(_MODELS)


def _entry(name: str):
    if name not in _MODELS:
        raise NnhlsError(f"unknown example model {name!r}: expected one of {', '.join(MODEL_NAMES)}")
    return _MODELS[name]


def build(name: str) -> nn.Module:
    """A freshly initialized (untrained) model of that name, in training mode."""
    model_class, _ = _entry(name)
    return model_class()


def weights_path(name: str) -> Path:
    """The shipped state_dict file of the model of that name."""
    return _entry(name)[1]


def load(name: str) -> nn.Module:
    """The trained example model `name` ('cnn', 'mlp', 'brevitas_mlp' or 'brevitas_cnn'), built and
    loaded from its shipped .pt file, in eval mode."""
    model = build(name)
    path = weights_path(name)
    if not path.exists():
        raise NnhlsError(f"the weights of example model {name!r} are missing ({path}): "
                         "run python -m nnhls.examples.train_digits_torch to make them")
    model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    return model.eval()
