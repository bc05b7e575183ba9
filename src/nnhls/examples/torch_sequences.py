"""A PyTorch LSTM classifier of nnhls.examples.sequence_task()'s sequences, shipped with nnhls.

Its trained state_dict sits next to this file; train_sequences_torch.py makes it. It takes the
sequences batch first, (batch, 20 steps, 2 features), as sequence_task() gives them.

    from nnhls.examples.torch_sequences import load
    model = load()
"""

from pathlib import Path

import torch
from torch import nn

from nnhls.errors import NnhlsError

__all__ = ["SEQUENCE_TORCH_LSTM", "SequenceLSTM", "load"]

SEQUENCE_TORCH_LSTM = Path(__file__).resolve().parent / "sequence_torch_lstm.pt"


class SequenceLSTM(nn.Module):
    """nn.LSTM(2, 16), batch first; a Linear on its last step's output gives the logits."""

    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(2, 16, batch_first=True)
        self.fc = nn.Linear(16, 3)

    def forward(self, x):
        out, _ = self.lstm(x)
        return self.fc(out[:, -1, :])


def load() -> nn.Module:
    """The trained example model, in eval mode."""
    if not SEQUENCE_TORCH_LSTM.exists():
        raise NnhlsError(f"the weights of the example PyTorch LSTM are missing ({SEQUENCE_TORCH_LSTM}): "
                         "run python -m nnhls.examples.train_sequences_torch")
    model = SequenceLSTM()
    model.load_state_dict(torch.load(SEQUENCE_TORCH_LSTM, weights_only=True))
    return model.eval()
