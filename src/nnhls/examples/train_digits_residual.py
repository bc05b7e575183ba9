"""Train the example QKeras residual CNN on scikit-learn's digits and save it as digits_residual.h5.

A residual block (an Add around two QConv2D layers), then two branches (a 1x1 and a 3x3
QConv2D) joined by a Concatenate, max pooling, a QDense and a softmax: the branching shapes
that io_stream FIFOs must be sized for.

Run: TF_USE_LEGACY_KERAS=1 python -m nnhls.examples.train_digits_residual
"""

import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")  # QKeras builds tf.keras models

import tensorflow as tf  # noqa: E402
from qkeras import QActivation, QConv2D, QDense, quantized_bits  # noqa: E402

from nnhls.examples import DIGITS_RESIDUAL  # noqa: E402
from nnhls.examples.train_digits_qcnn import train_and_save  # noqa: E402

EPOCHS = 40


def build():
    quantizer = dict(kernel_quantizer=quantized_bits(6, 0, alpha=1), bias_quantizer=quantized_bits(6, 0, alpha=1))
    layers = tf.keras.layers

    def conv(filters, size, name):
        return QConv2D(filters, size, padding="same", name=name, **quantizer)

    def relu(name):
        return QActivation("quantized_relu(6, 2)", name=name)

    pixels = tf.keras.Input((8, 8, 1), name="pixels")
    x = relu("relu1")(conv(8, 3, "conv1")(pixels))
    y = relu("relu2")(conv(8, 3, "conv2")(x))
    y = conv(8, 3, "conv3")(y)
    x = relu("relu3")(layers.Add(name="add")([x, y]))
    x = layers.MaxPooling2D(2, name="pool1")(x)  # 4x4x8
    narrow = relu("relu_a")(conv(8, 1, "conv_a")(x))
    wide = relu("relu_b")(conv(8, 3, "conv_b")(x))
    x = layers.Concatenate(name="concatenate")([narrow, wide])  # 4x4x16
    x = layers.MaxPooling2D(2, name="pool2")(x)  # 2x2x16
    x = layers.Flatten(name="flatten")(x)
    x = QDense(10, name="logits", **quantizer)(x)
    return tf.keras.Model(pixels, layers.Activation("softmax", name="softmax")(x), name="digits_residual")


def main():
    train_and_save(build, DIGITS_RESIDUAL, EPOCHS)


if __name__ == "__main__":
    main()
