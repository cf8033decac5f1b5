"""Run folders as data, not trust: damaged folders are listed with a reason, interrupted writes are
recovered, and runs open only inside the allowed roots (core/runs.py)."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import numpy as np
import pytest

from core.runs import (
    DamagedRunError,
    find_runs,
    read_run,
    recover_interrupted_writes,
    resolve_run_folder,
    run_dir,
    run_files,
    run_folder_name,
    run_roots,
    run_seed_pattern,
    scan_runs,
    write_run,
    write_run_files,
)

META = {"method": "geom", "dataset": "digits", "normal_class": 3, "class_label": "3", "class_names": list("0123456789"),
        "preset": "tiny", "seed": 0}


def fake_run(path: Path, **meta: object) -> Path:
    """A small run folder (no model), enough for listing and reading."""
    scores = {"is_normal": np.array([True, False]), "dirichlet": np.array([1.0, 0.0])}
    return write_run(path, {**META, **meta}, {"dirichlet": {"auroc": 1.0}}, scores).path


def test_scan_lists_damaged_folders_with_the_reason(tmp_path: Path) -> None:
    good = fake_run(run_dir(tmp_path, "geom", "digits", 3, "tiny-seed0"))
    no_label = fake_run(run_dir(tmp_path, "geom", "digits", 4, "tiny-seed0"))
    meta = json.loads((no_label / "run.json").read_text())
    del meta["class_label"]
    (no_label / "run.json").write_text(json.dumps(meta))
    bad_json = fake_run(run_dir(tmp_path, "geom", "digits", 5, "tiny-seed0"))
    (bad_json / "metrics.json").write_text("{not json")
    no_scores = fake_run(run_dir(tmp_path, "geom", "digits", 6, "tiny-seed0"))
    (no_scores / "scores.npz").unlink()
    not_object = fake_run(run_dir(tmp_path, "geom", "digits", 7, "tiny-seed0"))
    (not_object / "run.json").write_text("[1, 2]")
    hidden = tmp_path / "geom" / "digits" / "8" / ".tiny-seed0.tmp-0123abcd"  # a write in progress: not damaged
    hidden.mkdir(parents=True)
    (hidden / "run.json").write_text("{}")

    scan = scan_runs(tmp_path)
    assert [r.path for r in scan.runs] == [good]
    reasons = dict(scan.damaged)
    assert set(reasons) == {no_label, bad_json, no_scores, not_object}
    assert "lacks class_label" in reasons[no_label]
    assert "damaged metrics.json" in reasons[bad_json]
    assert "missing scores.npz" in reasons[no_scores]
    assert "not a JSON object" in reasons[not_object]
    assert [r.path for r in find_runs(tmp_path)] == [good]


def test_truncated_scores_raise_a_damaged_run_error(tmp_path: Path) -> None:
    path = fake_run(tmp_path / "run")
    data = (path / "scores.npz").read_bytes()
    (path / "scores.npz").write_bytes(data[: len(data) // 2])
    with pytest.raises(DamagedRunError, match="scores.npz is damaged"):
        read_run(path).scores()


def test_a_crash_between_the_renames_is_recovered(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    target = fake_run(tmp_path / "geom" / "digits" / "3" / "tiny-seed0")
    # What write_run leaves when killed between its renames: the new run complete in .tmp-*, the old in .old-*.
    fake_run(target.parent / ".tiny-seed0.tmp-0123abcd", created="new")
    os.replace(target, target.parent / ".tiny-seed0.old-4567cdef")
    assert find_runs(tmp_path) == []

    assert recover_interrupted_writes(tmp_path) == []  # too recent: may be a write still under way
    with caplog.at_level("WARNING", logger="core.runs"):
        actions = recover_interrupted_writes(tmp_path, min_age_s=0)
    assert read_run(target).meta["created"] == "new"  # the completed rewrite wins
    assert [p.name for p in target.parent.iterdir()] == ["tiny-seed0"]
    assert len(actions) == 2 and "recovered" in actions[0] and "removed" in actions[1]
    assert "recovered" in caplog.text


def test_leftovers_without_a_complete_rewrite(tmp_path: Path) -> None:
    parent = tmp_path / "geom" / "digits" / "3"
    restored = fake_run(parent / ".a.old-0000aaaa")  # only the old run survived: restore it
    fake_run(parent / "b")  # the swap finished: the old copy is garbage
    fake_run(parent / ".b.old-0000bbbb")
    (parent / ".c.tmp-0000cccc").mkdir()  # never committed: remove
    recover_interrupted_writes(tmp_path, min_age_s=0)
    assert sorted(p.name for p in parent.iterdir()) == ["a", "b"]
    assert read_run(parent / "a").meta == read_run(parent / "b").meta
    assert not restored.exists()


def test_runs_open_only_inside_the_allowed_roots(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    results, elsewhere = tmp_path / "results", tmp_path / "elsewhere"
    inside = fake_run(run_dir(results, "geom", "digits", 3, "tiny-seed0"))
    outside = fake_run(run_dir(elsewhere, "geom", "digits", 3, "tiny-seed0"))
    monkeypatch.delenv("GEOM_RUN_ROOTS", raising=False)
    roots = run_roots(results)
    assert resolve_run_folder("geom/digits/3/tiny-seed0", roots) == inside.resolve()
    assert resolve_run_folder(str(inside), roots) == inside.resolve()
    with pytest.raises(ValueError, match="outside the folders.*GEOM_RUN_ROOTS"):
        resolve_run_folder(str(outside), roots)
    with pytest.raises(ValueError, match="outside"):
        resolve_run_folder("../elsewhere/geom/digits/3/tiny-seed0", roots)
    with pytest.raises(ValueError, match="no run folder"):
        resolve_run_folder("geom/nothing", roots)
    monkeypatch.setenv("GEOM_RUN_ROOTS", f"{elsewhere}{os.pathsep}{tmp_path / 'third'}")
    roots = run_roots(results)
    assert roots == [results.resolve(), elsewhere.resolve(), (tmp_path / "third").resolve()]
    assert resolve_run_folder(str(outside), roots) == outside.resolve()


def test_recovery_leaves_young_leftovers_alone(tmp_path: Path) -> None:
    leftover = tmp_path / ".x.tmp-0123abcd"
    leftover.mkdir()
    assert recover_interrupted_writes(tmp_path) == [] and leftover.exists()
    old = time.time() - 120
    os.utime(leftover, (old, old))
    assert recover_interrupted_writes(tmp_path) and not leftover.exists()


def test_run_folder_names_and_places() -> None:
    assert run_folder_name("quick", 3) == "quick-seed3"
    assert run_folder_name("tiny", 0, (("steps", 100), ("width", 2))) == "tiny-steps100-width2-seed0"
    pattern = run_seed_pattern("quick")
    assert pattern.match("quick-seed12").group(1) == "12"
    assert pattern.match("quick-steps100-seed0") is None and pattern.match("quickish-seed0") is None
    root = Path("/r")
    assert run_dir(root, "geom", "digits", 3, "tiny-seed0") == Path("/r/geom/digits/3/tiny-seed0")
    assert run_dir(root, "geom", "folder:~/my images/set", 0, "tiny-seed0") == Path("/r/geom/folder-set/0/tiny-seed0")


def test_write_then_read_round_trip(tmp_path: Path) -> None:
    path = run_dir(tmp_path, "geom", "digits", 3, run_folder_name("tiny", 0))
    scores = {"is_normal": np.array([True, False, True]), "dirichlet": np.array([0.5, -1.0, 2.0])}
    metrics = {"dirichlet": {"auroc": 0.75}}
    written = write_run(path, META, metrics, scores, write_model=lambda p: p.write_bytes(b"weights"))
    again = read_run(path)
    assert written == again and again.path == path and again.meta == META and again.metrics == metrics
    assert again.model_path.read_bytes() == b"weights"
    got = again.scores()
    assert set(got) == set(scores) and all(np.array_equal(got[k], scores[k]) for k in scores)
    assert [p.name for p in tmp_path.rglob("*") if p.name.startswith(".")] == []  # no temporary folder left


def test_history_is_written_with_the_run_and_read_back(tmp_path: Path) -> None:
    rows = [{"step": 2, "loss": 1.2, "accuracy": 0.4, "lr": 0.001, "elapsed_s": 0.5},
            {"step": 4, "loss": 0.8, "accuracy": 0.7, "lr": 0.001, "elapsed_s": 1.0}]
    scores = {"is_normal": np.array([True, False]), "dirichlet": np.array([1.0, 0.0])}
    run = write_run(run_dir(tmp_path, "geom", "digits", 3, "tiny-seed0"), META, {}, scores, history=rows)
    assert (run.path / "history.json").is_file()
    assert read_run(run.path).history() == rows


def test_a_run_without_history_reads_as_none_and_a_damaged_one_says_so(tmp_path: Path) -> None:
    old = read_run(fake_run(run_dir(tmp_path, "geom", "digits", 3, "tiny-seed0")))
    assert old.history() is None  # runs written before history.json existed
    (old.path / "history.json").write_text('[{"step": 1}]')
    with pytest.raises(DamagedRunError, match="history.json"):
        old.history()
    (old.path / "history.json").write_text("[{")
    with pytest.raises(DamagedRunError, match="damaged"):
        old.history()


def test_a_run_travels_as_bytes_and_lands_atomically(tmp_path: Path) -> None:
    """What a Ray task sends back (run_files) lays down the same folder (write_run_files), or nothing."""
    src = fake_run(run_dir(tmp_path / "worker", "geom", "digits", 3, "tiny-seed0"))
    files = run_files(src)
    assert set(files) == {"run.json", "metrics.json", "scores.npz"}
    dest = run_dir(tmp_path / "driver", "geom", "digits", 3, "tiny-seed0")
    landed = write_run_files(dest, files)
    assert landed.meta == read_run(src).meta and run_files(dest) == files
    for bad in ({**files, "../escape": b"x"}, {**files, ".hidden": b"x"}):
        with pytest.raises(DamagedRunError, match="unsafe names"):
            write_run_files(dest, bad)
    with pytest.raises(DamagedRunError, match=r"incomplete \(missing scores.npz\)"):
        write_run_files(dest, {k: v for k, v in files.items() if k != "scores.npz"})
    assert run_files(dest) == files  # the complete run it was to replace is untouched
    assert not (tmp_path / "escape").exists()
    assert [p.name for p in tmp_path.rglob("*") if p.name.startswith(".")] == []
