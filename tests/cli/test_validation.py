"""Validation at the door (issue 13, items 4 and 5): bad numbers, devices and classes are refused
before anything is loaded or trained, with a one-line message naming the option."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch

from core.cli import build_parser, main
from core.train import resolve_device

REPO = Path(__file__).resolve().parents[2]

RUN = ("run", "--dataset", "digits", "--normal-class", "3", "--preset", "tiny")
BASELINE = ("baseline", "--method", "raw-ocsvm", "--dataset", "digits", "--normal-class", "3", "--preset", "tiny")
REPRODUCE = ("reproduce", "--dataset", "digits", "--preset", "tiny")
ABLATION = ("ablation", "--preset", "8v3-flip")
ASCENT = ("ascent", "--run", "some/run")
EXPLAIN = ("explain", "--run", "some/run", "--index", "0")


def refused(argv: tuple[str, ...], capsys: pytest.CaptureFixture[str]) -> str:
    """argparse's message for ``argv``, which must be refused with exit status 2 while parsing."""
    with pytest.raises(SystemExit) as exc:
        build_parser().parse_args(list(argv))
    assert exc.value.code == 2
    return capsys.readouterr().err


@pytest.mark.parametrize("verb,option,value,says", [
    (RUN, "--steps", "0", "at least 1, got 0"),
    (RUN, "--steps", "-5", "at least 1, got -5"),
    (RUN, "--steps", "ten", "whole number"),
    (RUN, "--runs", "0", "at least 1"),
    (RUN, "--runs", "-2", "at least 1"),
    (RUN, "--seed", "-1", "at least 0, got -1"),
    (BASELINE, "--runs", "0", "at least 1"),
    (BASELINE, "--seed", "-1", "at least 0"),
    (REPRODUCE, "--runs", "-2", "at least 1"),
    (REPRODUCE, "--seed", "-3", "at least 0"),
    (ABLATION, "--seeds", "0", "at least 1"),
    (ABLATION, "--steps", "0", "at least 1"),
    (ABLATION, "--max-test-images", "0", "at least 1"),
    (ABLATION, "--weight-decay", "-0.001", "0 or more"),
    (ASCENT, "--steps", "0", "at least 1"),
    (ASCENT, "--step-size", "0", "more than 0"),
    (ASCENT, "--step-size", "nan", "finite"),
    (ASCENT, "--keep-top", "1.5", "at most 1"),
    (ASCENT, "--smooth", "-1", "0 or more"),
    (ASCENT, "--frame-every", "0", "at least 1"),
    (ASCENT, "--index", "-1", "at least 0"),
    (EXPLAIN, "--steps", "1", "at least 2"),
    (EXPLAIN, "--window", "0", "at least 1"),
    (EXPLAIN, "--stride", "-3", "at least 1"),
    (EXPLAIN, "--transform", "-1", "at least 0"),
])
def test_bad_numbers_are_refused_naming_the_option(verb, option, value, says, capsys) -> None:
    err = refused((*verb, option, value), capsys)
    assert f"argument {option}: " in err and says in err


@pytest.mark.parametrize("verb", [RUN, BASELINE, REPRODUCE, ABLATION, ASCENT, EXPLAIN])
def test_unknown_device_is_refused_by_every_verb(verb, capsys) -> None:
    err = refused((*verb, "--device", "foo"), capsys)
    assert "argument --device: unknown device 'foo'" in err and "cuda:N" in err


@pytest.mark.parametrize("device", ["cuda", "cuda:0"])
def test_missing_gpu_is_one_clear_line(device, capsys, monkeypatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    err = refused((*RUN, "--device", device), capsys)
    assert f"argument --device: device '{device}' was asked for but no CUDA GPU is available" in err


def test_gpu_index_beyond_the_machine_is_refused(monkeypatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    assert resolve_device("cuda:1") == torch.device("cuda:1")
    with pytest.raises(ValueError, match=r"has 2 CUDA GPU\(s\): cuda:0..cuda:1"):
        resolve_device("cuda:2")


def test_good_values_still_parse() -> None:
    args = build_parser().parse_args([*RUN, "--steps", "1", "--runs", "2", "--seed", "0", "--device", "cpu"])
    assert (args.steps, args.runs, args.seed, args.device) == (1, 2, 0, "cpu")
    assert build_parser().parse_args(list(RUN)).device == "auto"


def test_device_error_from_the_shell_has_no_traceback(tmp_path) -> None:
    res = subprocess.run([sys.executable, "-m", "core", *RUN, "--device", "foo", "--out", str(tmp_path)],
                         cwd=REPO, capture_output=True, text=True, timeout=300)
    assert res.returncode == 2
    assert "Traceback" not in res.stderr and "--device" in res.stderr
    assert list(tmp_path.iterdir()) == []


# ----- item 5: a negative class id is not a name -------------------------------------------------
@pytest.mark.parametrize("cls", ["-1", "-3"])
def test_negative_normal_class_is_refused_before_training(cls, tmp_path, capsys) -> None:
    code = main([*RUN, "--normal-class", cls, "--device", "cpu", "--out", str(tmp_path)])
    assert code == 2
    err = capsys.readouterr().err
    assert f"class id {cls} is negative" in err
    assert list(tmp_path.iterdir()) == []  # nothing trained, nothing written
