"""Train the example recurrent classifiers on sequence_task() and save them: a Keras LSTM(16)
(sequence_lstm.h5) and two GRU layers (sequence_gru.h5).

Run: TF_USE_LEGACY_KERAS=1 python -m nnhls.examples.train_sequences
"""

import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")  # the models are tf.keras (Keras 2) models

import tensorflow as tf  # noqa: E402

from nnhls.examples import SEQUENCE_GRU, SEQUENCE_LSTM, sequence_task  # noqa: E402


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


def train(model, path):
    X_train, y_train = sequence_task(3000, seed=1)
    X_test, y_test = sequence_task(1000, seed=2)
    model.compile(optimizer=tf.keras.optimizers.Adam(0.01), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    model.fit(X_train, y_train, epochs=15, batch_size=64, verbose=0)
    accuracy = model.evaluate(X_test, y_test, verbose=0)[1]
    model.save(path, include_optimizer=False)
    print(f"saved {path} (test accuracy {accuracy:.3f})")


def main():
    tf.keras.utils.set_random_seed(1)
    train(build_lstm(), SEQUENCE_LSTM)
    train(build_gru(), SEQUENCE_GRU)


if __name__ == "__main__":
    main()
