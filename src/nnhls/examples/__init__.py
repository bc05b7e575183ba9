"""Small trained models shipped with nnhls, for the demonstration and for trying things out."""

from pathlib import Path

__all__ = ["DIGITS_KERAS3", "DIGITS_MOBILE", "DIGITS_ONNX_CNN", "DIGITS_QCNN", "DIGITS_QMLP", "DIGITS_QONNX_CNN",
           "DIGITS_QONNX_MLP", "DIGITS_RESIDUAL", "SEQUENCE_GRU", "SEQUENCE_LSTM", "SEQUENCE_QLSTM", "load_digits_data",
           "load_digits_images", "sequence_task"]

EXAMPLES_DIR = Path(__file__).resolve().parent
# A QKeras MLP 64-32-32-10 trained on scikit-learn's 8x8 digits (see train_digits_qmlp.py).
DIGITS_QMLP = EXAMPLES_DIR / "digits_qmlp.h5"
# A QKeras CNN, three conv+batchnorm blocks on the 8x8 digits (see train_digits_qcnn.py).
DIGITS_QCNN = EXAMPLES_DIR / "digits_qcnn.h5"
# A QKeras residual CNN: an Add around two convolutions, a Concatenate of two branches (see
# train_digits_residual.py).
DIGITS_RESIDUAL = EXAMPLES_DIR / "digits_residual.h5"
# A QKeras mobile-style CNN: depthwise, pointwise and separable convolutions, upsampling and global
# average pooling (see train_digits_mobile.py).
DIGITS_MOBILE = EXAMPLES_DIR / "digits_mobile.h5"
# A float Keras 3 functional CNN: depthwise convolution, Add, cropping, reshape, permute, a Dense on
# a 2-D tensor, layer normalization, Concatenate (see train_digits_keras3.py).
DIGITS_KERAS3 = EXAMPLES_DIR / "digits_keras3.keras"
# The PyTorch digits models (torch_digits.py) as ONNX files (see export_digits_onnx.py): the float
# CNN by torch.onnx.export, the Brevitas MLP and CNN by Brevitas's QONNX export.
DIGITS_ONNX_CNN = EXAMPLES_DIR / "digits_onnx_cnn.onnx"
DIGITS_QONNX_MLP = EXAMPLES_DIR / "digits_qonnx_mlp.onnx"
DIGITS_QONNX_CNN = EXAMPLES_DIR / "digits_qonnx_cnn.onnx"

# Recurrent classifiers of the synthetic sequences of sequence_task() (see train_sequences.py):
# a Keras LSTM(16), two GRU layers, and a QKeras QLSTM(16) of 8-bit kernels and state.
SEQUENCE_LSTM = EXAMPLES_DIR / "sequence_lstm.h5"
SEQUENCE_GRU = EXAMPLES_DIR / "sequence_gru.h5"
SEQUENCE_QLSTM = EXAMPLES_DIR / "sequence_qlstm.h5"


def sequence_task(n: int, seed: int = 0):
    """A synthetic sequence classification: (X, y) with X of shape (n, 20, 2) and y in 0..2.

    Feature 0 is a noisy sine of 1, 2 or 3 periods over the 20 steps (the class), of random phase
    and amplitude; feature 1 is noise. Values lie on the 2**-5 grid within [-4, 4), so that an
    ap_fixed<16,6> input holds them exactly."""
    import numpy as np

    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    t = np.arange(20) / 20
    phase = rng.uniform(0, 2 * np.pi, (n, 1))
    amplitude = rng.uniform(0.3, 1.2, (n, 1))
    signal = amplitude * np.sin(2 * np.pi * (y[:, None] + 1) * t + phase) + rng.normal(0, 0.8, (n, 20))
    X = np.stack([signal, rng.normal(0, 0.5, (n, 20))], axis=-1)
    return np.clip(np.round(X * 32) / 32, -4, 4 - 1 / 32).astype(np.float32), y


def load_digits_data():
    """scikit-learn's bundled digits as (X_train, y_train, X_test, y_test): pixels scaled to
    [0, 1) on the ap_ufixed<8,0> grid, the same split the example model was trained with."""
    import numpy as np
    from sklearn.datasets import load_digits

    digits = load_digits()
    X = np.floor(digits.data / 16.0 * 255) / 256  # 0..16 -> multiples of 1/256 below 1
    y = digits.target
    order = np.random.default_rng(0).permutation(len(X))
    X, y = X[order], y[order]
    return X[:1400], y[:1400], X[1400:], y[1400:]


def load_digits_images():
    """load_digits_data() with each X reshaped to (n, 8, 8, 1) images, for the example CNN."""
    X_train, y_train, X_test, y_test = load_digits_data()
    return X_train.reshape(-1, 8, 8, 1), y_train, X_test.reshape(-1, 8, 8, 1), y_test
