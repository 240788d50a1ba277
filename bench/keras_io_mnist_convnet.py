"""keras.io's "Simple MNIST convnet" (F. Chollet, keras.io/examples/vision/mnist_convnet), as published.

The peer a user would copy instead of ``experiments/mnist_fast.py`` (issue 28, 1): Conv 32 3x3
ReLU, max pool 2, Conv 64 3x3 ReLU, max pool 2, flatten, dropout 0.5, Dense 10 softmax; Adam,
categorical cross-entropy on one-hot labels, batch 128, 15 epochs, ``validation_split=0.1``. The
one change: the arrays come from ``ARRAYS`` (an .npz with x_train, y_train, x_test, y_test, the
uint8 images and labels ``keras.datasets.mnist.load_data()`` returns) instead of the download,
so both sides of bench/mnist_fast_vs_keras_io.py train on the same images. Prints one JSON line:
the test accuracy, the test loss and the seconds ``fit`` took.

    python bench/keras_io_mnist_convnet.py ARRAYS.npz [--seed S] [--epochs 15]
"""
import argparse
import json
import time

import keras
import numpy as np
from keras import layers

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("arrays", help=".npz with x_train, y_train, x_test, y_test")
parser.add_argument("--seed", type=int, default=0, help="keras.utils.set_random_seed (not in "
                    "the published example, which is unseeded)")
parser.add_argument("--epochs", type=int, default=15)
args = parser.parse_args()
keras.utils.set_random_seed(args.seed)

# Model / data parameters
num_classes = 10
input_shape = (28, 28, 1)

# Load the data and split it between train and test sets
with np.load(args.arrays) as arrays:
    (x_train, y_train), (x_test, y_test) = ((arrays["x_train"], arrays["y_train"]),
                                            (arrays["x_test"], arrays["y_test"]))

# Scale images to the [0, 1] range
x_train = x_train.astype("float32") / 255
x_test = x_test.astype("float32") / 255
# Make sure images have shape (28, 28, 1)
x_train = np.expand_dims(x_train, -1)
x_test = np.expand_dims(x_test, -1)

# convert class vectors to binary class matrices
y_train = keras.utils.to_categorical(y_train, num_classes)
y_test = keras.utils.to_categorical(y_test, num_classes)

model = keras.Sequential(
    [
        keras.Input(shape=input_shape),
        layers.Conv2D(32, kernel_size=(3, 3), activation="relu"),
        layers.MaxPooling2D(pool_size=(2, 2)),
        layers.Conv2D(64, kernel_size=(3, 3), activation="relu"),
        layers.MaxPooling2D(pool_size=(2, 2)),
        layers.Flatten(),
        layers.Dropout(0.5),
        layers.Dense(num_classes, activation="softmax"),
    ]
)

batch_size = 128
epochs = args.epochs

model.compile(loss="categorical_crossentropy", optimizer="adam", metrics=["accuracy"])

started = time.perf_counter()
model.fit(x_train, y_train, batch_size=batch_size, epochs=epochs, validation_split=0.1, verbose=0)
fit_s = time.perf_counter() - started

score = model.evaluate(x_test, y_test, verbose=0)
print(json.dumps({"accuracy": float(score[1]), "loss": float(score[0]), "fit_s": fit_s}))
