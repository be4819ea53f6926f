"""Import isolation, each checked in a fresh interpreter."""

import subprocess
import sys

import pytest

CHECKS = {
    "spec": ("import spec, spec.parity, spec.cli, spec.compat", ["torch", "tensorflow", "keras"]),
    "losses_torch": ("import losses_torch, losses_torch.functional", ["tensorflow", "keras"]),
    "losses_tf": ("import losses_tf, losses_tf.functional", ["torch"]),
    "losses_torch.compat": (
        "import losses_torch.compat.keras, losses_torch.compat.torch, losses_torch.compat.monai, "
        "losses_torch.compat.smp",
        ["tensorflow", "keras", "monai", "segmentation_models_pytorch"],
    ),
    "losses_tf.compat": (
        "import losses_tf.compat.keras, losses_tf.compat.torch, losses_tf.compat.monai, losses_tf.compat.smp",
        ["torch", "monai", "segmentation_models_pytorch"],
    ),
}


@pytest.mark.parametrize("package", list(CHECKS))
def test_import_does_not_load_the_other_framework(package):
    statement, forbidden = CHECKS[package]
    code = f"{statement}\nimport sys\nloaded = [m for m in {forbidden!r} if m in sys.modules]\nprint(','.join(loaded))"
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=300,
        env={"TF_CPP_MIN_LOG_LEVEL": "3", "PATH": "", "HOME": "/tmp"},
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "", f"importing {package} loaded {result.stdout.strip()}"
