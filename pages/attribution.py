"""Why it works, 3: where in an image the detector finds it normal or not (captum attributions)."""

from __future__ import annotations

import numpy as np
import streamlit as st

from core.detector import SCORE_METHODS, GeomDetector
from core.explain import METHODS, Attribution, ExplainSettings, explain_score, explain_transforms
from core.runs import RunInfo
from core.scores import RunScores, format_score
from explorer import state
from explorer.charts import show
from explorer.figures.section6 import attribution_overlay_figure, cases_caption
from explorer.figures.style import STATIC_CHART

N_CASES = 4
ANY_IMAGE = "any test image"  # the choice that takes a typed (or linked) dataset test index
HELP = {"ig": "Integrated Gradients: gradients averaged along a straight path from a black image; the map sums to "
              "score(image) − score(black image).",
        "saliency": "Saliency: |gradient| of the target; cheap, local, noisy.",
        "occlusion": "Occlusion: how much the target drops when a window is painted black (slow: one pass per window)."}


def attributions(run: RunInfo, det: GeomDetector, test_images: np.ndarray, indices: tuple[int, ...],
                 settings: ExplainSettings, transform: int | None = None) -> Attribution | list[Attribution]:
    """Attributions of test images ``indices``: of the normality score, or with ``transform`` one per image
    of how surely the classifier recognises it. Shared by every session; computed with a progress bar
    when new."""
    store = state.result_store("attribution")
    key = (str(run.path), state.run_mtime(run), indices, settings, transform)
    found = store.get(key)
    if found is not None:
        return found
    bar = st.progress(0.0, text=f"{METHODS[settings.method]}…")

    def progress(done: int, total: int) -> None:
        bar.progress(min(1.0, done / total), text=f"{METHODS[settings.method]}: pass {done}/{total}")

    x = test_images[list(indices)]
    if transform is None:
        result = explain_score(det, x, settings, progress)
    else:
        result = [explain_transforms(det, x[i:i + 1], [transform], settings, progress) for i in range(len(x))]
    bar.empty()
    return store.put(key, result)


def caption(scores: RunScores, method: str, index: int, label: str, prefix: str) -> str:
    """A title for test image ``index``: its number (the dataset test index every page uses), class,
    score and its percentile among the normal test images."""
    pos = scores.position(index)
    if pos is None:
        return f"{prefix}: #{index} · {label} (not in the run's scored test subset)"
    case = scores.cases(method, [pos])[0]
    return f"{prefix}: #{index} · " + cases_caption(label, case.score, case.percentile)


run = state.require_run()
meta = run.meta
st.title(f"Why it works · where the detector looks ({meta['dataset']} · normal {meta['class_label']})")
st.markdown(
    "Attributions say which pixels push an image's **normality score** up (red) or down (blue), or, per "
    "transform, which pixels let the classifier **recognise the transform** on this image. Compare a typical "
    "normal image with the one you pick, and look at the images the model gets most wrong."
)
det = state.run_detector(run)
data = state.run_dataset_or_stop(run)
scores = state.run_scores(run)
names = meta["class_names"]

c1, c2, c3 = st.columns(3)
# Integrated Gradients by default: its map adds up to the score difference it explains (completeness),
# so what a reader sees is the score's own account of the image; Saliency is only a local slope.
method = c1.radio("Method", list(METHODS), index=list(METHODS).index("ig"), format_func=METHODS.get,
                  help="\n\n".join(HELP.values()))
score = c2.radio("Score", SCORE_METHODS, format_func=lambda m: {"dirichlet": "Dirichlet", "simple": "simplified"}[m])
with c3:
    n_steps = st.slider("IG steps", 8, 128, 32, 8, disabled=method != "ig")
    window = st.slider("Occlusion window (px)", 2, 12, 6, disabled=method != "occlusion")
settings = ExplainSettings(method=method, score=score, n_steps=n_steps, window=window, stride=max(1, window // 2))

cases = scores.worst_cases(score, N_CASES)
typical = scores.typical(score)
options = {"typical": typical}
options.update({f"false positive #{i + 1}": c.test_index for i, c in enumerate(cases["false_positives"])})
options.update({f"false negative #{i + 1}": c.test_index for i, c in enumerate(cases["false_negatives"])})
linked = state.linked_image(scores)
choices = [*options, ANY_IMAGE]
pick = st.selectbox("Image to explain (false positive: an anomaly scored as normal; false negative: the reverse)",
                    choices, index=len(options) if linked is not None else 1 if len(options) > 1 else 0)
if pick == ANY_IMAGE:
    chosen = int(st.number_input(f"Test-set index (0..{len(data.x_test) - 1})", 0, len(data.x_test) - 1,
                                 typical if linked is None else linked))
else:
    chosen = options[pick]

st.subheader("The normality score")
pair = (typical, chosen)
attr = attributions(run, det, data.x_test, pair, settings)
titles = [caption(scores, score, i, names[int(data.y_test[i])], prefix)
          for i, prefix in ((typical, "typical normal"), (chosen, pick))]
show(attribution_overlay_figure([data.x_test[i] for i in pair], list(attr.pixel_maps()), titles),
     key="score-pair", config=STATIC_CHART)
if attr.delta is not None:
    st.caption(f"Integrated Gradients completeness: the map sums to {format_score(attr.maps[1].sum())}; "
               f"score(image) − score(black) = {format_score(attr.value[1] - attr.baseline_value[1])} "
               f"(error {attr.delta[1]:+.3g}; more steps make it smaller).")

st.subheader("One transform: what lets the classifier recognise it")
tnames = det.transforms.names
chosen_pos = scores.position(chosen)
default_t = 0
if chosen_pos is not None and scores.correct_prob is not None:  # the transform the chosen image gets most wrong
    default_t = int(np.argmin(scores.correct_prob[chosen_pos].astype(float)))
t = st.selectbox("Transform", range(len(tnames)), index=default_t, format_func=lambda i: f"{i}: {tnames[i]}",
                 help="Defaults to the transform the classifier recognises worst on the chosen image.")
parts = attributions(run, det, data.x_test, pair, settings, t)
titles = [f"{title.split(' · ')[0]}: log p = {p.value[0]:.3g}" for title, p in zip(titles, parts, strict=True)]
show(attribution_overlay_figure([data.x_test[i] for i in pair], [p.pixel_maps()[0] for p in parts], titles),
     key="transform-pair", config=STATIC_CHART)

st.subheader("Where the model goes wrong")
st.caption(f"The {N_CASES} anomalies with the highest scores and the {N_CASES} normal images with the lowest, "
           "with attributions of the score: what made the model call them normal, or not.")
case_settings = settings
if method != "saliency" and not st.toggle(f"Use {METHODS[method]} here too (slow: {2 * N_CASES} images)", False):
    case_settings = ExplainSettings(method="saliency", score=score)
    st.caption("Shown with Saliency.")
for label, group in (("False positives (anomalies called normal)", cases["false_positives"]),
                     ("False negatives (normal images called anomalous)", cases["false_negatives"])):
    if not group:
        st.caption(f"{label}: none")
        continue
    idx = tuple(c.test_index for c in group)
    st.markdown(f"**{label}**")
    a = attributions(run, det, data.x_test, idx, case_settings)
    tile_titles = [f"#{c.test_index} · {cases_caption(names[c.label], c.score, c.percentile)}" for c in group]
    show(attribution_overlay_figure([data.x_test[i] for i in idx], list(a.pixel_maps()), tile_titles, tile_px=200),
         key=f"cases-{label}", config=STATIC_CHART)
    st.caption(" ".join(f"#{c.test_index}: {state.image_links(run, c.test_index)}." for c in group))
