"""core/config.py: presets for a dataset's shape, step arithmetic, the JSON round trip and its refusals."""

from __future__ import annotations

import pytest

from core.config import PRESETS, GeomConfig, preset_config


def test_presets_for_a_dataset_shape() -> None:
    assert set(PRESETS) == {"paper", "quick", "colour", "tiny"}
    paper = preset_config("paper", 32, 3)
    assert (paper.depth, paper.width, paper.transforms, paper.steps, paper.fit_images) == (10, 4, "paper72", None, None)
    assert paper.holdout_fraction == 0  # the paper trains on every normal image: no hold-out, no threshold
    big = preset_config("paper", 64, 3)
    assert (big.depth, big.width, big.image_size) == (16, 8, 64)  # the paper's 64x64 WRN-16-8
    colour, colour_64 = preset_config("colour", 32, 3), preset_config("colour", 64, 3)
    assert (colour.depth, colour.width, colour.fit_images) == (10, 2, None)
    # at 64x64 the colour preset keeps its network and trains fewer steps, unlike the paper's
    assert (colour_64.depth, colour_64.width) == (10, 2) and colour_64.steps < colour.steps
    quick = preset_config("quick", 32, 1)
    assert (quick.width, quick.steps, quick.fit_images, quick.in_channels) == (1, 1500, 500, 1)
    tiny = preset_config("tiny", 32, 1, seed=3, steps=7)  # overrides go on top of the preset
    assert (tiny.steps, tiny.seed, tiny.batch_size, tiny.max_train_images, tiny.max_test_images) == (7, 3, 64, 500, 600)
    with pytest.raises(ValueError, match="unknown preset 'fast'; choose one of paper, quick, colour, tiny"):
        preset_config("fast", 32, 1)


def test_total_steps() -> None:
    assert GeomConfig(steps=40).total_steps(10_000) == 40  # explicit steps win
    # The paper: ceil(200 / 72) = 3 epochs over 6,000 images x 72 transforms in batches of 128.
    assert GeomConfig().total_steps(6000) == 10_125
    assert GeomConfig(epochs=1, batch_size=64).total_steps(100) == 113  # ceil(100 * 72 / 64)
    assert GeomConfig(transforms="rot4").total_steps(1) == 2  # ceil(200 / 4) = 50 epochs of 4 pairs: ceil(200 / 128)
    assert GeomConfig().total_steps(0) == 1  # at least one step


def test_dict_round_trip_and_unknown_keys() -> None:
    cfg = preset_config("tiny", 32, 1, seed=2)
    assert GeomConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(ValueError, match=r"unknown config fields \['colour'\]"):
        GeomConfig.from_dict({**cfg.to_dict(), "colour": True})


def test_architecture_names_what_the_weights_depend_on() -> None:
    arch = GeomConfig(transforms="rot4", in_channels=1).architecture()
    assert set(arch) == {"network", "depth", "width", "transforms", "image_size", "in_channels"}
    assert len(arch["transforms"]) == 4 and arch["in_channels"] == 1
    assert GeomConfig(seed=5, steps=3).architecture() == GeomConfig().architecture()  # training knobs are not in it


@pytest.mark.parametrize("field,value", [
    ("steps", 0), ("steps", -5), ("batch_size", 0), ("epochs", 0), ("width", 0), ("fit_images", 0),
    ("max_test_images", -1), ("seed", -1), ("lr", 0.0), ("steps", True), ("weight_decay", -1.0),
])
def test_config_refuses_values_that_cannot_train(field, value) -> None:
    with pytest.raises(ValueError, match=f"^{field} must be"):
        GeomConfig(**{field: value})


def test_decision_settings_default_and_their_range() -> None:
    cfg = GeomConfig()
    assert (cfg.contamination, cfg.holdout_fraction, cfg.dirichlet_fit) == (0.05, 0.1, "training")
    for value in (0.5, 1e-3):
        assert GeomConfig(contamination=value).contamination == value
    for value in (0, -0.1, 0.51, 1, float("nan"), True):
        with pytest.raises(ValueError, match=r"contamination must be in \(0, 0\.5\], got"):
            GeomConfig(contamination=value)
    for value in (-0.1, 0.6, float("nan")):
        with pytest.raises(ValueError, match=r"holdout_fraction must be in \[0, 0\.5\]"):
            GeomConfig(holdout_fraction=value)
    with pytest.raises(ValueError, match="unknown dirichlet_fit 'all'; choose one of training, held_out"):
        GeomConfig(dirichlet_fit="all")
    with pytest.raises(ValueError, match="needs held-out images"):
        GeomConfig(dirichlet_fit="held_out", holdout_fraction=0)


def test_a_config_saved_before_hold_outs_reads_as_trained_on_every_image() -> None:
    old = preset_config("tiny", 32, 1).to_dict()
    for field in ("contamination", "holdout_fraction", "dirichlet_fit"):
        del old[field]
    assert GeomConfig.from_dict(old).holdout_fraction == 0  # what those runs did: no hold-out, no threshold
