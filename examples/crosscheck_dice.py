"""Two hand-written soft Dice losses, one per framework, for ``lossbridge crosscheck``.

``dice_tf`` averages over classes like a typical Keras implementation (channels-last);
``dice_torch`` is its torch port (channels-first).  ``dice_torch_unsmoothed`` forgets the
smoothing term, the kind of slip the cross-check is there to catch::

    lossbridge crosscheck --tf examples/crosscheck_dice.py:dice_tf \\
        --torch examples/crosscheck_dice.py:dice_torch --shape 2,3,8,8 --tf-channels-last
    lossbridge crosscheck --tf examples/crosscheck_dice.py:dice_tf \\
        --torch examples/crosscheck_dice.py:dice_torch_unsmoothed --shape 2,3,8,8 --tf-channels-last
"""

SMOOTH = 1.0


def dice_tf(y_true, y_pred):
    import tensorflow as tf

    probs = tf.nn.softmax(y_pred, axis=-1)
    onehot = tf.one_hot(tf.cast(y_true, tf.int32), tf.shape(y_pred)[-1], dtype=y_pred.dtype)
    axes = [1, 2]
    intersection = tf.reduce_sum(probs * onehot, axis=axes)
    total = tf.reduce_sum(probs, axis=axes) + tf.reduce_sum(onehot, axis=axes)
    return 1.0 - tf.reduce_mean((2.0 * intersection + SMOOTH) / (total + SMOOTH))


def dice_torch(input, target, smooth=SMOOTH):
    import torch

    probs = torch.softmax(input, dim=1)
    onehot = torch.nn.functional.one_hot(target.long(), input.shape[1]).movedim(-1, 1).to(input.dtype)
    intersection = (probs * onehot).sum(dim=(2, 3))
    total = probs.sum(dim=(2, 3)) + onehot.sum(dim=(2, 3))
    return 1.0 - ((2.0 * intersection + smooth) / (total + smooth)).mean()


def dice_torch_unsmoothed(input, target):
    return dice_torch(input, target, smooth=0.0)
