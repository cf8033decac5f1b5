"""The sidebar every page shares: choose a dataset and normal class, train, or open a saved run; lecture mode
and the page's report."""

from __future__ import annotations

import streamlit as st

from core.config import PRESETS, preset_config, preset_help
from core.data import DATASETS, DataError, ImageDataset, load_dataset
from core.experiment import RunRequest
from core.reproduce import score_key
from core.runs import RunInfo
from core.selection import AUTO, parse_transforms
from core.transforms import TRANSFORM_SETS
from explorer import charts, state
from explorer.jobs import CANCELLED, DONE, FAILED, JOBS, QUEUED, Job, submit_training
from explorer.report import report_html

LIST_CHOICE = "list"
TRANSFORM_CHOICES = {"paper72": TRANSFORM_SETS["paper72"].description,
                     AUTO: "drop those a probe cannot tell apart on held-out normal images",
                     **{n: s.description for n, s in TRANSFORM_SETS.items() if n != "paper72" and s.build is not None},
                     LIST_CHOICE: "the transforms you list"}
TRANSFORMS_HELP = ("What the classifier learns to recognise. auto trains a probe first (twice the training time) "
                   "and keeps one of each group of transforms it cannot tell apart on normal images; the Why page "
                   "shows which transforms carry signal.")
MY_JOBS_KEY = "geom_my_jobs"  # see my_jobs
POLL_S = 1.0  # how often the sidebar redraws a running job's progress


def _loads(name: str) -> bool:
    """Whether a dataset is on this machine (a run trained elsewhere may use one that is not).

    download=False: a missing set fails at once instead of attempting a download on every rerun.
    """
    try:
        load_dataset(name, state.data_dir(), download=False)
    except DataError:
        return False
    return True


def train_panel() -> None:
    """Dataset / class / preset / seed / device and a Train button that queues a training job."""
    st.sidebar.subheader("Train a detector")
    # Start from the chosen run's setting, so the panel never contradicts the run shown above it.
    run = state.current_run()
    meta = run.meta if run is not None and run.meta.get("dataset") in DATASETS and _loads(run.meta["dataset"]) else {}
    name = st.sidebar.selectbox("Dataset", DATASETS, index=DATASETS.index(meta.get("dataset", "digits")),
                                help="digits works offline; the others need GEOM_DATA_DIR or a download")
    try:
        data = state.dataset(name)
    except DataError as exc:
        st.sidebar.error(str(exc))
        return
    labels = data.class_labels()
    run_cls = int(meta.get("normal_class") or 0) if name == meta.get("dataset") else 0  # OOD runs have none
    cls = st.sidebar.selectbox("Normal class", range(len(labels)), format_func=lambda i: labels[i],
                               index=run_cls if run_cls < len(labels) else 0)
    presets = list(PRESETS)
    current = meta.get("preset") if meta.get("preset") in PRESETS else "tiny"
    preset = st.sidebar.selectbox("Preset", presets, index=presets.index(current), help=preset_help())
    seed = st.sidebar.number_input("Seed", min_value=0, value=0, step=1)
    transforms = transforms_choice(meta)
    device = st.sidebar.selectbox("Device", ["auto", "cpu", "cuda"])
    if st.sidebar.button("Train", type="primary", use_container_width=True,
                         help="Training runs on the server: browse other pages meanwhile; the run opens when done."):
        base = preset_config(preset, data.image_size, data.channels)
        try:
            spec = parse_transforms(transforms, base)
        except ValueError as exc:
            st.sidebar.error(str(exc))
            return
        overrides = () if spec == base.transforms else (("transforms", spec),)
        queue_training(RunRequest(name, cls, preset, int(seed), device, state.data_dir(), str(state.results_dir()),
                                  overrides), data, cls)


def transforms_choice(meta: dict) -> str:
    """The transforms to train with, as --transforms takes them (core.selection.parse_transforms checks
    them on Train); the chosen run's own choice first."""
    config = meta.get("config", {}).get("transforms", "paper72")
    current = AUTO if "transform_selection" in meta else config if config in TRANSFORM_CHOICES else LIST_CHOICE
    choice = st.sidebar.selectbox("Transforms", list(TRANSFORM_CHOICES), index=list(TRANSFORM_CHOICES).index(current),
                                  format_func=lambda c: f"{c}: {TRANSFORM_CHOICES[c]}", help=TRANSFORMS_HELP)
    if choice != LIST_CHOICE:
        return choice
    return st.sidebar.text_area("Transforms to keep", config if current == LIST_CHOICE else "0-35", height=80,
                                help="Numbers (as the Transforms page's tiles show them), ranges such as 0-35, or "
                                     "names such as flip rot180, separated by commas.")


def queue_training(request: RunRequest, data: ImageDataset, cls: int) -> Job:
    """Queue a training job for this session: its progress shows in the sidebar and the run opens when done."""
    job = submit_training(request, data, cls, state.session_id())
    mine = my_jobs()
    mine[:] = [k for k in mine if (j := JOBS.get(k)) is not None and j.active]  # drop earlier outcomes
    if job.key not in mine:
        mine.append(job.key)
    return job


def my_jobs() -> list[str]:
    """Keys of the jobs this session asked for: active ones, and failed or cancelled ones until its
    next Train (a finished run is opened and dropped from the list)."""
    return st.session_state.setdefault(MY_JOBS_KEY, [])


def _job_line(job: Job) -> None:
    """One job: its progress, its place in the queue or how it ended, and Cancel for those who asked."""
    if job.state == QUEUED:
        st.caption(f"**{job.title}**: waiting, {JOBS.ahead_of(job)} training(s) ahead")
    elif job.active:
        st.progress(job.fraction, text=f"**{job.title}**: {job.text}")
    elif job.state == FAILED:
        st.error(f"Training {job.title} failed: {job.error}")
    elif job.state == CANCELLED:
        st.caption(f"Training {job.title} cancelled; nothing was saved.")
    if job.key in my_jobs() and job.active and st.button("Cancel", key=f"cancel-{job.key}", use_container_width=True):
        JOBS.cancel(job.key, state.session_id())
        if job.requesters:  # others asked for the same run: it goes on for them, as anyone's job
            my_jobs().remove(job.key)
        st.rerun(scope="app")


def _jobs_panel(polling: bool) -> None:
    """Running and queued jobs (every session's), and how this session's own ones ended.

    Runs as a fragment redrawn every POLL_S while a job is active; when none is any more, one full
    rerun stops the polling and opens the run this session asked for.
    """
    mine = my_jobs()
    opened = [j for j in JOBS.jobs() if j.key in mine and j.state == DONE]
    for job in opened:
        mine.remove(job.key)
        state.select_run(job.result)
    if opened or (polling and not any(j.active for j in JOBS.jobs())):
        st.rerun(scope="app")  # redraw the page with the new run; stop polling
    jobs = [j for j in JOBS.jobs() if j.active or j.key in mine]
    if jobs:
        st.subheader("Training")
    for job in jobs:
        _job_line(job)


def run_picker() -> None:
    """Choose among saved runs (also runs made by `python -m core run`, e.g. on a GPU box)."""
    st.sidebar.subheader("Open a saved run")
    scan = state.available_runs()
    current = state.current_run()
    runs = [r for r in scan.runs if state.is_geom(r)]
    if current is not None and current.path not in [r.path for r in runs]:
        runs.insert(0, current)  # a baseline or a folder opened by path is still the one shown
    if runs:
        names = state.run_names(runs)
        paths = list(names)
        index = paths.index(str(current.path)) if current is not None else None
        choice = st.sidebar.selectbox("Run", paths, index=index, placeholder="choose a run", format_func=names.get)
        if choice and (current is None or choice != str(current.path)):
            state.select_run(choice)
            st.rerun()
    else:
        st.sidebar.caption(f"No runs in {state.results_dir()} yet.")
    if scan.damaged:
        with st.sidebar.expander(f"{len(scan.damaged)} damaged run folder(s), not listed"):
            for _path, reason in scan.damaged:  # the reason names the folder
                st.caption(reason)
    with st.sidebar.expander("Open a run folder"):
        st.caption("Any run folder inside " + ", ".join(f"`{r}`" for r in state.roots()) + ". To open runs "
                   "kept elsewhere (e.g. made with `--out`), start the app with GEOM_RUN_ROOTS listing their "
                   "folders (separated by `:`).")
        folder = st.text_input("Run folder", placeholder="/path/to/<method>/<dataset>/<class>/<preset>-seed<n>")
        if st.button("Open") and folder.strip():
            problem = state.open_folder(folder)
            if problem:
                st.error(problem)
            else:
                st.rerun()


def run_summary(run: RunInfo) -> None:
    """The chosen run in one box: what it is and its AUROC (baselines have their own score)."""
    auroc = run.metrics.get(score_key(run), {}).get("auroc")
    kind = state.run_kind(run)
    method = f"{kind} · " if kind else ""
    st.sidebar.success(f"**{run.meta['dataset']} · {run.meta['class_label']}**  \n"
                       f"{method}{run.meta['preset']} · seed {run.meta['seed']}"
                       + ("" if auroc is None else f" · AUROC {100 * auroc:.1f}"))


def page_panel(run: RunInfo | None, page: str) -> None:
    """Lecture mode for every figure, and this page's report: the run, its settings and the figures the
    page draws (collected by explorer.charts as it draws them; the HTML is built on the click)."""
    report = charts.start_page_report(page, run)
    st.sidebar.toggle("Lecture mode", key=state.LECTURE_KEY,
                      help="Figures for a projector: every text 14 px or larger, in dark colours.")
    if run is not None:
        slug = "-".join(page.lower().split())
        st.sidebar.download_button("Download this run's report", lambda: report_html(report.page, report.runs,
                                                                                    report.figures),
                                   f"geom-{run.path.name}-{slug}.html", "text/html", on_click="ignore",
                                   use_container_width=True, icon=":material/download:",
                                   help="One HTML file, readable offline: the run's settings and metrics and "
                                        "this page's figures, interactive.")


def show_sidebar(page: str) -> None:
    """The sidebar of page ``page`` (its title, which the report takes)."""
    state.recover_leftovers(tuple(map(str, state.roots())))
    run = state.current_run()
    problem = st.session_state.pop(state.PROBLEM_KEY, None)
    if problem:
        st.sidebar.warning(problem)
    if run is not None:
        run_summary(run)
    page_panel(run, page)
    train_panel()
    with st.sidebar:  # after the Train button, so a job it just queued shows (and polls) at once
        polling = any(j.active for j in JOBS.jobs())
        st.fragment(_jobs_panel, run_every=POLL_S if polling else None)(polling)
    run_picker()
