"""The benchmark harness (``python -m benchmarks``) builds valid inputs and rows
for every registered loss, and only times a peer that computes our number.

This is ``python -m benchmarks --check`` in-process: tiny shapes, every
candidate evaluated once (value and gradient), nothing timed.  A loss
registered later gets its rows without any change to ``benchmarks/``.
"""

import sys
from pathlib import Path

import numpy as np
import pytest

import spec

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # `benchmarks` lives beside `spec/`

from benchmarks import cli, harness, inputs
from benchmarks.peers import PeerConfig

# one worker runs the whole module: the registry-wide run is a module fixture
pytestmark = pytest.mark.xdist_group("benchmarks")


def check(specs):
    options = harness.Options(inputs.CHECK_SIZES, modes=cli.CHECK_MODES, check=True)
    return harness.run(specs, options)


@pytest.fixture(scope="module")
def registry_rows():
    return check(list(spec.specs()))


def test_every_registered_loss_gets_rows_in_both_frameworks(registry_rows):
    for framework in ("torch", "tf"):
        covered = {r.loss for r in registry_rows if r.kind == "ours" and r.framework == framework and not r.error}
        assert sorted(set(spec.names()) - covered) == [], f"losses without a {framework} row"


def test_every_candidate_evaluates_and_agrees_with_ours(registry_rows):
    failures = [
        f"{r.loss} {r.size} {r.form} {r.framework}/{r.mode} {r.name}: {r.error or r.check}"
        for r in registry_rows
        if r.failed
    ]
    assert failures == []


def test_segmentation_sizes_and_one_hot_targets_are_covered(registry_rows):
    dice = {(r.size, r.form) for r in registry_rows if r.loss == "dice" and r.kind == "ours"}
    assert dice == {("2d", "labels"), ("2d", "one-hot"), ("3d", "labels"), ("3d", "one-hot")}
    ce = {r.size for r in registry_rows if r.loss == "categorical_crossentropy" and r.kind == "ours"}
    assert ce == {"cls", "2d", "3d"}


@pytest.mark.parametrize(
    ("loss", "peer"),
    [
        ("categorical_crossentropy", "torch.CrossEntropyLoss()"),
        ("categorical_crossentropy", "keras.CategoricalCrossentropy(from_logits=True)"),
        ("dice", "monai.DiceLoss(softmax=True, to_onehot_y=True)"),
        ("dice", "smp.DiceLoss(mode='multiclass')"),
        ("mean_squared_error", "torch.MSELoss()"),
        ("giou", "torchvision.generalized_box_iou_loss(reduction='mean')"),
    ],
)
def test_peers_from_the_compat_definitions_agree(registry_rows, loss, peer):
    # labels (or the dense target): the form each of these peers takes; smp's multiclass Dice refuses one-hot
    rows = [r for r in registry_rows if r.loss == loss and r.name == peer and r.form in ("labels", "dense")]
    assert rows and all(r.check == "ok" for r in rows), [(r.size, r.form, r.check) for r in rows]


def test_a_peer_computing_another_number_is_not_timed():
    wrong = PeerConfig("torch", "L1Loss", {}, "mean_squared_error", None, call=("input", "target"))
    found = harness.probe(spec.get("mean_squared_error"), wrong, inputs.CHECK_SIZES[0], inputs.DENSE)
    assert found.params is None and "DIFFERS" in found.reason


def test_agreement_flags_value_and_gradient_differences():
    grad = np.array([1.0, -2.0])
    assert harness.agreement(1.0, grad, 1.0, grad) == "ok"
    assert harness.agreement(1.01, grad, 1.0, grad).startswith("DIFFERS")
    assert harness.agreement(1.0, grad * 1.1, 1.0, grad).startswith("DIFFERS")
    assert harness.agreement(float("nan"), grad, 1.0, grad).startswith("DIFFERS")


def test_a_newly_registered_loss_gets_rows():
    @spec.define_loss("bench_probe_l2", params=[spec.Param("scale", "float", 2.0, "factor", low=0.0)])
    def bench_probe_l2(ops, y_pred, y_true, *, scale):
        """Scaled squared error (a loss registered by this test)."""
        return scale * (y_pred - y_true) * (y_pred - y_true)

    try:
        rows = check([bench_probe_l2])
    finally:
        spec.registry.unregister("bench_probe_l2")
    ours = {(r.framework, r.size) for r in rows if r.kind == "ours" and r.check == "reference"}
    assert ours == {("torch", "cls"), ("torch", "2d"), ("tf", "cls"), ("tf", "2d")}
    assert all(not r.failed for r in rows)


def test_inputs_keep_the_losses_contracts():
    ctc = spec.get("ctc")
    built = inputs.build(ctc, ctc.bind({}), inputs.FULL_SIZES[0], inputs.LABELS)
    lengths = built.extras["input_lengths"]
    assert built.shape[0] == 16 and (lengths <= built.shape[2]).all()  # batch resized, sequences kept
    dice = spec.get("dice")
    built = inputs.build(dice, dice.bind({}), inputs.FULL_SIZES[2], inputs.ONE_HOT)
    assert built.shape == (2, 4, 64, 64, 64) and built.y_true.dtype == np.float32
    np.testing.assert_array_equal(built.y_true.sum(axis=1), 1.0)


def test_lossbridge_bench_runs_the_harness(capsys):
    from spec import cli as lossbridge

    assert lossbridge.main(["bench", "--check", "--loss", "huber"]) == 0
    assert "rows for 1 of 1 losses" in capsys.readouterr().out


def test_the_headline_compares_peers_fed_the_same_target_form():
    """A labels row is set against a peer that took labels; a peer fed one-hot targets (encoded
    outside its timed step) is the labels row's reference only when no peer took labels."""
    from benchmarks import report
    from benchmarks.harness import Row

    def row(kind, name, ms, note=""):
        return Row("dice", "2d", (8, 4, 128, 128), "labels", "", "tf", "jit", kind, name, note=note, median_ms=ms)

    ours = row("ours", "ours", 2.0)
    one_hot_peer = row("peer", "keras.Dice", 1.0, "target: one-hot")
    labels_peer = row("peer", "monai.DiceLoss", 3.0, "target: labels with a class axis of 1")
    assert report._fastest_peer_row([ours, one_hot_peer, labels_peer], ours) is labels_peer
    assert report._fastest_peer_row([ours, one_hot_peer], ours) is one_hot_peer
    line = report.summary_lines([ours, one_hot_peer])[0]
    assert "keras.Dice (on one-hot)" in line


def test_a_loss_that_crashed_the_run_becomes_an_error_row_and_finished_losses_are_kept(tmp_path):
    """The full run keeps each finished loss's rows; after a native crash the next process
    reloads them and records the loss it died in as an error row instead of timing it again."""
    options = harness.Options(inputs.CHECK_SIZES, modes=cli.CHECK_MODES, check=True)
    first = cli._run_keeping_rows([spec.get("huber")], options, None, tmp_path)
    (tmp_path / "mean_squared_error.started").touch()  # a process died in this loss
    assert cli._crashed_losses(tmp_path) == ["mean_squared_error"]
    rows = cli._run_keeping_rows([spec.get("huber"), spec.get("mean_squared_error")], options, None, tmp_path)
    assert [r.check for r in rows[: len(first)]] == [r.check for r in first]
    crashed = rows[len(first) :]
    assert len(crashed) == 1 and crashed[0].loss == "mean_squared_error" and "crashed" in crashed[0].error
    assert cli._crashed_losses(tmp_path) == []
