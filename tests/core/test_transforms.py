"""The transforms must match the authors' definition pixel for pixel: padding, order and index."""

import numpy as np
import pytest
import torch

from core.transforms import Transform, TransformSet, apply_numpy, relation, spec_tag, symmetric_index


def reference_transform(img: np.ndarray, flip: bool, di: int, dj: int, k: int) -> np.ndarray:
    """Slow per-image reference built only from numpy.pad, written independently of the module."""
    out = np.fliplr(img) if flip else img
    h, w = out.shape[:2]
    pad = max(abs(di), abs(dj))
    padded = np.pad(out, ((pad, pad), (pad, pad)) + ((0, 0),) * (out.ndim - 2), mode="symmetric")
    out = padded[pad + di: pad + di + h, pad + dj: pad + dj + w]
    return np.rot90(out, k)


def test_padding_is_half_sample_symmetric():
    row = np.arange(5)
    idx = symmetric_index(np.arange(-3, 8), 5)
    assert row[idx].tolist() == np.pad(row, 3, mode="symmetric").tolist()
    # torch's 'reflect' padding skips the edge pixel: ours must not.
    assert row[idx].tolist()[:4] == [2, 1, 0, 0]


def test_shift_moves_content_up_and_left():
    img = np.arange(16).reshape(4, 4)
    up = apply_numpy(img, Transform(False, 1, 0, 0))
    assert up[0].tolist() == img[1].tolist()  # output[r] = input[r + 1]
    left = apply_numpy(img, Transform(False, 0, 1, 0))
    assert left[:, 0].tolist() == img[:, 1].tolist()


def test_paper_index_order():
    ts = TransformSet.paper(32)
    assert len(ts) == 72
    assert ts[0] == Transform(False, 0, 0, 0)
    for f in (0, 1):
        for i, di in enumerate((0, -8, 8)):
            for j, dj in enumerate((0, -8, 8)):
                for k in range(4):
                    assert ts[36 * f + 12 * i + 4 * j + k] == Transform(bool(f), di, dj, k)
    assert TransformSet.paper(64)[4] == Transform(False, 0, -16, 0)


@pytest.mark.parametrize("channels", [1, 3])
def test_batched_apply_matches_numpy_reference(channels):
    rng = np.random.default_rng(0)
    imgs = rng.normal(size=(5, 32, 32, channels)).astype(np.float32)
    ts = TransformSet.paper(32)
    x = torch.from_numpy(imgs).permute(0, 3, 1, 2).contiguous()
    all_t = ts.apply_all(x).view(5, 72, channels, 32, 32)
    labels = torch.from_numpy(rng.integers(0, 72, size=5))
    one_each = ts.apply(x, labels)
    for n in range(5):
        for t in range(72):
            ref = reference_transform(imgs[n], *ts[t])
            got = all_t[n, t].permute(1, 2, 0).numpy()
            np.testing.assert_array_equal(got, ref)
        np.testing.assert_array_equal(one_each[n].permute(1, 2, 0).numpy(),
                                      reference_transform(imgs[n], *ts[int(labels[n])]))


def test_rotation_is_counter_clockwise():
    img = np.zeros((4, 4))
    img[0, 3] = 1  # top-right corner
    out = apply_numpy(img, Transform(False, 0, 0, 1))
    assert out[0, 0] == 1  # rotated 90 degrees counter-clockwise -> top-left


def test_named_sets_and_names():
    assert TransformSet.flip().names == ["id", "flip"]
    assert TransformSet.translate(7)[1] == Transform(False, 0, 7, 0)
    assert len(TransformSet.flip_rotations()) == 8
    assert TransformSet.by_name("translate7") == TransformSet.translate(7)
    assert Transform(True, -8, 8, 3).name == "flip down8 left8 rot270"
    assert len(set(TransformSet.paper().names)) == 72
    with pytest.raises(ValueError, match="unknown transform set"):
        TransformSet.by_name("spin")
    with pytest.raises(ValueError, match="twice"):
        TransformSet.custom([(0, 0, 0, 0), (0, 0, 0, 4)])


def test_maps_first_built_while_scoring_still_serve_gradients():
    """Scoring (inference mode) before attributions (autograd) in one process must not break them."""
    from core.transforms import _index_maps

    _index_maps.cache_clear()
    tset = TransformSet.paper(32)
    with torch.inference_mode():
        tset.apply_all(torch.zeros(1, 1, 32, 32))
    x = torch.rand(2, 1, 32, 32, requires_grad=True)
    (tset.apply_all(x) * torch.rand(2 * 72, 1, 32, 32)).sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()


# ----- names and relations --------------------------------------------------------------------------
def test_every_paper_transform_is_read_back_from_its_name():
    for size in (32, 64):
        for t in TransformSet.paper(size).transforms:
            assert Transform.from_name(t.name) == t


@pytest.mark.parametrize("name", ["", "bogus", "up8 up8", "rot90 flip", "flip flip", "rot45", "up0", "id rot90"])
def test_a_name_no_transform_has_is_refused(name):
    with pytest.raises(ValueError, match="not a transform name"):
        Transform.from_name(name)


def test_a_list_of_names_is_a_set_that_round_trips_through_its_spec():
    paper = TransformSet.paper(32)
    subset = TransformSet.by_name(", ".join(paper.names[3:9]))
    assert subset.transforms == paper.transforms[3:9]
    assert TransformSet.by_name(subset.spec) == subset and paper.spec == "paper72"
    assert spec_tag(paper.spec) == "paper72" and spec_tag(subset.spec).startswith("6-")
    assert spec_tag(subset.spec) != spec_tag(TransformSet.by_name(", ".join(paper.names[4:10])).spec)


def name(text: str) -> Transform:
    return Transform.from_name(text)


@pytest.mark.parametrize("a,b,expected", [
    ("up8 rot270", "flip down8 rot90", "flip rot180"),  # the MNIST '1' confusion of the README
    ("id", "flip", "flip"),
    ("rot90", "flip rot90", "flip"),  # flip rot90 is rot90 of the flipped image
    ("rot90", "rot270", "rot180"),
    ("up8", "down8", "down16"),
    ("id", "up8 left8 rot90", "up8 left8 rot90"),
])
def test_relation_is_computed_from_the_parameters(a, b, expected):
    assert relation(name(a), name(b)) == name(expected)


def test_relation_holds_on_pixels_for_every_pair_of_the_72():
    """T_b(x) = T_a(R(x)): exactly for flips and turns; away from the reflected borders when R shifts."""
    paper = TransformSet.paper(32)
    x = np.random.default_rng(0).integers(0, 255, (32, 32))
    for a in paper.transforms:
        for b in paper.transforms:
            r = relation(a, b)
            lhs, rhs = apply_numpy(x, b), apply_numpy(apply_numpy(x, r), a)
            if r.shift_rows or r.shift_cols:
                lhs, rhs = lhs[8:24, 8:24], rhs[8:24, 8:24]
            assert np.array_equal(lhs, rhs), (a.name, b.name, r.name)
