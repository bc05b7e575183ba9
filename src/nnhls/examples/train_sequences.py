"""Train the example recurrent classifiers on sequence_task() and save them: a Keras LSTM(16)
(sequence_lstm.h5), two GRU layers (sequence_gru.h5) and a QKeras QLSTM(16) (sequence_qlstm.h5).

Run: TF_USE_LEGACY_KERAS=1 python -m nnhls.examples.train_sequences
"""

import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")  # the models are tf.keras (Keras 2) models

import tensorflow as tf  # noqa: E402
from qkeras import QDense, QLSTM, quantized_bits  # noqa: E402

from nnhls.examples import SEQUENCE_GRU, SEQUENCE_LSTM, SEQUENCE_QLSTM, sequence_task  # noqa: E402


def build_lstm():
    return tf.keras.Sequential([
        tf.keras.layers.InputLayer(input_shape=(20, 2), name="sequence"),
        tf.keras.layers.LSTM(16, name="lstm"),
        tf.keras.layers.Dense(3, name="logits"),
        tf.keras.layers.Activation("softmax", name="softmax"),
    ], name="sequence_lstm")


def build_gru():
    return tf.keras.Sequential([
        tf.keras.layers.InputLayer(input_shape=(20, 2), name="sequence"),
        tf.keras.layers.GRU(12, return_sequences=True, name="gru1"),
        tf.keras.layers.GRU(8, name="gru2"),
        tf.keras.layers.Dense(3, name="logits"),
        tf.keras.layers.Activation("softmax", name="softmax"),
    ], name="sequence_gru")


def build_qlstm():
    """8-bit kernels, biases and state, QKeras's quantized tanh and hard sigmoid; the logits are
    the output (a softmax would only rank them)."""
    def bits():
        return quantized_bits(8, 0, alpha=1)
    return tf.keras.Sequential([
        tf.keras.layers.InputLayer(input_shape=(20, 2), name="sequence"),
        QLSTM(16, kernel_quantizer=bits(), recurrent_quantizer=bits(), bias_quantizer=bits(), state_quantizer=bits(),
              activation="quantized_tanh(8)", recurrent_activation="hard_sigmoid", name="qlstm"),
        QDense(3, kernel_quantizer=bits(), bias_quantizer=bits(), name="logits"),
    ], name="sequence_qlstm")


def train(model, path, from_logits=False, epochs=15):
    X_train, y_train = sequence_task(3000, seed=1)
    X_test, y_test = sequence_task(1000, seed=2)
    loss = tf.keras.losses.SparseCategoricalCrossentropy(from_logits=from_logits)
    model.compile(optimizer=tf.keras.optimizers.Adam(0.01), loss=loss, metrics=["accuracy"])
    model.fit(X_train, y_train, epochs=epochs, batch_size=64, verbose=0)
    accuracy = model.evaluate(X_test, y_test, verbose=0)[1]
    model.save(path, include_optimizer=False)
    print(f"saved {path} (test accuracy {accuracy:.3f})")


def main():
    tf.keras.utils.set_random_seed(1)
    train(build_lstm(), SEQUENCE_LSTM)
    train(build_gru(), SEQUENCE_GRU)
    train(build_qlstm(), SEQUENCE_QLSTM, from_logits=True)


if __name__ == "__main__":
    main()
