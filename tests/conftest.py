"""Test session setup: torch is imported before TensorFlow, each framework
gets one thread (the CI machine has two cores), seeds are fixed, and
TensorFlow's C++ logging is kept out of the output."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np
import pytest
import torch

torch.set_num_threads(1)
torch.manual_seed(0)

import tensorflow as tf  # noqa: E402

tf.config.threading.set_intra_op_parallelism_threads(1)
tf.config.threading.set_inter_op_parallelism_threads(1)
tf.random.set_seed(0)

import losses_tf  # noqa: E402, F401
import losses_torch  # noqa: E402, F401
from spec import parity  # noqa: E402


@pytest.fixture(scope="session")
def frameworks():
    return parity.load_frameworks()


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


@pytest.fixture
def float64_keras():
    """Keras in float64 for one test (twin training at relative 1e-9); the
    global dtype policy is fixed at first use, so set it along with floatx."""
    import keras

    floatx, policy = keras.config.floatx(), keras.config.dtype_policy()
    keras.config.set_floatx("float64")
    keras.config.set_dtype_policy("float64")
    yield
    keras.config.set_floatx(floatx)
    keras.config.set_dtype_policy(policy)
