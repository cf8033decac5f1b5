"""Sweeps as Ray tasks (core/ray_backend.py): the same tables as the local backend, faults reported
per job while the others finish, resuming after Ctrl-C, and the ``--backend ray`` command lines.

Every test here shares one local Ray session (``ray_session``), so CI pays Ray's start-up once; the
sweeps use Deep SVDD and the RAW-OC-SVM at ``tiny`` on ``digits`` (seconds per job) and GEOM only
with two training steps.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import torch

from core.cli import main
from core.reproduce import AVG, reproduce
from core.runs import find_runs, read_run
from core.sweep import Job, sweep

ray = pytest.importorskip("ray", reason="Ray is not installed here (pip install -r requirements-ray.txt)")

from core.ray_backend import RayBackend, RayOptions  # noqa: E402  (after the skip: it is only useful with Ray)

SWEEP = dict(dataset="digits", methods="deep-svdd,raw-ocsvm-fair", preset="tiny", runs=2, device="cpu",
             classes=[0, 1])  # per class: Deep SVDD seeds 0 and 1, the OC-SVM once: 6 jobs


@pytest.fixture(scope="module")
def ray_session():
    """One local Ray for the module: two CPUs, so two one-thread jobs run at once."""
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def backend(**options) -> RayBackend:
    return RayBackend(RayOptions(**options), device="cpu")


def hidden_leftovers(root: Path) -> list[Path]:
    """What an interrupted write would leave: write_run's hidden temporary folders."""
    return list(root.rglob(".*"))


def test_ray_tables_equal_the_local_tables(tmp_path: Path, ray_session: None) -> None:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as in a one-CPU Ray task: CPU results are deterministic per seed and thread count
    try:
        local = reproduce(**SWEEP, out=str(tmp_path / "local"), tables_dir=tmp_path / "local-tables")
    finally:
        torch.set_num_threads(threads)
    seen = []
    remote = reproduce(**SWEEP, out=str(tmp_path / "ray"), tables_dir=tmp_path / "ray-tables",
                       backend=backend(cpus_per_job=1), report=lambda outcome, tally: seen.append(outcome))
    assert (remote.trained, remote.reused, remote.failures) == (6, 0, {})
    assert all(o.node and o.seconds > 0 for o in seen)
    for ours, theirs in zip(local.tables, remote.tables, strict=True):
        for row in (0, 1, AVG):
            for method in ours.methods:
                assert theirs.cells[(row, method)] == ours.cells[(row, method)], (ours.metric, row, method)
    for run in find_runs(tmp_path / "local"):
        twin = read_run(tmp_path / "ray" / run.path.relative_to(tmp_path / "local"))
        assert twin.metrics == run.metrics
        assert sorted(p.name for p in twin.path.iterdir()) == sorted(p.name for p in run.path.iterdir())
    assert not hidden_leftovers(tmp_path / "ray")


def test_a_failing_job_is_reported_and_the_others_finish(tmp_path: Path, ray_session: None) -> None:
    empty = tmp_path / "no-data"
    empty.mkdir()
    jobs = [Job("raw-ocsvm-fair", "cats_vs_dogs", 0, "tiny", 0),  # this worker has no Cats-vs-Dogs
            Job("raw-ocsvm-fair", "digits", 2, "tiny", 0)]  # digits needs no data folder
    result = sweep(jobs, tmp_path / "runs", RayBackend(RayOptions(), "cpu", str(empty)))
    assert list(result.runs) == [jobs[1]] and result.trained == 1
    error = result.failures[jobs[0]]
    assert error.startswith("DataError: ") and "cats_vs_dogs" in error and "GEOM_DATA_DIR" in error
    assert not (tmp_path / "runs" / "raw-ocsvm-fair" / "cats_vs_dogs").exists()


def dying_task(job: Job, device: str, data_dir: str, threads: int):
    """Stands in for run_job_task: notes the attempt in ``data_dir``, then kills its worker."""
    del device, threads
    with open(Path(data_dir) / f"attempts-{job.normal_class}", "a") as f:
        f.write("x")
    os._exit(1)


def test_a_dead_worker_is_retried_then_reported(tmp_path: Path, ray_session: None,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    import core.ray_backend

    monkeypatch.setattr(core.ray_backend, "run_job_task", dying_task)
    job = Job("raw-ocsvm-fair", "digits", 3, "tiny", 0)
    result = sweep([job], tmp_path / "runs", RayBackend(RayOptions(max_retries=1), "cpu", str(tmp_path)))
    assert (tmp_path / "attempts-3").read_text() == "xx"  # the first try and one retry
    assert "died" in result.failures[job].lower() and not result.runs


def test_an_interrupted_sweep_restarts_where_it_stopped(tmp_path: Path, ray_session: None) -> None:
    kwargs = dict(SWEEP, out=str(tmp_path / "runs"), tables_dir=tmp_path / "tables")

    def ctrl_c(outcome, tally) -> None:
        raise KeyboardInterrupt  # as the first job ends, the others still queued or training

    with pytest.raises(KeyboardInterrupt):
        reproduce(**kwargs, backend=backend(), report=ctrl_c)
    finished = find_runs(tmp_path / "runs")
    assert len(finished) == 1 and not hidden_leftovers(tmp_path / "runs")
    again = reproduce(**kwargs, backend=backend())
    assert (again.trained, again.reused, again.failures) == (5, 1, {})


def test_cli_run_several_seeds_on_ray(tmp_path: Path, ray_session: None, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["run", "--dataset", "digits", "--normal-class", "5", "--runs", "2", "--preset", "tiny",
                 "--steps", "2", "--backend", "ray", "--device", "cpu", "--out", str(tmp_path)])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    summary = json.loads(captured.out.strip().splitlines()[-1])
    assert [r["seed"] for r in summary["runs"]] == [0, 1]
    for seed in (0, 1):
        run = read_run(tmp_path / "geom" / "digits" / "5" / f"tiny-steps2-seed{seed}")
        assert run.meta["config"]["steps"] == 2 and run.model_path.is_file() and run.history()
        assert f"geom digits class 5 (5) seed {seed}: AUROC" in captured.err
    assert "[2/2]" in captured.err


def test_cli_reproduce_on_ray_names_the_missing_cells(tmp_path: Path, ray_session: None,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["reproduce", "--dataset", "cats_vs_dogs", "--methods", "raw-ocsvm-fair", "--preset", "tiny",
                 "--classes", "dog", "--data-dir", str(tmp_path / "no-data"), "--out", str(tmp_path / "runs"),
                 "--tables-dir", str(tmp_path / "tables"), "--backend", "ray"])
    captured = capsys.readouterr()
    assert code == 1 and "Traceback" not in captured.err
    assert json.loads(captured.out.strip().splitlines()[-1])["failed"] == 1
    note = "- missing: raw-ocsvm-fair class 1 seed 0: DataError: "
    assert note in captured.out and note in (tmp_path / "tables" / "cats_vs_dogs_tiny.md").read_text()
    assert "FAILED" in captured.err and "missing: raw-ocsvm-fair class 1 seed 0" in captured.err
