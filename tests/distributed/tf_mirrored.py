"""One SGD step of ``model.fit`` under ``tf.distribute.MirroredStrategy`` over two logical CPU
devices for every case of ``problem.py``, and the same step without a strategy on the whole
batch; writes the loss values and the parameters after the step.

Usage: ``python tests/distributed/tf_mirrored.py OUT_DIR`` (its own process: the logical
devices must be configured before TensorFlow starts).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np
import tensorflow as tf

(_cpu,) = tf.config.list_physical_devices("CPU")
tf.config.set_logical_device_configuration(_cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
tf.config.threading.set_intra_op_parallelism_threads(1)

import keras  # noqa: E402

keras.config.set_floatx("float64")
keras.config.set_dtype_policy("float64")

import problem  # noqa: E402

import losses_tf  # noqa: E402


def model() -> keras.Model:
    kernel, bias = problem.initial_weights()
    net = keras.Sequential(
        [keras.Input((problem.SIDE, problem.SIDE, problem.FEATURES)), keras.layers.Conv2D(problem.CLASSES, 1)]
    )
    net.layers[0].set_weights([kernel.T.reshape(1, 1, problem.FEATURES, problem.CLASSES), bias])
    return net


def step(loss: keras.losses.Loss, strategy: tf.distribute.Strategy | None, *, no_ignored: bool = False) -> dict:
    features, labels = problem.data()
    if no_ignored:
        labels = np.where(labels == problem.IGNORED, 0, labels)
    features = np.moveaxis(features, 1, -1)  # channels-last
    scope = strategy.scope() if strategy is not None else tf.distribute.get_strategy().scope()
    with scope:
        net = model()
        net.compile(optimizer=keras.optimizers.SGD(problem.LEARNING_RATE), loss=loss)
    history = net.fit(features, labels, batch_size=problem.BATCH, epochs=1, shuffle=False, verbose=0)
    kernel, bias = net.layers[0].get_weights()
    return {
        "loss": float(history.history["loss"][0]),
        "weight": kernel.reshape(problem.FEATURES, problem.CLASSES).T.tolist(),
        "bias": bias.tolist(),
    }


def main(out: Path) -> None:
    mirrored = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    assert mirrored.num_replicas_in_sync == problem.REPLICAS
    for case, class_name, arguments in problem.CASES:
        for sync in (False, True):
            loss = getattr(losses_tf, class_name)(**arguments, sync=sync)
            (out / f"{case}-sync{int(sync)}-mirrored.json").write_text(json.dumps(step(loss, mirrored)))
            (out / f"{case}-sync{int(sync)}-single.json").write_text(json.dumps(step(loss, None)))
    # Keras' own per-replica rule: a plain mean trains as Keras' built-in loss does
    plain = step(losses_tf.CategoricalCrossentropyLoss(), mirrored, no_ignored=True)
    builtin = step(keras.losses.SparseCategoricalCrossentropy(from_logits=True), mirrored, no_ignored=True)
    (out / "keras_rule-ours-mirrored.json").write_text(json.dumps(plain))
    (out / "keras_rule-keras-mirrored.json").write_text(json.dumps(builtin))
    print("done")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
