"""The ``lossbridge`` console script, run as a user runs it."""

import json
import shutil
import subprocess

import pytest

import spec

EXE = shutil.which("lossbridge")


def run(*args, timeout=600):
    assert EXE, "the lossbridge console script is not installed"
    return subprocess.run([EXE, *args], capture_output=True, text=True, timeout=timeout)


def test_list_shows_every_loss_with_its_parameters():
    result = run("list")
    assert result.returncode == 0, result.stderr
    for loss in spec.specs():
        assert loss.name in result.stdout and loss.class_name in result.stdout
    assert "weight_epsilon" in result.stdout and "segmentation:" in result.stdout


def test_parity_one_loss_prints_rows_and_passes():
    result = run("parity", "--loss", "huber")
    assert result.returncode == 0, result.stdout + result.stderr
    rows = [line for line in result.stdout.splitlines() if line.startswith("huber")]
    assert [row.split()[1] for row in rows] == list(spec.get("huber").presets)
    assert all(row.rstrip().endswith("PASS") for row in rows)
    assert "oneDNN" not in result.stderr  # TensorFlow's banner is kept off the terminal


def test_parity_user_config(tmp_path):
    path = tmp_path / "lesions.json"
    path.write_text(json.dumps({"name": "tversky", "params": {"alpha": 0.3, "beta": 0.7, "gamma": 1.5}}))
    result = run("parity", "--config", str(path), "--no-finite-differences")
    assert result.returncode == 0, result.stdout + result.stderr
    assert any(line.startswith("tversky") and "lesions.json" in line for line in result.stdout.splitlines())


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("parity", "--loss", "dise"), "unknown loss name 'dise'"),
        (("parity", "--config", "/nonexistent.json"), "No such file"),
    ],
)
def test_errors_exit_with_status_2(args, message):
    result = run(*args)
    assert result.returncode == 2 and message in result.stderr


def test_bad_config_file(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"name": "dice", "params": {"smooth": -1}}))
    result = run("parity", "--config", str(path))
    assert result.returncode == 2 and "smooth must be a float >= 0, got -1" in result.stderr
