"""``python -m core score``: score image files with a trained run's detector and its saved threshold.

    python -m core score --run results/geom/mnist/3/quick-seed0 scans/ odd.png --out scores.csv

Every file named, and every file under a folder named (recursively; hidden files and folders are
skipped), is converted exactly as the run's training images were (:mod:`core.images`, the upload
page's conversion), scored in batches, and listed with its score (normality, higher = more normal),
its anomaly score (the negation), and its verdict by the run's saved threshold (``normal`` or
``anomaly``; empty for a run without one). A file that cannot be scored (not an image, truncated,
corrupt, too large) gets a row saying why, and the others are scored all the same. ``--out`` writes
the rows as CSV or JSON, by its suffix. Any method's run folder scores, through its detector's
``decision_function``; only GEOM runs have a threshold.

Exit codes: 0 when every file was scored; 1 when some file could not be (its row says why; the
rest are scored and written); 2 when nothing could run (an unreadable or damaged run folder, a
missing path, an --out of another kind), with one line saying why.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from core.base_detector import BaseDetector
from core.baselines import load_run_detector
from core.cli.args import device_arg, positive_int
from core.cli.commands import command
from core.images import ImageFileError, load_image_path
from core.progress import ProgressBar
from core.runs import read_run
from core.scores import format_score
from core.threshold import is_anomaly
from core.train import DEVICE_CHOICES

OUT_FORMATS = (".csv", ".json")
EXIT_SOME_FAILED = 1


@dataclass(frozen=True)
class FileScore:
    """One row of the output: a file's scores and verdict, or why it has none."""

    path: str
    score: float | None = None  # normality, higher = more normal
    anomaly_score: float | None = None  # its negation: the detector's decision_function
    verdict: str = ""  # normal / anomaly by the saved threshold; empty without one or on error
    error: str = ""  # why the file could not be scored


def files_under(paths: list[str]) -> list[Path]:
    """The files named and those under the folders named (sorted, hidden ones skipped); a missing path,
    or a folder without files, is a FileNotFoundError naming it."""
    missing = [p for p in paths if not Path(p).exists()]
    if missing:
        raise FileNotFoundError(f"no such file or folder: {', '.join(missing)}")
    files: list[Path] = []
    for path in map(Path, paths):
        if not path.is_dir():
            files.append(path)
            continue
        found = sorted(f for f in path.rglob("*")
                       if f.is_file() and not any(part.startswith(".") for part in f.relative_to(path).parts))
        if not found:
            raise FileNotFoundError(f"no files to score in {path}")
        files.extend(found)
    return files


def read_image(path: Path, det: BaseDetector, dataset: str, invert: bool) -> np.ndarray:
    """One file as a uint8 (H, W, C) image prepared like ``dataset``'s training images, or ImageFileError."""
    assert det.input_shape is not None  # a loaded detector knows its input
    return load_image_path(path, det.input_shape[0], det.input_shape[1], dataset, invert)


def score_files(det: BaseDetector, files: list[Path], dataset: str, invert: bool, batch_size: int,
                bar: ProgressBar) -> list[FileScore]:
    """One row per file, in order: decoded one by one, scored ``batch_size`` good images at a time."""
    rows: list[FileScore | None] = [None] * len(files)
    pending: list[tuple[int, np.ndarray]] = []

    def flush() -> None:
        anomaly = det.decision_function(np.stack([x for _, x in pending]))
        flagged = None if det.threshold_ is None else is_anomaly(anomaly, det.threshold_)
        for j, (i, _) in enumerate(pending):
            verdict = "" if flagged is None else "anomaly" if flagged[j] else "normal"
            rows[i] = FileScore(str(files[i]), float(-anomaly[j]), float(anomaly[j]), verdict)
        pending.clear()

    for i, path in enumerate(files):
        try:
            pending.append((i, read_image(path, det, dataset, invert)))
        except ImageFileError as exc:
            rows[i] = FileScore(str(path), error=str(exc))
        if len(pending) >= batch_size or (pending and i == len(files) - 1):
            flush()
        bar.update((i + 1) / len(files), f"{i + 1}/{len(files)} files")
    return [r for r in rows if r is not None]


def write_rows(rows: list[FileScore], out: Path) -> None:
    """CSV (one header line, empty cells for missing values) or a JSON list of objects (null for them)."""
    records = [asdict(r) for r in rows]
    if out.suffix.lower() == ".json":
        out.write_text(json.dumps(records, indent=1))
        return
    with out.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(records[0]))
        writer.writeheader()
        writer.writerows(records)


def print_rows(rows: list[FileScore]) -> None:
    """The rows as a table on stdout; long paths keep their end, where the file's name is."""
    width = min(60, max(len(r.path) for r in rows))
    print(f"{'path':<{width}} {'score':>16} {'anomaly score':>16}  verdict")
    for r in rows:
        path = r.path if len(r.path) <= width else "..." + r.path[-(width - 3):]
        if r.error:
            print(f"{path:<{width}} {'-':>16} {'-':>16}  error: {r.error}")
        else:
            assert r.score is not None and r.anomaly_score is not None  # rows without an error have scores
            print(f"{path:<{width}} {format_score(r.score):>16} {format_score(r.anomaly_score):>16}  "
                  f"{r.verdict or '-'}")


def add_score_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--run", required=True, help="a run folder (its model.pt and saved threshold)")
    p.add_argument("paths", nargs="+", metavar="PATH", help="image files, or folders to search recursively")
    p.add_argument("--out", help=f"also write the rows to this file: {' or '.join(OUT_FORMATS)}")
    p.add_argument("--invert", action="store_true",
                   help="reverse grey levels first (dark strokes on light paper, for a model of light-on-dark digits)")
    p.add_argument("--batch-size", type=positive_int, default=256, help="images decoded and scored at a time")
    p.add_argument("--device", type=device_arg, default="auto", help=f"{DEVICE_CHOICES} (auto: the GPU if present)")


@command("score", "score image files and folders with a trained run, with its saved threshold's verdict "
                  "(exit code 1 when some file could not be scored, 2 when nothing could run)")(add_score_args)
def score_command(args: argparse.Namespace) -> int:
    out = Path(args.out) if args.out else None
    if out is not None and out.suffix.lower() not in OUT_FORMATS:
        raise ValueError(f"--out {out}: write a {' or '.join(OUT_FORMATS)} file")
    files = files_under(args.paths)
    run = read_run(args.run)
    det = load_run_detector(run, args.device)
    if det.threshold_ is None:
        print(f"note: {det.missing_threshold()}; the verdicts are left empty", file=sys.stderr)
    rows = score_files(det, files, run.meta["dataset"], args.invert, args.batch_size, ProgressBar("scoring"))
    print_rows(rows)
    if out is not None:
        write_rows(rows, out)
    failed = sum(bool(r.error) for r in rows)
    print(json.dumps({"run": str(run.path), "method": run.meta.get("method", "geom"), "files": len(rows),
                      "scored": len(rows) - failed, "failed": failed,
                      "anomalies": None if det.threshold_ is None else sum(r.verdict == "anomaly" for r in rows),
                      "threshold": det.threshold_, "out": args.out}))
    return EXIT_SOME_FAILED if failed else 0
