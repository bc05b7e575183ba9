"""The shipped recurrent classifiers in every backend x strategy x io type: the same bits in every
cell and from the emulator, and the framework's accuracy within one point."""

import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

from tests.keras_models import same_bits_in_every_cell

import numpy as np
import pytest

from nnhls.examples import SEQUENCE_GRU, SEQUENCE_LSTM, sequence_task

pytest.importorskip("tf_keras")


@pytest.mark.parametrize("path", [SEQUENCE_LSTM, SEQUENCE_GRU], ids=["lstm", "two_grus"])
def test_keras_recurrent_classifier_in_every_cell_at_keras_accuracy(tmp_path, path):
    from nnhls.frontends.keras import load_keras_file

    model = load_keras_file(path)
    X, y = sequence_task(1000, seed=2)
    framework = (model.predict(X, verbose=0).argmax(axis=1) == y).mean()
    ours = same_bits_in_every_cell(model, X, tmp_path, path.stem, reuse_factor=4)
    assert abs((ours.argmax(axis=1) == y).mean() - framework) <= 0.01
