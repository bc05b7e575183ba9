"""Train the four PyTorch example models of torch_digits.py on scikit-learn's digits and save their
state_dicts next to this file (digits_torch_cnn.pt, digits_torch_mlp.pt, digits_brevitas_mlp.pt,
digits_brevitas_cnn.pt).

Each model is trained with Adam and a cosine-decaying learning rate from a fixed seed, with
PyTorch's deterministic algorithms, then evaluated on the test split in eval mode. For the
Brevitas models the learned activation scales are printed too: Brevitas collects statistics for
its first steps, then learns the scale as a parameter, so it ends up an arbitrary float.

Run: python -m nnhls.examples.train_digits_torch
"""

import time

import numpy as np
import torch
from torch import nn

from nnhls.examples import load_digits_data
from nnhls.examples.torch_digits import MODEL_NAMES, build, weights_path

BATCH_SIZE = 32
SEED = 1
# name -> (epochs, peak learning rate). Brevitas's activation quantizers collect statistics for their
# first 300 training steps (about 7 epochs here) before their scales become learned parameters, so
# the quantized models get enough epochs after that for the scales to settle.
TRAINING = {
    "cnn": (12, 0.01),
    "mlp": (30, 0.01),
    "brevitas_mlp": (16, 0.01),
    "brevitas_cnn": (12, 0.01),
}


def _inputs(name: str, X: np.ndarray) -> torch.Tensor:
    """The pixels as the model expects them: NCHW images for the CNNs, 64-vectors for the MLPs."""
    x = torch.tensor(X, dtype=torch.float32)
    return x.reshape(-1, 1, 8, 8) if name.endswith("cnn") else x


def train(name: str, model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> None:
    epochs, learning_rate = TRAINING[name]
    steps_per_epoch = -(-len(x) // BATCH_SIZE)
    optimizer = torch.optim.Adam(model.parameters(), lr=learning_rate)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs * steps_per_epoch)
    shuffler = torch.Generator().manual_seed(SEED)
    loss_function = nn.CrossEntropyLoss()
    model.train()
    for _ in range(epochs):
        order = torch.randperm(len(x), generator=shuffler)
        for start in range(0, len(x), BATCH_SIZE):
            batch = order[start:start + BATCH_SIZE]
            optimizer.zero_grad()
            loss_function(model(x[batch]), y[batch]).backward()
            optimizer.step()
            schedule.step()


@torch.no_grad()
def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    model.eval()
    return (model(x).argmax(dim=1) == y).float().mean().item()


def parameter_count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def activation_scales(model: nn.Module) -> dict:
    """{module name: scale} of the Brevitas activation quantizers (QuantIdentity, QuantReLU)."""
    from brevitas.nn import QuantIdentity, QuantReLU

    model.eval()
    with torch.no_grad():
        return {name: module.act_quant.scale().item() for name, module in model.named_modules()
                if isinstance(module, (QuantIdentity, QuantReLU))}


def train_and_save(name: str, data) -> None:
    X_train, y_train, X_test, y_test = data
    x_train, x_test = _inputs(name, X_train), _inputs(name, X_test)
    y_train, y_test = torch.tensor(y_train), torch.tensor(y_test)
    torch.manual_seed(SEED)
    model = build(name)
    started = time.perf_counter()
    train(name, model, x_train, y_train)
    seconds = time.perf_counter() - started
    test_accuracy = accuracy(model, x_test, y_test)
    path = weights_path(name)
    torch.save(model.state_dict(), path)
    print(f"saved {path.name}: {parameter_count(model)} parameters, test accuracy {test_accuracy:.4f}, "
          f"trained in {seconds:.1f} s")
    if name.startswith("brevitas"):
        for module_name, scale in activation_scales(model).items():
            print(f"    {module_name} scale {scale!r}")


def main():
    torch.use_deterministic_algorithms(True)
    # one thread: these models are too small to gain from more (the CNN trains 4x slower on two), and
    # the floating-point sums then do not depend on the machine's core count
    torch.set_num_threads(1)
    data = load_digits_data()
    for name in MODEL_NAMES:
        train_and_save(name, data)


if __name__ == "__main__":
    main()
