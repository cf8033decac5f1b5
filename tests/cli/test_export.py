"""``python -m core export``: writes the graph, prints the parity figures and a JSON line; bad input
(a baseline's run, a damaged checkpoint, a folder as --out, no ONNX packages) is one clear line."""

from __future__ import annotations

import json
import shutil
import sys

import pytest

from core.baselines import get_method, run_baseline
from core.cli import main
from core.export import EXPORT_PACKAGES


@pytest.fixture(scope="module")
def onnx_ready() -> None:
    for name in EXPORT_PACKAGES:
        pytest.importorskip(name, reason=f"{name} is not installed (pip install -r requirements-export.txt)")


def test_export_writes_the_graph_into_a_new_folder_and_prints_parity(onnx_ready, tiny_run, tmp_path, capsys) -> None:
    out = tmp_path / "not" / "yet" / "digits3.onnx"
    code = main(["export", "--run", str(tiny_run.path), "--out", str(out), "--parity-images", "60"])
    printed = capsys.readouterr().out
    assert code == 0, printed
    assert out.is_file() and out.stat().st_size > 0
    assert "parity on" in printed and "AUROC PyTorch" in printed
    line = json.loads(printed.strip().splitlines()[-1])
    assert line["out"] == str(out) and line["score"] == "dirichlet" and line["format"] == "onnx"
    assert line["input"] == {"name": "images", "dtype": "uint8", "shape": ["N", 32, 32, 1]}
    parity = line["parity"]
    assert parity["passed"] and parity["ranking_kept"] and parity["auroc_onnx"] is not None
    assert not list(out.parent.glob(".*")), "no temporary file left beside the graph"


def test_a_baseline_run_is_refused(tmp_path, capsys) -> None:
    run = run_baseline(get_method("raw-ocsvm-fair"), "digits", 3, "tiny", device="cpu", out=str(tmp_path))
    assert main(["export", "--run", str(run.path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "raw-ocsvm-fair baseline run: only GEOM runs export" in err


def test_a_damaged_checkpoint_gets_the_loaders_message(tiny_run, tmp_path, capsys) -> None:
    copy = tmp_path / "run"
    shutil.copytree(tiny_run.path, copy)
    (copy / "model.pt").write_bytes(b"not a checkpoint")
    assert main(["export", "--run", str(copy)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "is not a readable GEOM checkpoint" in err


@pytest.mark.parametrize("make,says", [
    (lambda root: root / "nothing-here", "no run folder at"),
    (lambda root: root, "is not a complete run folder"),
])
def test_not_a_run_folder(make, says, tmp_path, capsys) -> None:
    assert main(["export", "--run", str(make(tmp_path))]) == 2
    assert says in capsys.readouterr().err


def test_a_folder_as_out_is_refused(onnx_ready, tiny_run, tmp_path, capsys) -> None:
    assert main(["export", "--run", str(tiny_run.path), "--out", str(tmp_path)]) == 2
    assert "is a folder: name the .onnx file to write" in capsys.readouterr().err


def test_an_out_folder_that_cannot_be_made_is_refused(onnx_ready, tiny_run, tmp_path, capsys) -> None:
    (tmp_path / "a-file").write_text("")
    assert main(["export", "--run", str(tiny_run.path), "--out", str(tmp_path / "a-file" / "m.onnx")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "its folder cannot be created" in err


def test_without_onnx_says_what_to_install(tiny_run, tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.setitem(sys.modules, "onnx", None)  # import onnx now raises ImportError
    out = tmp_path / "m.onnx"
    assert main(["export", "--run", str(tiny_run.path), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "pip install -r requirements-export.txt" in err and "missing: onnx" in err
    assert not out.exists()


def test_export_is_listed_in_the_help(capsys) -> None:
    with pytest.raises(SystemExit):
        main(["--help"])
    assert "export" in capsys.readouterr().out


def test_bad_parity_count_is_refused_while_parsing(capsys) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["export", "--run", "x", "--parity-images", "1"])
    assert exc.value.code == 2 and "at least 2" in capsys.readouterr().err
