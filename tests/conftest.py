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
