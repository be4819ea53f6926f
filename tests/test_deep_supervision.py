"""Deep supervision: the target resize against torch's and TensorFlow's own
nearest-neighbour resizes, the whole loss against MONAI's
DeepSupervisionLoss, and Keras against torch."""

import monai.losses
import numpy as np
import pytest
import tensorflow as tf
import torch
import torch.nn.functional as F

import losses_tf
import losses_torch
from spec.deep_supervision import level_weights, source_indices


@pytest.mark.parametrize(("size_in", "size_out"), [(16, 8), (16, 4), (15, 4), (9, 7), (8, 8), (5, 12)])
@pytest.mark.parametrize("mode", ["nearest-exact", "nearest"])
def test_source_indices_match_torch_interpolate(size_in, size_out, mode):
    x = torch.arange(size_in, dtype=torch.float64).reshape(1, 1, size_in)
    picked = F.interpolate(x, size=size_out, mode=mode).reshape(-1).long().numpy()
    np.testing.assert_array_equal(source_indices(size_in, size_out, mode), picked)


@pytest.mark.parametrize(("size_in", "size_out"), [(16, 8), (15, 4), (9, 7)])
def test_nearest_exact_is_tensorflows_nearest(size_in, size_out):
    x = tf.reshape(tf.range(size_in, dtype=tf.float64), (1, size_in, 1, 1))
    picked = tf.image.resize(x, (size_out, 1), method="nearest").numpy().reshape(-1).astype(int)
    np.testing.assert_array_equal(source_indices(size_in, size_out), picked)


def _outputs(seed, sizes=((16, 12), (8, 6), (4, 3))):
    rng = np.random.default_rng(seed)
    outputs = [rng.normal(0, 1.5, (2, 3, *s)) for s in sizes]
    labels = rng.integers(0, 3, (2, *sizes[0]))
    return outputs, labels


@pytest.mark.parametrize("weight_mode", ["exp", "same", "two"])
def test_equals_monai_deep_supervision(weight_mode):
    outputs, labels = _outputs(0)
    theirs = monai.losses.DeepSupervisionLoss(
        monai.losses.DiceCELoss(softmax=True, to_onehot_y=True), weight_mode=weight_mode
    )([torch.tensor(o) for o in outputs], torch.tensor(labels[:, None]).float())
    ours = losses_torch.DeepSupervisionLoss(losses_torch.DiceCrossentropyLoss(), weight_mode=weight_mode)(
        [torch.tensor(o) for o in outputs], torch.tensor(labels)
    )
    np.testing.assert_allclose(ours.item(), theirs.item(), rtol=2e-6)  # MONAI casts the outputs to float32


@pytest.mark.parametrize("dense", [False, True])
def test_keras_equals_torch(dense):
    outputs, labels = _outputs(1)
    target = np.moveaxis(np.eye(3)[labels], -1, 1) if dense else labels
    x = [torch.tensor(o, requires_grad=True) for o in outputs]
    ours = losses_torch.DeepSupervisionLoss(losses_torch.DiceLoss(), weights=[1.0, 0.3, 0.2])(x, torch.tensor(target))
    keras_target = np.moveaxis(target, 1, -1) if dense else target
    keras = losses_tf.DeepSupervisionLoss(losses_tf.DiceLoss(dtype="float64"), weights=[1.0, 0.3, 0.2])(
        keras_target, [np.moveaxis(o, 1, -1) for o in outputs]
    )
    np.testing.assert_allclose(float(keras), ours.item(), rtol=1e-12)
    grads = torch.autograd.grad(ours, x)
    assert all(torch.count_nonzero(g) > 0 for g in grads)  # every scale is supervised


def test_level_weights_and_bad_mode():
    assert level_weights(6, "exp") == [1.0, 0.5, 0.25, 0.125, 0.0625, 0.0625]
    assert level_weights(3, "two") == [1.0, 0.5, 0.5]
    assert level_weights(2, "same", weights=[0.7, 0.2, 0.1]) == [0.7, 0.2]
    with pytest.raises(ValueError, match=r"weight_mode must be one of \('same', 'exp', 'two'\), got 'linear'"):
        losses_torch.DeepSupervisionLoss(losses_torch.DiceLoss(), weight_mode="linear")
