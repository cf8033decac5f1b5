"""bench.peer_speed on a tiny network: both layouts timed, the peer's figures read from its JSON line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.peer_speed import main, read_peer


def test_prints_a_row_per_precision_and_the_ratio_to_the_peer(tmp_path: Path, capsys) -> None:
    peer = tmp_path / "keras.txt"
    peer.write_text("Epoch 1/1 ...\n" + json.dumps({"train_images_per_s": 10.0, "score_images_per_s": 20.0}) + "\n")
    main(["--device", "cpu", "--width", "1", "--channels", "1", "--steps", "1", "--score-images", "8", "--rounds", "1",
          "--peer-json", str(peer)])
    out = capsys.readouterr().out.splitlines()
    result = json.loads(out[-1])
    assert result["precision"] == "fp32" and result["layout"] == "channels_last"
    for key in ("train_images_per_s", "score_images_per_s", "bare_train_nchw_images_per_s",
                "bare_score_channels_last_images_per_s"):
        assert result[key] > 0
    assert out[1].startswith("authors (Keras)")
    ratio = f"{result['train_images_per_s'] / 10:.2f}x / {result['score_images_per_s'] / 20:.2f}x the authors'"
    assert ratio in out[2]


def test_a_peer_file_without_json_is_refused_with_what_to_pass(tmp_path: Path) -> None:
    log = tmp_path / "log.txt"
    log.write_text("Traceback ...\n")
    with pytest.raises(SystemExit, match="run.sh"):
        read_peer(str(log))
