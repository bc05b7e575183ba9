"""Train the example Keras 3 functional CNN on scikit-learn's digits and save it as digits_keras3.keras.

A float network of the shape layers and normalizations: a Conv2D and a DepthwiseConv2D joined by
an Add, Cropping2D, max pooling, Reshape and Permute (rows become channels), a Dense on that 2-D
tensor, LayerNormalization, a Concatenate of the normalized and the raw features, Flatten, Dense
and softmax.

Run: python -m nnhls.examples.train_digits_keras3
"""

import keras  # Keras 3 (whatever TF_USE_LEGACY_KERAS says: it only changes what tf.keras is)

from nnhls.examples import DIGITS_KERAS3, load_digits_images

EPOCHS = 60
BATCH_SIZE = 32


def build():
    layers = keras.layers
    pixels = keras.Input((8, 8, 1), name="pixels")
    a = layers.Conv2D(8, 3, padding="same", activation="relu", name="conv")(pixels)
    b = layers.DepthwiseConv2D(3, padding="same", name="depthwise")(a)
    x = layers.Activation("relu", name="relu")(layers.Add(name="add")([a, b]))  # 8x8x8
    x = layers.Cropping2D(1, name="crop")(x)  # 6x6x8
    x = layers.MaxPooling2D(2, name="pool")(x)  # 3x3x8
    x = layers.Reshape((9, 8), name="reshape")(x)  # 9 pixels x 8 channels
    x = layers.Permute((2, 1), name="permute")(x)  # 8 channels x 9 pixels
    x = layers.Dense(12, activation="relu", name="per_channel")(x)  # a Dense on each of the 8 rows
    normalized = layers.LayerNormalization(name="norm")(x)
    x = layers.Concatenate(name="concatenate")([normalized, x])  # 8 x 24
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dense(10, name="logits")(x)
    return keras.Model(pixels, layers.Activation("softmax", name="softmax")(x), name="digits_keras3")


def main():
    keras.utils.set_random_seed(1)
    X_train, y_train, X_test, y_test = load_digits_images()
    model = build()
    steps = EPOCHS * -(-len(X_train) // BATCH_SIZE)
    learning_rate = keras.optimizers.schedules.CosineDecay(0.005, steps)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    model.fit(X_train, y_train, epochs=EPOCHS, batch_size=BATCH_SIZE, verbose=0)
    accuracy = model.evaluate(X_test, y_test, verbose=0)[1]
    model.compile()  # saved without the optimizer's state
    model.save(DIGITS_KERAS3)
    print(f"saved {DIGITS_KERAS3} ({model.count_params()} parameters, test accuracy {accuracy:.3f})")


if __name__ == "__main__":
    main()
