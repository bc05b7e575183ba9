"""Train the example QKeras CNN on scikit-learn's digits and save it as digits_qcnn.h5.

Run: TF_USE_LEGACY_KERAS=1 python -m nnhls.examples.train_digits_qcnn
"""

import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")  # QKeras builds tf.keras models

import tensorflow as tf  # noqa: E402
from qkeras import QActivation, QConv2DBatchnorm, QDense, quantized_bits  # noqa: E402

from nnhls.examples import DIGITS_QCNN, load_digits_images  # noqa: E402

EPOCHS = 60
BATCH_SIZE = 32
# Training steps after which the conv layers' batch-norm statistics stop moving, so the rest of
# training already sees the folded, quantized kernels the saved model will use.
EMA_FREEZE_DELAY = 1500


def build():
    quantizer = dict(kernel_quantizer=quantized_bits(6, 0, alpha=1), bias_quantizer=quantized_bits(6, 0, alpha=1))
    blocks = []
    for i, filters in enumerate([16, 24, 32], start=1):  # 8x8 -> 4x4 -> 2x2 -> 1x1
        blocks += [
            QConv2DBatchnorm(filters, 3, padding="same", ema_freeze_delay=EMA_FREEZE_DELAY, name=f"conv{i}",
                             **quantizer),
            QActivation("quantized_relu(6)", name=f"relu{i}"),
            tf.keras.layers.MaxPooling2D(2, name=f"pool{i}"),
        ]
    return tf.keras.Sequential([
        tf.keras.layers.InputLayer(input_shape=(8, 8, 1), name="pixels"),
        *blocks,
        tf.keras.layers.Flatten(name="flatten"),
        QDense(16, name="fc1", **quantizer),
        tf.keras.layers.BatchNormalization(name="bn_fc1"),
        QActivation("quantized_relu(6)", name="relu_fc1"),
        QDense(10, name="logits", **quantizer),
        tf.keras.layers.Activation("softmax", name="softmax"),
    ], name="digits_qcnn")


def train_and_save(build_model, path, epochs: int, batch_size: int = BATCH_SIZE) -> None:
    """Train the model `build_model()` makes on the digits' training split and save it to `path`."""
    tf.keras.utils.set_random_seed(1)
    X_train, y_train, X_test, y_test = load_digits_images()
    model = build_model()
    steps = epochs * -(-len(X_train) // batch_size)
    # a decaying rate settles the quantized weights; with a constant one the result depends on the seed
    learning_rate = tf.keras.optimizers.schedules.CosineDecay(0.005, steps)
    model.compile(optimizer=tf.keras.optimizers.Adam(learning_rate), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    model.fit(X_train, y_train, epochs=epochs, batch_size=batch_size, verbose=0)
    accuracy = model.evaluate(X_test, y_test, verbose=0)[1]
    model.save(path, include_optimizer=False)
    print(f"saved {path} ({model.count_params()} parameters, test accuracy {accuracy:.3f})")


def main():
    train_and_save(build, DIGITS_QCNN, EPOCHS)


if __name__ == "__main__":
    main()
