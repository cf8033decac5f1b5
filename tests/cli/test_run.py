"""`python -m core run` (core/cli/run.py) from the shell: the table and JSON line, and one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.app_fixtures import normal_only_folder

REPO = Path(__file__).resolve().parents[2]


def _cli(*args: str, env_extra: dict | None = None) -> subprocess.CompletedProcess:
    import os

    env = {**os.environ, **(env_extra or {})}
    return subprocess.run([sys.executable, "-m", "core", *args], cwd=REPO, capture_output=True, text=True, env=env,
                          timeout=300)


def test_cli_run_prints_table_and_json(tmp_path):
    res = _cli("run", "--dataset", "digits", "--normal-class", "4", "--preset", "tiny", "--device", "cpu",
               "--out", str(tmp_path))
    assert res.returncode == 0, res.stderr
    last = json.loads(res.stdout.strip().splitlines()[-1])
    for key in ("dataset", "normal_class", "preset", "auroc", "aupr_in", "aupr_out", "seconds"):
        assert key in last
    assert last["dataset"] == "digits" and last["normal_class"] == 4 and 0.5 < last["auroc"] <= 1
    assert "AUROC" in res.stdout and "paper" in res.stdout
    assert (tmp_path / "geom" / "digits" / "4" / "tiny-seed0" / "model.pt").is_file()
    history = json.loads((tmp_path / "geom" / "digits" / "4" / "tiny-seed0" / "history.json").read_text())
    assert history and " lr " in res.stderr
    last_step = history[-1]["step"]
    assert f"step {last_step}/{last_step} loss {history[-1]['loss']:.3f}" in res.stderr  # the same record


def test_cli_tensorboard_without_tensorboard_says_how_to_install_before_training(tmp_path):
    try:
        import torch.utils.tensorboard  # noqa: F401
    except ImportError:
        pass
    else:
        pytest.skip("tensorboard is installed here; core/test_tensorboard.py covers the writing")
    res = _cli("run", "--dataset", "digits", "--normal-class", "4", "--preset", "tiny", "--device", "cpu",
               "--tensorboard", "--out", str(tmp_path))
    assert res.returncode == 2 and "pip install tensorboard" in res.stderr and "Traceback" not in res.stderr
    assert not (tmp_path / "geom").exists()  # refused before any training


def test_cli_run_on_a_normal_only_folder_trains_saves_and_skips_the_metrics(tmp_path):
    folder = normal_only_folder(tmp_path / "good")
    res = _cli("run", "--dataset", f"folder:{folder}", "--normal-class", "all", "--preset", "tiny", "--device", "cpu",
               "--out", str(tmp_path / "results"))
    assert res.returncode == 0, res.stderr
    assert "Traceback" not in res.stderr
    notice = res.stderr.index("has one class (good)")
    assert notice < res.stderr.index("training on")  # said before training
    assert "no anomalies in the test data: AUROC not computed" in res.stderr[res.stderr.index("training on"):]
    last = json.loads(res.stdout.strip().splitlines()[-1])
    assert last["auroc"] is None and last["aupr_in"] is None
    run = tmp_path / "results" / "geom" / "folder-good" / "0" / "tiny-seed0"
    assert (run / "model.pt").is_file() and (run / "history.json").is_file()
    assert json.loads((run / "metrics.json").read_text()) == {}


@pytest.mark.parametrize("args,message", [
    (("--dataset", "imagenet", "--normal-class", "0"), "unknown dataset"),
    (("--dataset", "digits", "--normal-class", "10"), "class"),
    (("--dataset", "digits", "--normal-class", "giraffe"), "class"),
    (("--dataset", "digits", "--normal-class", "3", "--transforms", "id, bogus"), "unknown transform 'bogus'"),
])
def test_cli_bad_input_clear_message(args, message, tmp_path):
    res = _cli("run", *args, "--preset", "tiny", "--out", str(tmp_path))
    assert res.returncode == 2
    assert message in res.stderr.lower() and "Traceback" not in res.stderr


def test_cli_missing_data_offline(tmp_path):
    res = _cli("run", "--dataset", "fashion_mnist", "--normal-class", "0", "--preset", "tiny",
               "--data-dir", str(tmp_path / "empty"), "--out", str(tmp_path))
    assert res.returncode == 2 and "Traceback" not in res.stderr
    assert "GEOM_DATA_DIR" in res.stderr
    assert not (tmp_path / "empty").exists()  # the failed download left no empty/FashionMNIST/raw


class Captured(Exception):
    """Stops the command at its first training, carrying the request it was given."""


@pytest.mark.parametrize("choice,expected", [
    (None, ()),
    ("paper72", ()),  # the preset's own set: the plain folder
    ("0-71", ()),
    ("flip_rot8", (("transforms", "flip_rot8"),)),
    ("auto", (("transforms", "auto"),)),
    ("38,0, rot90", (("transforms", "id, rot90, flip rot180"),)),
])
def test_cli_transforms_become_the_requests_override(choice, expected, monkeypatch, tmp_path):
    import core.cli.run
    from core.cli import main

    def capture(request, **_kwargs):
        raise Captured(request)

    monkeypatch.setattr(core.cli.run, "run_one_class", capture)
    args = ["run", "--dataset", "digits", "--normal-class", "3", "--preset", "tiny", "--steps", "5",
            "--out", str(tmp_path)] + ([] if choice is None else ["--transforms", choice])
    with pytest.raises(Captured) as info:
        main(args)
    assert info.value.args[0].overrides == (("steps", 5), *expected)
