"""``lossbridge crosscheck``: the verdict and exit code follow the comparison, on
the example pair of hand-written Dice losses and on planted bugs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from spec import crosscheck
from spec.cli import main

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "crosscheck_dice.py"


def _run(capsys, *args):
    code = main(["crosscheck", *args])
    return code, capsys.readouterr()


def test_the_example_pair_agrees(capsys):
    code, out = _run(
        capsys,
        "--tf",
        f"{EXAMPLE}:dice_tf",
        "--torch",
        f"{EXAMPLE}:dice_torch",
        "--shape",
        "2,3,4,5",
        "--tf-channels-last",
    )
    assert code == 0, out.out
    assert "AGREE" in out.out and "DISAGREE" not in out.out
    assert out.out.count("PASS") == 10  # 5 cases x 2 dtypes


def test_a_missing_smoothing_term_is_caught(capsys):
    code, out = _run(
        capsys,
        "--tf",
        f"{EXAMPLE}:dice_tf",
        "--torch",
        f"{EXAMPLE}:dice_torch_unsmoothed",
        "--shape",
        "2,3,4,5",
        "--tf-channels-last",
    )
    assert code == 1
    assert "DISAGREE" in out.out and "random-0/float64" in out.out


def test_a_gradient_only_bug_is_caught(capsys, tmp_path):
    """Same values, but the torch version detaches its normaliser: only the gradient differs."""
    module = tmp_path / "pair.py"
    module.write_text(
        "import tensorflow as tf\nimport torch\n"
        "def tf_loss(y_true, y_pred):\n"
        "    return tf.reduce_mean(tf.square(y_pred - y_true)) / tf.reduce_mean(y_pred**2)\n"
        "def torch_loss(input, target):\n    return ((input - target) ** 2).mean() / (input**2).mean().detach()\n"
    )
    code, out = _run(
        capsys,
        "--tf",
        f"{module}:tf_loss",
        "--torch",
        f"{module}:torch_loss",
        "--shape",
        "4,3",
        "--prediction",
        "values",
        "--target",
        "values",
    )
    assert code == 1
    rows = [line for line in out.out.splitlines() if line.startswith("random-0")]
    assert len(rows) == 2
    for row in rows:  # case, dtype, value TF, value torch, value error, gradient error, result
        value_error, grad_error = float(row.split()[4]), float(row.split()[5])
        assert value_error < 1e-6 and grad_error > 0.1 and row.endswith("FAIL")


def test_a_bad_path_is_a_usage_error(capsys):
    code, out = _run(capsys, "--tf", "no_such_module_xyz:loss", "--torch", f"{EXAMPLE}:dice_torch", "--shape", "2,3")
    assert code == 2
    assert "--tf: cannot import 'no_such_module_xyz'" in out.err
    code, out = _run(capsys, "--tf", f"{EXAMPLE}:nope", "--torch", f"{EXAMPLE}:dice_torch", "--shape", "2,3")
    assert code == 2 and "has no attribute 'nope'" in out.err
    with pytest.raises(SystemExit):
        main(["crosscheck", "--tf", "a:b", "--torch", "c:d", "--shape", "2,x,y"])


def test_generated_cases_cover_the_edges():
    cases = {p.name: p for p in crosscheck.problems((4, 3, 5), "logits", "labels", 1)}
    assert set(cases) == {"random-0", "random-1", "empty-class", "perfect", "saturated-wrong"}
    assert not (cases["empty-class"].y_true == 2).any()  # the last class is absent
    perfect = cases["perfect"]
    assert (perfect.y_pred.argmax(1) == perfect.y_true).all() and np.abs(perfect.y_pred).max() == crosscheck.SATURATION
    probs = crosscheck.problems((4, 3), "probabilities", "one-hot", 1)[0]
    np.testing.assert_allclose(probs.y_pred.sum(1), 1.0)
    assert set(np.unique(probs.y_true)) <= {0.0, 1.0}
