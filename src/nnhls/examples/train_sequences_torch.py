"""Train the example PyTorch LSTM (torch_sequences.SequenceLSTM) on sequence_task() and save its
state_dict as sequence_torch_lstm.pt.

Run: python -m nnhls.examples.train_sequences_torch
"""

import torch
from torch import nn

from nnhls.examples import sequence_task
from nnhls.examples.torch_sequences import SEQUENCE_TORCH_LSTM, SequenceLSTM


def main():
    torch.manual_seed(1)
    X_train, y_train = (torch.tensor(a) for a in sequence_task(3000, seed=1))
    X_test, y_test = (torch.tensor(a) for a in sequence_task(1000, seed=2))
    model = SequenceLSTM()
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    loss_function = nn.CrossEntropyLoss()
    shuffler = torch.Generator().manual_seed(1)
    for _ in range(15):
        model.train()
        for batch in torch.randperm(len(X_train), generator=shuffler).split(64):
            optimizer.zero_grad()
            loss_function(model(X_train[batch]), y_train[batch]).backward()
            optimizer.step()
    model.eval()
    with torch.no_grad():
        accuracy = (model(X_test).argmax(dim=1) == y_test).float().mean().item()
    torch.save(model.state_dict(), SEQUENCE_TORCH_LSTM)
    print(f"saved {SEQUENCE_TORCH_LSTM} (test accuracy {accuracy:.3f})")


if __name__ == "__main__":
    main()
