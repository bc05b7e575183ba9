"""Train the example QKeras MLP on scikit-learn's digits and save it as digits_qmlp.h5.

Run: TF_USE_LEGACY_KERAS=1 python -m nnhls.examples.train_digits_qmlp
"""

import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")  # QKeras builds tf.keras models

import tensorflow as tf  # noqa: E402
from qkeras import QActivation, QDense, quantized_bits  # noqa: E402

from nnhls.examples import DIGITS_QMLP, load_digits_data  # noqa: E402


def build():
    quantizer = dict(kernel_quantizer=quantized_bits(6, 0, alpha=1), bias_quantizer=quantized_bits(6, 0, alpha=1))
    return tf.keras.Sequential([
        tf.keras.layers.InputLayer(input_shape=(64,), name="pixels"),
        QDense(32, name="fc1", **quantizer),
        QActivation("quantized_relu(6)", name="relu1"),
        QDense(32, name="fc2", **quantizer),
        QActivation("quantized_relu(6)", name="relu2"),
        QDense(10, name="logits", **quantizer),
        tf.keras.layers.Activation("softmax", name="softmax"),
    ], name="digits_qmlp")


def main():
    tf.keras.utils.set_random_seed(1)
    X_train, y_train, X_test, y_test = load_digits_data()
    model = build()
    model.compile(optimizer=tf.keras.optimizers.Adam(0.005), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    model.fit(X_train, y_train, epochs=60, batch_size=32, verbose=0)
    accuracy = model.evaluate(X_test, y_test, verbose=0)[1]
    model.save(DIGITS_QMLP, include_optimizer=False)
    print(f"saved {DIGITS_QMLP} (test accuracy {accuracy:.3f})")


if __name__ == "__main__":
    main()
