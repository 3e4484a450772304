"""What every page needs: the language, translated text, the active model, cached resources."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from typing import Any

import streamlit as st

from fer import i18n
from fer.data.dataset import DATA_ERROR_KINDS, DataError
from fer.files import is_regular
from fer.jobs.runs import runs_dir
from fer.model.modelio import ModelCard, load_card, one_view_model
from fer.paths import DEFAULT_MODEL, MODELS_DIR, WEBCAM_MODEL
from fer.vision.preprocessing import IMAGE_ERROR_KINDS, ImageError
from ui.warmup import Activity, Step, WarmUp, WarmUpStatus, import_webrtc_before_tensorflow, wait_with_progress

COURSE_MODEL = MODELS_DIR / "course-cnn.keras"
"""The course report's CNN, trained again with its recipe and split (issue 38)."""


LANG_PARAM = "lang"
"""The URL's query parameter that holds the language (?lang=pt): a reload or a shared link keeps it."""


def _url_language() -> str | None:
    """The language the URL names (?lang=pt), when it names one this app has."""
    code = st.query_params.get(LANG_PARAM)
    return code if code in i18n.languages() else None


def lang() -> str:
    """The session's language: the URL's (?lang=), else the one chosen in this session, else the browser's,
    else English."""
    if "lang" not in st.session_state:
        st.session_state["lang"] = _url_language() or i18n.pick_language(getattr(st.context, "locale", None))
    return st.session_state["lang"]


def sync_language() -> str:
    """Once per run, before anything is drawn (app.py): the URL's language wins over the session's, and the
    URL always names the session's language, so a reload, a new tab or a copied link keeps it. Streamlit
    drops the query string when the user goes to another page; this puts it back on that page's first run."""
    url = _url_language()
    if url is not None:
        st.session_state["lang"] = url
    current = lang()
    if st.query_params.get(LANG_PARAM) != current:
        st.query_params[LANG_PARAM] = current
    return current


def t(key: str, **kwargs: Any) -> str:
    """Translated text for the session's language."""
    return i18n.t(key, lang(), **kwargs)


def emotions_sentence(key: str, emotions: tuple[str, ...]) -> str:
    """`key`'s sentence naming `emotions` (LABELS names) in the page's language: `key.one` for a single one, whose
    grammar differs ("its score", "a sua pontuação"), else `key.other`."""
    from fer.labels import display_name

    words = i18n.fmt_list([display_name(k, lang()) for k in emotions], lang())
    return i18n.plural(key, len(emotions), lang(), emotions=words)


def worded(key: str) -> str:
    """`key`, for a choice widget (selectbox, radio, multiselect, select slider, pills) whose options are codes
    shown as words of the session's language (format_func). The browser sends back the chosen option's words,
    not its code: in the first run after a language switch it still holds the old language's words, which no
    option has any more, and Streamlit would reset the widget to its first option on the next click (issue 39:
    Preset and Split flipped). Setting the kept value again in that run makes Streamlit send the new words."""
    drawn = st.session_state.setdefault("_worded_lang", {})
    if key in st.session_state and drawn.get(key, lang()) != lang():
        st.session_state[key] = st.session_state[key]
    drawn[key] = lang()
    return key


UPLOAD_NAMES = "upload_names"
"""Session key: {saved upload's file name: the name the user uploaded it as} (ui.data_source.choose_dataset)."""


def data_error_text(exc: DataError) -> str:
    """Why a dataset was refused, in the session's language: the sentence of `exc.kind` filled in from
    `exc.details`, user strings (file names, archive entries, CSV values) through ui.text.plain, numbers with
    the language's separators; an upload is named as the user named it, not by its saved name. A kind
    without a sentence falls back to the (English) message."""
    from ui.text import plain

    if exc.kind not in DATA_ERROR_KINDS:
        return plain(exc)
    lg = lang()
    details = dict(exc.details)
    if "name" in details:
        details["name"] = st.session_state.get(UPLOAD_NAMES, {}).get(details["name"], details["name"])
    values = {k: i18n.fmt_number(v, lg, 0 if isinstance(v, int) else 1)
              if isinstance(v, int | float) and not isinstance(v, bool) else plain(v)
              for k, v in details.items()}
    return t(f"data_error.{exc.kind}", **values)


def separators() -> str:
    """Plotly's layout.separators for the session's language ('.,' or ',.')."""
    return i18n.plotly_separators(lang())


def localise(fig: Any) -> Any:
    """A plotly figure whose numbers (ticks, hover, text templates) use the session's separators."""
    fig.update_layout(separators=separators())
    return fig


def _switch_language() -> None:
    """The language switch's callback: the session and the URL take the chosen language."""
    choice = st.session_state["lang_select"]
    st.session_state["lang"] = choice
    st.query_params[LANG_PARAM] = choice


def language_switch() -> None:
    """Sidebar selector shown on every page (called from app.py); it writes the session and the URL."""
    codes = list(i18n.languages())
    st.session_state["lang_select"] = lang()  # follows the URL too (a link, the browser's Back)
    st.sidebar.selectbox(t("app.language"), codes, format_func=lambda c: i18n.languages()[c], key="lang_select",
                         on_change=_switch_language)


def available_models() -> dict[str, Path]:
    """{name: path} of the shipped models (models/*.keras, the default first) and of trained runs
    (runs/*/model.keras)."""
    found = {p.stem: p for p in sorted(MODELS_DIR.glob("*.keras"), key=lambda p: (p != DEFAULT_MODEL, p.name))}
    runs = runs_dir()  # read at call time: the same folder the jobs write to (fer.jobs.runs)
    if runs.is_dir():  # never through a link: it could lead anywhere (fer.files, issue 42)
        found |= {f"runs/{p.parent.name}": p for p in sorted(runs.glob("*/model.keras"))
                  if not p.parent.is_symlink() and is_regular(p)}
    return found


STAMPED = re.compile(r"(\d{8}-\d{6})-(.+)")
"""A run folder named by the launcher when the user gave no name: date-time-architecture."""


def model_label(path: Path) -> str:
    """A model as people name it, in the session's language: 'Shipped model' for models/default.keras, 'The
    course's CNN' for models/course-cnn.keras, a shipped model's file name otherwise, and a run as its name and
    date ('tiny-cnn · 5 Dec 2026, 18:19' for
    runs/20261205-181925-tiny-cnn; a named run with the date of its model file), never a path."""
    path = Path(path)
    if path.resolve() == DEFAULT_MODEL.resolve():
        return t("common.shipped")
    if path.resolve() == COURSE_MODEL.resolve():
        return t("common.course_model")
    if path.resolve() == WEBCAM_MODEL.resolve():
        return t("common.webcam_model")
    if path.name != "model.keras":
        return path.stem
    folder = path.parent.name
    stamped = STAMPED.fullmatch(folder)
    if stamped:
        name, when = stamped.group(2), datetime.strptime(stamped.group(1), "%Y%m%d-%H%M%S")
    else:
        try:
            name, when = folder, datetime.fromtimestamp((path if path.exists() else path.parent).stat().st_mtime)
        except OSError:
            return folder
    return t("common.run_name", name=name, date=i18n.fmt_date(when, lang()))
ACTIVE_MODEL = "active_model"
"""Session key: the path of the model the user made active (sidebar, Results' "Use this model")."""
TEACH_ID = "teach_id"
"""Session key: the id of the session's Teach folder (runs/teach/<id>); ui.server deletes that folder when the
session has expired (a reload starts a new session that cannot reach it)."""


def active_model_path() -> Path:
    """The one active model of the session, read by Home, the sidebar, Images, Webcam, How it works and
    Results: the one the user picked, while its file exists, else the shipped default."""
    chosen = st.session_state.get(ACTIVE_MODEL)
    if chosen and Path(chosen).is_file():
        return Path(chosen)
    return DEFAULT_MODEL


def set_active_model(path: Path) -> None:
    """Make `path` the session's active model (every page follows it)."""
    st.session_state[ACTIVE_MODEL] = str(path)


def is_active_model(path: Path) -> bool:
    return path.resolve() == active_model_path().resolve()


def model_name(path: Path) -> str:
    """A model's name for people: its run folder's for a run's model.keras, else the file's stem."""
    return path.parent.name if path.name == "model.keras" else path.stem


@st.cache_resource(show_spinner=False)
def classifier(path: str, mtime: float) -> Any:
    """A loaded, warmed-up classifier, shared by all sessions (keyed by file and mtime)."""
    from fer.model.inference import Classifier
    from fer.tfenv import import_tensorflow

    import_tensorflow()
    clf = Classifier.from_file(path)
    clf.warm_up()
    return clf


@st.cache_resource(show_spinner=False)
def live_classifier(path: str, mtime: float) -> Any:
    """The webcam's classifier: the shared one, one view per face (`Classifier.single_view`), warmed up."""
    clf = classifier(path, mtime).single_view()
    clf.warm_up()
    return clf


def get_classifier(path: Path | None = None, live: bool = False) -> Any:
    """The classifier of a model file (the active model by default); `live`: the webcam's, one view per face
    (for the shipped model its single network, models/webcam.keras, when shipped).

    Waits for the server's warm-up first (TensorFlow's import), with words and a progress bar: call it
    once outside any `st.cache_*` function before calling it inside one, so the wait is drawn on the page.
    A file that is gone or is not a usable model (fer.model.modelio.ModelError) stops the page with a message
    naming it: a garbage model.keras in a run folder is the user's problem, not a server error."""
    from fer.model.modelio import ModelError
    from ui.text import plain

    wait_with_progress(WARM_UP, warm_up_text)
    p = Path(path or active_model_path())
    if live:
        p = one_view_model(p)  # the shipped model's own single network, when shipped (models/webcam.keras)
    try:
        return (live_classifier if live else classifier)(str(p), p.stat().st_mtime)
    except (ModelError, OSError) as exc:
        st.error(t("common.bad_model", name=plain(model_name(p)),
                   error=plain(exc)))
        st.stop()


def _load_default_model() -> None:
    """The shared and the webcam's classifier of the default model, traced; the default detectors."""
    from fer.media.live import LIVE_MAX_SIDE
    from fer.vision.detection import DetectorConfig

    if DEFAULT_MODEL.exists():
        classifier(str(DEFAULT_MODEL), DEFAULT_MODEL.stat().st_mtime)
        live = one_view_model(DEFAULT_MODEL)
        live_classifier(str(live), live.stat().st_mtime)
    detector(DetectorConfig())
    detector(DetectorConfig(max_side=LIVE_MAX_SIDE))


def one_thread_per_op(tf: Any) -> None:
    """The app's TensorFlow runs each op on one thread. On 2 cores the webcam's frame thread shares them
    with video decoding and encoding, and TensorFlow's second thread only competed with those: one
    analysis of three faces took 40-42 ms in the app against 27-31 ms outside it, 36-37 ms against
    27-28 ms on one thread (python -m bench.webcam_app, 2026-12-02). A 12 MP photo costs 4 % more (375
    against 359 ms, bench/images_path.py with TF_NUM_INTRAOP_THREADS=1)."""
    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)


def _import_tensorflow() -> None:
    from fer.tfenv import import_tensorflow

    import_webrtc_before_tensorflow()
    import_tensorflow(setup=one_thread_per_op)


WARM_UP = WarmUp([Step("tensorflow", _import_tensorflow, 6.0), Step("model", _load_default_model, 2.0)])
"""Started once the server is quiet after its start (ui.server.lifespan), else by the first page that needs
a model."""
ACTIVITY = Activity()
"""The server's requests and page runs (ui.server.ActivityMiddleware, app.py): the warm-up waits for quiet."""


def warm_up_text(status: WarmUpStatus) -> str:
    """'Starting TensorFlow (4 s)...': what the warm-up does now, in the session's language."""
    return t(f"warm.{status.step}", s=i18n.fmt_number(status.seconds, lang(), 0))


@st.cache_resource(show_spinner=False)
def detector(config: Any) -> Any:
    """A thread-safe detector per DetectorConfig (frozen, hashable), shared by all sessions."""
    from fer.vision.detection import Detector

    return Detector(config)


def model_card(path: Path) -> ModelCard | None:
    return load_card(path)


def image_error(name: str, exc: ImageError) -> str:
    """The translated message for an unusable upload, specific to what is wrong with it (Images, Teach)."""
    from ui.text import plain

    if exc.kind in IMAGE_ERROR_KINDS:
        d = exc.details
        return t(f"images.error_{exc.kind}", name=plain(name), w=d.get("width", "?"), h=d.get("height", "?"),
                 limit=d.get("limit", "?"), mb=d.get("mb", "?"))
    return t("images.bad_file", name=plain(name), reason=plain(exc))
