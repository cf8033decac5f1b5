"""Why it works, 2: gradient ascent on an image to raise its normality score (paper Figure 1)."""

from __future__ import annotations

import numpy as np
import streamlit as st

from core.ascent import PAPER_ASCENT, AscentSettings, gradient_ascent, to_uint8, train_preset_detector
from core.data import DataError, load_dataset
from core.detector import SCORE_METHODS
from core.images import ImageFileError, load_image_file
from core.scores import format_score
from core.train import TrainProgress
from explorer import state
from explorer.charts import show
from explorer.figures.section6 import ascent_comparison_figure, frames_figure, score_curve_figure
from explorer.figures.style import STATIC_CHART

PRESET = "paper preset: MNIST '3', flip × rotations"
SCORES = {"simple": "simplified (the paper's choice)", "dirichlet": "Dirichlet"}

st.title("Why it works · what a high normality score looks like")
st.markdown(
    "Take an image and change its pixels, step by step, in the direction that raises GEOM's normality score "
    "(gradient ascent on the input). If the score has learned what the normal class looks like, the image "
    "should drift towards it. The paper trained on '3's with flips × rotations and started from a '0': after "
    "200 steps it resembled a '3'. A '3' start should stay a '3'."
)
run = state.current_run()
if run is None:
    st.info("No model chosen yet in the sidebar: using the paper's preset model instead (or choose a run).")
elif not state.is_geom(run):
    st.info(f"The sidebar's run ({state.run_kind(run)}) has no one-class GEOM score to climb: using the paper's "
            "preset model instead (or open a GEOM run in the sidebar).")
    run = None
sources = [PRESET] if run is None else [
    f"the sidebar's run ({run.meta['dataset']} · {run.meta['class_label']})", PRESET]
source = st.radio("Model", sources, horizontal=True)

if source == PRESET:
    try:
        data = load_dataset(PAPER_ASCENT.dataset, state.data_dir(), download=False)
    except DataError as exc:
        st.error(f"The paper preset needs MNIST: {exc}")
        st.stop()
    store = state.result_store("ascent")  # the paper-preset detector, trained once per server
    det = store.get("detector")
    if det is None:
        st.caption(f"The preset model is trained once per server ({PAPER_ASCENT.steps} steps of a WRN-10-1 on "
                   "the '3's, 8 transforms): a few minutes on a CPU.")
        if not st.button("Train the preset model", type="primary"):
            st.stop()
        bar = st.progress(0.0, text="training…")

        def on_train(p: TrainProgress) -> None:
            bar.progress(p.fraction, text=f"step {p.step}/{p.total_steps} · loss {p.loss:.3f} · acc {p.accuracy:.2f}")

        det = store.put("detector", train_preset_detector(PAPER_ASCENT, state.data_dir(), progress=on_train))
    dataset_name, default_class = PAPER_ASCENT.dataset, PAPER_ASCENT.starts[0]
else:
    det = state.run_detector(run)
    data = state.run_dataset_or_stop(run)
    dataset_name, default_class = run.meta["dataset"], run.meta["normal_class"]

labels = data.class_labels()
left, right = st.columns(2)
with left:
    origin = st.radio("Start from", ["a test image", "an upload"], horizontal=True)
    if origin == "a test image":
        c1, c2 = st.columns(2)
        cls = c1.selectbox("Class", range(len(labels)), index=int(default_class), format_func=lambda i: labels[i])
        members = np.flatnonzero(data.y_test == cls)
        nth = c2.number_input(f"Which one (of {len(members)})", 0, len(members) - 1, 0)
        index = int(members[nth])
        image, caption = data.x_test[index], f"test image {index} ({labels[cls]})"
    else:
        upload = st.file_uploader("An image file", type=["png", "jpg", "jpeg", "bmp", "gif", "webp"])
        if upload is None:
            st.stop()
        try:
            image = load_image_file(upload.getvalue(), data.channels, data.image_size, dataset_name)
        except ImageFileError as exc:
            st.error(str(exc))
            st.stop()
        index, caption = None, upload.name
    big = image.repeat(4, 0).repeat(4, 1)  # pixel-exact enlargement (the browser would blur)
    st.image(big[..., 0] if big.shape[-1] == 1 else big, width=128, caption=caption)
with right:
    c1, c2 = st.columns(2)
    steps = c1.number_input("Steps", 1, 2000, 200)
    step_size = c2.number_input("Step size (largest pixel change per step)", 0.001, 0.5, 0.05, format="%.3f")
    method = c1.radio("Score to maximise", SCORE_METHODS, index=SCORE_METHODS.index("simple"), format_func=SCORES.get)
    keep_top = c2.slider("Update only the top fraction of pixels by |grad × x|", 0.05, 1.0, 1.0, 0.05,
                         help="The authors kept the top 20%; all pixels changes the image more visibly here.")
    smooth = c1.slider("Gaussian smoothing of each step (σ, pixels)", 0.0, 2.0, 1.0, 0.1)
    clip = c2.checkbox("Clip pixels to the valid range", True)

settings = AscentSettings(int(steps), float(step_size), method, keep_top, smooth, clip,
                          frame_every=max(1, int(steps) // 20))
key = (source, str(run.path) if run else None, caption, settings)
if st.button("Run gradient ascent", type="primary"):
    bar = st.progress(0.0, text="starting…")
    result = gradient_ascent(det, image[None], settings,
                             lambda s, n, v: bar.progress(s / n, text=f"step {s}/{n} · score {format_score(v)}"))
    st.session_state["ascent_result"] = (key, result)

stored = st.session_state.get("ascent_result")
if stored is None or stored[0] != key:
    st.caption("Choose a start image and settings, then run.")
    st.stop()
result = stored[1]
summary = result.summary()
c1, c2, c3 = st.columns(3)
before, after = summary[f"{method}_before"], summary[f"{method}_after"]
c1.metric(f"{method} score before", format_score(before))
change = ("-" if after < before else "+") + format_score(abs(after - before))
c2.metric(f"{method} score after", format_score(after), change)
c3.metric("Mean |pixel change|", f"{summary['mean_abs_change']:.3f}", help="Pixels live in [-1, 1].")
frames = to_uint8(result.frames[:, 0])
f_scores = result.scores[result.frame_steps, 0]
left, right = st.columns([1, 2])
show(frames_figure(frames, result.frame_steps, f_scores), left, width="content", config=STATIC_CHART)
show(score_curve_figure({m: c[:, 0] for m, c in result.curves.items()}, method), right, config=STATIC_CHART)
show(ascent_comparison_figure(frames[0], frames[-1], result.difference[0]), config=STATIC_CHART)
