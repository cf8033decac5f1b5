"""``--backend`` and its options (core/cli/backend.py): refusals before anything runs, and the line
every job prints. The Ray sweeps themselves are in tests/core/test_ray_backend.py."""

from __future__ import annotations

import socket
import sys
import time
from pathlib import Path

import pytest

from core.cli import main
from core.cli.backend import duration, progress_line
from core.runs import RunInfo
from core.sweep import Job, JobOutcome, Tally

REPRODUCE = ["reproduce", "--dataset", "digits", "--methods", "raw-ocsvm-fair", "--preset", "tiny", "--classes", "0"]
RUN = ["run", "--dataset", "digits", "--normal-class", "all", "--preset", "tiny"]


@pytest.mark.parametrize("verb", [REPRODUCE, RUN])
def test_ray_not_installed_says_how_to_install_it(verb, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` now raises ImportError, as where it is absent
    code = main([*verb, "--backend", "ray", "--out", str(tmp_path / "runs"), "--device", "cpu"])
    err = capsys.readouterr().err
    assert code == 2 and "pip install -r requirements-ray.txt" in err and "Traceback" not in err
    assert not (tmp_path / "runs").exists()  # refused before anything was planned or trained


def test_address_without_ray_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*REPRODUCE, "--address", "auto", "--out", str(tmp_path)]) == 2
    assert "--backend ray" in capsys.readouterr().err


def test_an_unreachable_cluster_fails_fast_naming_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("ray", reason="Ray is not installed here (pip install -r requirements-ray.txt)")
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    start = time.monotonic()
    code = main([*REPRODUCE, "--backend", "ray", "--address", f"127.0.0.1:{port}", "--out", str(tmp_path / "runs"),
                 "--tables-dir", str(tmp_path / "tables")])
    err = capsys.readouterr().err
    assert code == 2 and f"cannot reach a Ray cluster at 127.0.0.1:{port}" in err
    assert time.monotonic() - start < 30  # Ray alone keeps retrying for minutes


def test_progress_lines_say_what_where_and_how_long_is_left() -> None:
    job = Job("geom", "fashion_mnist", 1, "quick", 0)
    run = RunInfo(Path("/nowhere"), {"dataset": "fashion_mnist", "class_name": "Trouser"},
                  {"dirichlet": {"auroc": 0.991}})
    tally = Tally(total=4, finished=2, ran=1, reused=1, started=time.monotonic() - 100)
    line = progress_line(JobOutcome(job, run, seconds=98.6, node="gpu-2"), tally)
    assert line.startswith("[2/4] geom fashion_mnist class 1 (Trouser) seed 0: "
                           "AUROC 99.1 (paper 99.2) in 99 s on gpu-2")
    assert line.endswith("; 2 left, about 3 min")  # 100 s per job run so far
    failed = progress_line(JobOutcome(job, None, "DataError: no data", node="gpu-3"), Tally(4, 4, 0, 4))
    assert failed == "[4/4] geom fashion_mnist class 1 seed 0: FAILED on gpu-3: DataError: no data"
    reused = progress_line(JobOutcome(job, run, trained=False), Tally(4, 1, 1, 0))
    assert reused.endswith("seed 0: reused, AUROC 99.1 (paper 99.2)")
    assert [duration(s) for s in (5, 600, 9000)] == ["5 s", "10 min", "2.5 h"]
