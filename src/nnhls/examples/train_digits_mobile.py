"""Train the example QKeras mobile-style CNN on scikit-learn's digits and save it as digits_mobile.h5.

A QConv2D stem, a depthwise QDepthwiseConv2D and a pointwise (1x1) QConv2D, max pooling, a
QSeparableConv2D, an UpSampling2D back to 8x8, global average pooling, a QDense and a softmax:
the convolutions of mobile networks and the upsampling of decoders.

Run: TF_USE_LEGACY_KERAS=1 python -m nnhls.examples.train_digits_mobile
"""

import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")  # QKeras builds tf.keras models

import tensorflow as tf  # noqa: E402
from qkeras import QActivation, QConv2D, QDense, QDepthwiseConv2D, QSeparableConv2D, quantized_bits  # noqa: E402

from nnhls.examples import DIGITS_MOBILE  # noqa: E402
from nnhls.examples.train_digits_qcnn import train_and_save  # noqa: E402

EPOCHS = 60


def build():
    weights = quantized_bits(6, 0, alpha=1)
    biases = dict(bias_quantizer=quantized_bits(6, 0, alpha=1))
    layers = tf.keras.layers

    def relu(name):
        return QActivation("quantized_relu(6, 2)", name=name)

    pixels = tf.keras.Input((8, 8, 1), name="pixels")
    x = relu("relu_stem")(QConv2D(8, 3, padding="same", kernel_quantizer=weights, name="stem", **biases)(pixels))
    x = relu("relu_dw")(QDepthwiseConv2D(3, padding="same", depth_multiplier=2, depthwise_quantizer=weights,
                                         name="depthwise", **biases)(x))  # 8x8x16
    x = relu("relu_pw")(QConv2D(16, 1, kernel_quantizer=weights, name="pointwise", **biases)(x))
    x = layers.MaxPooling2D(2, name="pool")(x)  # 4x4x16
    x = relu("relu_sep")(QSeparableConv2D(16, 3, padding="same", depthwise_quantizer=weights,
                                          pointwise_quantizer=weights, name="separable", **biases)(x))
    x = layers.UpSampling2D(2, name="upsample")(x)  # 8x8x16
    x = layers.GlobalAveragePooling2D(name="average")(x)  # 64 pixels: an exact average
    x = QDense(10, kernel_quantizer=weights, name="logits", **biases)(x)
    return tf.keras.Model(pixels, layers.Activation("softmax", name="softmax")(x), name="digits_mobile")


def main():
    train_and_save(build, DIGITS_MOBILE, EPOCHS)


if __name__ == "__main__":
    main()
