"""The example scripts run as a user runs them."""

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_keras_to_lightning_example(tmp_path):
    out = tmp_path / "curves.png"
    result = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "keras_to_lightning.py"), "--steps", "20", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    largest = float(re.search(r"largest relative difference .*: (\S+)", result.stdout).group(1))
    assert largest < 1e-9
    assert out.stat().st_size > 10_000 and out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
