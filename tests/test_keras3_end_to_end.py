"""The shipped float Keras 3 functional CNN (Conv2D, DepthwiseConv2D, Add, Cropping2D, Reshape,
Permute, a Dense on a 2-D tensor, LayerNormalization, Concatenate) in every backend x strategy x
io type: the same bits everywhere, equal to the emulator, within a point of Keras's accuracy."""

from tests.keras_models import same_bits_in_every_cell  # sets TF_USE_LEGACY_KERAS before TensorFlow loads

import numpy as np
import pytest

from nnhls.examples import DIGITS_KERAS3, load_digits_images

keras = pytest.importorskip("keras")


def test_eight_cells_give_the_same_bits_at_keras_accuracy(tmp_path):
    model = keras.saving.load_model(DIGITS_KERAS3, compile=False)
    _, _, X, y = load_digits_images()
    keras_accuracy = (np.asarray(model.predict(X, verbose=0)).argmax(axis=1) == y).mean()
    reference = same_bits_in_every_cell(model, X, tmp_path, "keras3", reuse_factor=4,
                                        default_precision="ap_fixed<18,8,AP_RND_CONV,AP_SAT>")
    accuracy = (reference.argmax(axis=1) == y).mean()
    assert abs(accuracy - keras_accuracy) <= 0.01
