"""The Compare page through AppTest: two runs of the tiny fixture side by side, the explanation that
replaces the difference matrix when their transforms differ, and ``?run=&compare=`` links."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from urllib.parse import parse_qs

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from explorer.state import COMPARE_KEY, RUN_KEY
from tests.app_fixtures import copy_run, exceptions, new_app, open_page, page_with_run

TIMEOUT_S = 180


def another_seed(run: Path) -> Path:
    """A copy of ``run`` posing as seed 1 of the same setting, with its mean softmax matrices changed."""
    dest = run.parent / "tiny-seed1"
    shutil.copytree(run, dest)
    meta = json.loads((dest / "run.json").read_text())
    meta["seed"] = meta["config"]["seed"] = 1
    (dest / "run.json").write_text(json.dumps(meta))
    with np.load(dest / "scores.npz") as z:
        arrays = {k: z[k] for k in z.files}
    for key in ("mean_softmax_normal", "mean_softmax_anomalous"):
        arrays[key] = np.roll(arrays[key], 1, axis=1)
    np.savez(dest / "scores.npz", **arrays)
    return dest


@pytest.fixture
def runs(tiny_run, subset_run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    """The tiny run (72 transforms), the same as seed 1, and the 26-transform run, in one results folder."""
    root = tmp_path / "results"
    plain = copy_run(tiny_run.path, root)
    monkeypatch.setenv("GEOM_RESULTS_DIR", str(root))
    return {"plain": plain, "seed1": another_seed(plain), "subset": copy_run(subset_run.path, root), "root": root}


def compare(a: Path, b: Path | None) -> AppTest:
    at = new_app(TIMEOUT_S)
    at.session_state[RUN_KEY] = str(a)
    if b is not None:
        at.session_state[COMPARE_KEY] = str(b)
    at = open_page(at.run(), "compare.py")
    assert not exceptions(at), exceptions(at)
    return at


def picker(at: AppTest, label: str):
    return next(s for s in at.selectbox if s.label == label)


def settings_table(at: AppTest) -> dict[str, tuple[str, str]]:
    frame = at.dataframe[0].value
    return {row["setting"]: (row["run A"], row["run B"]) for _, row in frame.iterrows()}


def test_two_seeds_side_by_side_with_the_difference_of_their_matrices(runs) -> None:
    at = compare(runs["plain"], runs["seed1"])
    assert at.title[0].value == "Compare two runs"
    assert picker(at, "Run A").value == str(runs["plain"]) and picker(at, "Run B").value == str(runs["seed1"])
    assert settings_table(at) == {"seed": ("0", "1")}
    metrics = at.dataframe[1].value
    assert list(metrics.columns) == ["score", "metric", "run A", "run B", "B − A"] and len(metrics) == 6
    assert (metrics["B − A"] == "+0.0").all()  # the same scores: the copy changed only its matrices
    # AUROC per class, the ROC of both runs and both scores, two difference matrices (normal, anomalous)
    charts = [json.loads(c.proto.spec) for c in at.get("plotly_chart")]
    assert len(charts) == 4
    assert [t["name"] for t in charts[0]["data"]] == ["run A", "run B"]
    assert len(charts[1]["data"]) == 1 + 4  # chance, then run x score
    difference = charts[2]["data"][0]
    assert difference["zmid"] == 0 and difference["zmin"] == -difference["zmax"] < 0  # the copy's matrices differ
    assert charts[2]["layout"]["xaxis"]["ticktext"][0] == "0°"  # blocks, the one order
    assert not at.info


def test_different_transforms_explain_why_there_is_no_difference_matrix(runs) -> None:
    at = compare(runs["plain"], runs["subset"])
    assert settings_table(at)["transforms"][0] == "72 (paper72)"
    assert settings_table(at)["transforms"][1].startswith("26 (")
    assert len(at.get("plotly_chart")) == 2  # per-class AUROCs and ROC, no matrices
    reason = " ".join(i.value for i in at.info)
    assert "different transforms (run A 72, run B 26)" in reason and "means nothing" in reason


def test_choosing_run_b_on_the_page(runs) -> None:
    at = compare(runs["plain"], runs["seed1"])
    at = picker(at, "Run B").set_value(str(runs["subset"])).run()
    assert not exceptions(at), exceptions(at)
    assert at.session_state[COMPARE_KEY] == str(runs["subset"])
    assert any("different transforms" in i.value for i in at.info)
    at = picker(at, "Run B").set_value(str(runs["plain"])).run()
    assert any("the same run" in w.value for w in at.warning)


def test_a_link_opens_both_runs(runs) -> None:
    at = new_app(TIMEOUT_S)
    at.query_params["run"] = str(runs["plain"].relative_to(runs["root"]))
    at.query_params["compare"] = str(runs["subset"])
    at = open_page(at.run(), "compare.py")
    assert not exceptions(at), exceptions(at)
    assert at.session_state[RUN_KEY] == str(runs["plain"].resolve())
    assert at.session_state[COMPARE_KEY] == str(runs["subset"].resolve())
    assert picker(at, "Run B").value == str(runs["subset"].resolve())
    caption = next(c.value for c in at.caption if "Link to this comparison" in c.value)
    page, query = re.search(r"\[Link to this comparison\]\((\w+)\?([^)]*)\)", caption).groups()
    assert page == "compare" and parse_qs(query) == {"run": [str(runs["plain"].resolve())],
                                                     "compare": [str(runs["subset"].resolve())]}
    assert any("different transforms" in i.value for i in at.info)


def test_a_link_to_a_run_outside_the_results_folder_is_refused(runs, tmp_path: Path) -> None:
    at = new_app(TIMEOUT_S)
    at.query_params["run"] = str(runs["plain"])
    at.query_params["compare"] = str(tmp_path)
    at.run()  # the app's first page says so in the sidebar, once
    assert any("run to compare with cannot be opened" in w.value and "outside the folders" in w.value
               for w in at.sidebar.warning)
    at = open_page(at, "compare.py")
    assert not exceptions(at), exceptions(at)
    assert COMPARE_KEY not in at.session_state and at.session_state[RUN_KEY] == str(runs["plain"].resolve())


def test_with_one_run_the_page_says_what_to_do(tiny_run, tiny_results_env: Path) -> None:
    at = page_with_run("compare.py", tiny_run.path, TIMEOUT_S)
    assert not exceptions(at), exceptions(at)
    assert any("Comparing needs two GEOM runs" in i.value for i in at.info)
