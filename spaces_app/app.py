"""fennec_hub Space: name an image dataset, get the Hub checkpoints worth fine-tuning, ranked.

Run it locally with ``python spaces_app/app.py`` and open http://127.0.0.1:7860.

Environment:
    FENNEC_ZOO               Hub dataset repo id of a published zoo (default: the zoo embedded in
                             fennec_hub, which works offline).
    FENNEC_DATASET_PICKER    ``hub`` (Hub search box), ``dropdown`` (the built-in dataset registry,
                             works offline) or ``textbox``. Default: ``hub`` when its package is
                             installed and the Hub is not in offline mode, else ``dropdown``.

The ranking handler :func:`rank` is importable and never raises: every problem comes back as a
readable message, so visitors never see a traceback.
"""

from __future__ import annotations

import difflib
import logging
import math
import os
import re
import tempfile
import threading
import time
import sys
import uuid
from pathlib import Path
from typing import Any

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # no calls home from the Space

import gradio as gr  # noqa: E402
import numpy as np
import pandas as pd

try:
    import fennec_hub
except ImportError:  # `python spaces_app/app.py` from a checkout where the package is not installed
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    import fennec_hub
from fennec_hub import datasets as fh_datasets
from fennec_hub import hub as fh_hub

log = logging.getLogger("fennec_hub.space")

TITLE = "fennec_hub · which checkpoint should I fine-tune?"
DEFAULT_DATASET = "cifar100"
EXAMPLES = ("cifar100", "food101", "dtd", "eurosat", "pets", "flowers", "svhn", "caltech101")
ANY = "any"
MAX_PARAMS_CHOICES = [ANY, "5M", "10M", "25M", "50M", "100M", "300M", "1B"]
TOP_K_MAX = 100
# (label, value) of the fine-tuning protocols a ranking can follow (fennec_hub.recommend.protocols()).
PROTOCOL_CHOICES = [
    ("All recorded protocols", ANY),
    ("Full fine-tuning, 30 epochs (TransferGraph)", "transfergraph_hf"),
    ("1,000 training examples (VTAB-1k)", "vtab1k_hf"),
    ("Keras ImageNet models, full fine-tuning", "keras"),
    ("PARC controlled bank", "parc"),
    ("Fennec benchmark", "fennec"),
]
TABLE_COLUMNS = ["Rank", "Model", "Score", "Params (M)", "Library", "License", "Why"]
TABLE_DATATYPES = ["number", "markdown", "number", "number", "str", "str", "str"]
TASK_SOURCES = {
    "history": "This dataset has fine-tuning records, so its place in the transfer space is learned from them.",
    "stored": "This dataset's vector is stored in the zoo.",
    "metadata": "No fine-tuning records for this dataset: it is placed from its metadata (classes, size, "
                "domain, class names), so treat the ranking as a first guess.",
    "images": "This dataset is placed from features of a sample of its images.",
}
HUB_URL = "https://huggingface.co/"
# Normalised ids of checkpoints that live outside the Hub (see the team's model-id contract).
OFF_HUB_PREFIXES = ("pytorchcv/", "keras/", "parc/", "vtab/", "torchvision/")
_MAX_DATASET_CHARS = 200

HEADER = """
# fennec_hub — which checkpoint should I fine-tune?
Name an image dataset (a short name like `cifar100` or a Hub dataset id) and get Hugging Face vision
checkpoints ranked by **predicted transfer**: how well each is expected to do once fine-tuned on
that dataset (score 100 = the zoo's best for it). Scores are vector arithmetic in a learned
transfer space ([Fennec, arXiv 2403.06382](https://arxiv.org/abs/2403.06382)): no GPU, no
downloads, milliseconds.
"""

FOOTER = """
**Reading the results.** *Score* is predicted transfer rescaled for this dataset (100 = the zoo's
best, 0 = its worst), so compare it within one dataset only. *Why* says what the prediction rests
on: the checkpoint's own fine-tuning records, or a cold start from its architecture and metadata. In the plot, the orange line is the Pareto front: no other checkpoint is both
smaller and predicted better, so those are the ones worth a look when size matters.
The same ranking from Python: `fennec_hub.recommend("cifar100")`; from a shell:
`fennec-hub recommend cifar100 --top-k 10`.
"""

CSS = """
.gradio-container {max-width: 1320px !important; margin: auto;}
#fennec-message {min-height: 3em;}
#fennec-examples button {min-width: 0; flex: 0 0 auto;}
#fennec-table td, #fennec-table th, #fennec-table span {font-family: var(--font); font-size: 0.92rem;}
"""


def launch_options() -> dict[str, Any]:
    """Theme and CSS for ``Blocks.launch`` (Gradio 6 takes them there, not in ``Blocks``)."""
    return {"theme": gr.themes.Soft(primary_hue="orange", secondary_hue="amber"), "css": CSS}


# --------------------------------------------------------------------------------------------
# Zoo and registry access


_zoo_lock = threading.Lock()
_zoos: dict[str, Any] = {}  # "" = the embedded/env default; Hub zoos in load order
_MAX_HUB_ZOOS = 4


def zoo_repo_from_env() -> str:
    """The zoo repo named by ``$FENNEC_ZOO`` ('' means the embedded default)."""
    return os.environ.get("FENNEC_ZOO", "").strip()


def load_zoo(zoo_repo: str | None = None) -> Any:
    """The zoo to rank with: the advanced field's repo, else ``$FENNEC_ZOO``, else the embedded one.

    Loaded once per repo and shared by all visitors (loading is the only slow step).
    """
    repo = (zoo_repo or "").strip() or zoo_repo_from_env()
    if repo:  # owner/name, hf://datasets/owner/name or the repo's URL; anything else: ValueError
        repo = fh_hub.parse_repo_id(repo, repo_type="dataset", argument="zoo")
    with _zoo_lock:
        if repo not in _zoos:
            hub_zoos = [key for key in _zoos if key]
            if repo and len(hub_zoos) >= _MAX_HUB_ZOOS:  # visitors can name any repo: bound memory
                del _zoos[hub_zoos[0]]
            _zoos[repo] = fennec_hub.Zoo.from_hub(repo) if repo else fennec_hub.Zoo.default()
        return _zoos[repo]


def _zoo_column(zoo: Any, column: str) -> list[str]:
    """Sorted distinct non-empty values of one column of the zoo's model table."""
    models = getattr(zoo, "models", None)
    if not isinstance(models, pd.DataFrame) or column not in models.columns:
        return []
    values = models[column].dropna().astype(str).str.strip()
    return sorted(v for v in values.unique() if v)


def _registry() -> list[Any]:
    try:
        return list(fh_datasets.list_datasets())
    except Exception:  # the registry is a convenience for suggestions, never a reason to fail
        log.exception("could not list the dataset registry")
        return []


def _registry_names() -> list[str]:
    names: list[str] = []
    for entry in _registry():
        names.extend([entry.id, *getattr(entry, "aliases", ())])
    return list(dict.fromkeys(n for n in names if n))


def suggest_datasets(name: str, n: int = 5) -> list[str]:
    """Registry names closest to ``name`` (for messages about datasets we cannot use)."""
    names = _registry_names()
    lowered = {n_.lower(): n_ for n_ in names}
    close = difflib.get_close_matches(name.lower(), list(lowered), n=n, cutoff=0.45)
    tail = name.rsplit("/", 1)[-1].lower()
    if tail != name.lower():
        close += difflib.get_close_matches(tail, list(lowered), n=n, cutoff=0.45)
    picked = list(dict.fromkeys(lowered[c] for c in close))[:n]
    return picked or [e for e in EXAMPLES[:4]]


def _describe_dataset(name: str) -> str:
    """One line about the dataset from the registry ('' when it is not registered)."""
    try:
        entry = fh_datasets.resolve_dataset(name)
    except Exception:
        return f"**{md_escape(name)}**"
    bits = [f"`{entry.id}`"]
    if getattr(entry, "num_classes", None):
        bits.append(f"{entry.num_classes:,} classes")
    if getattr(entry, "train_size", None):
        bits.append(f"{entry.train_size:,} training images")
    if getattr(entry, "domain", None):
        bits.append(str(entry.domain))
    return f"**{entry.name}** ({', '.join(bits)})"


# --------------------------------------------------------------------------------------------
# Ranking handler


_HUB_DATASET_URL = re.compile(r"^(?:https?://)?(?:www\.)?huggingface\.co/datasets/([^/?#\s]+/[^/?#\s]+)")


def dataset_id_from_text(text: str | None) -> str:
    """What the visitor typed, trimmed; a pasted Hub dataset URL becomes its repo id."""
    name = str(text or "").strip()
    match = _HUB_DATASET_URL.match(name)
    return match.group(1) if match else name


def _max_params_arg(value: Any) -> int | str | None:
    if value is None:
        return None
    if isinstance(value, (int, float)):
        return None if value <= 0 or math.isnan(value) else int(value)
    text = str(value).strip()
    if not text or text.lower() == ANY:
        return None
    return text


def _top_k_arg(value: Any) -> int:
    try:
        k = int(value)
    except (TypeError, ValueError):
        k = 10
    return max(1, min(TOP_K_MAX, k))


def model_url(model_id: str) -> str | None:
    """The checkpoint's Hub page, or None for benchmark models that are not on the Hub."""
    if model_id.startswith(OFF_HUB_PREFIXES) or "/" not in model_id:
        return None
    return HUB_URL + model_id


def _model_cell(model_id: str) -> str:
    url = model_url(model_id)
    return f"[{model_id}]({url})" if url else f"{model_id} *(not on the Hub)*"


def _score_decimals(scores: pd.Series) -> int:
    spread = float(scores.abs().max()) if len(scores) else 0.0
    return 1 if spread >= 10 else 3


def results_table(ranked: pd.DataFrame) -> pd.DataFrame:
    """The visible table: rank, linked model, score, size in millions, library, license, why."""
    params = pd.to_numeric(ranked["params"], errors="coerce") / 1e6
    return pd.DataFrame(
        {
            "Rank": ranked["rank"].astype(int).to_numpy(),
            "Model": [_model_cell(str(m)) for m in ranked["model_id"]],
            "Score": ranked["score"].astype(float).round(_score_decimals(ranked["score"])).to_numpy(),
            "Params (M)": params.round(1).to_numpy(),
            "Library": ranked["library"].fillna("").astype(str).to_numpy(),
            "License": ranked["license"].fillna("unknown").astype(str).to_numpy(),
            "Why": ranked["why"].fillna("").astype(str).to_numpy(),
        },
        columns=TABLE_COLUMNS,
    )


def empty_table() -> pd.DataFrame:
    return pd.DataFrame(columns=TABLE_COLUMNS)


_csv_root = Path(tempfile.mkdtemp(prefix="fennec-space-csv-"))
_CSV_MAX_AGE_S = 3600


def _prune_csv_files() -> None:
    """Drop CSVs older than an hour (Gradio serves its own cached copy of each)."""
    cutoff = time.time() - _CSV_MAX_AGE_S
    for folder in _csv_root.iterdir():
        try:
            if folder.stat().st_mtime < cutoff:
                shutil.rmtree(folder, ignore_errors=True)
        except OSError:
            pass


def write_csv(ranked: pd.DataFrame, dataset: str) -> str:
    """Write the ranked rows (plus Hub links) to a fresh file and return its path."""
    _prune_csv_files()
    out = ranked.copy()
    out["url"] = [model_url(str(m)) or "" for m in out["model_id"]]
    slug = re.sub(r"[^A-Za-z0-9]+", "_", dataset).strip("_")[:60] or "dataset"
    folder = _csv_root / uuid.uuid4().hex
    folder.mkdir(parents=True)
    path = folder / f"fennec_hub_{slug}_top{len(out)}.csv"
    out.to_csv(path, index=False)
    return str(path)


def pareto_front(params: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """Indices of models that no other model beats with fewer or equal parameters, smallest first."""
    order = np.lexsort((-scores, params))
    front, best = [], -np.inf
    for i in order:
        if scores[i] > best:
            front.append(i)
            best = scores[i]
    return np.asarray(front, dtype=int)


def transfer_plot(ranked: pd.DataFrame, top_k: int, dataset_label: str):
    """Predicted transfer against size (log axis) for the whole filtered zoo, top-k and Pareto front marked."""
    from matplotlib.figure import Figure  # no pyplot: figures stay thread-local
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    params = pd.to_numeric(ranked["params"], errors="coerce").to_numpy(dtype=float)
    scores = ranked["score"].to_numpy(dtype=float)
    ok = np.isfinite(params) & (params > 0) & np.isfinite(scores)
    if ok.sum() == 0:
        return None
    ids = ranked["model_id"].astype(str).to_numpy()
    in_top = ranked["rank"].to_numpy() <= top_k
    p, s, ids_ok, top_ok = params[ok] / 1e6, scores[ok], ids[ok], in_top[ok]

    # Fixed margins (one drawing pass; a layout engine costs several on every request).
    fig = Figure(figsize=(8, 5.2), dpi=100)
    fig.subplots_adjust(left=0.085, right=0.985, top=0.94, bottom=0.18)
    ax = fig.add_subplot()
    if (~top_ok).any():
        ax.scatter(p[~top_ok], s[~top_ok], s=14, color="#b8bec9", alpha=0.7, label="other checkpoints", zorder=1)
    if top_ok.any():
        ax.scatter(p[top_ok], s[top_ok], s=34, color="#2563eb", label=f"your top {int(in_top.sum())}", zorder=3)
    front = pareto_front(p, s)
    ax.plot(p[front], s[front], color="#f97316", lw=1.6, marker="o", ms=7, mfc="none", mew=1.6,
            drawstyle="steps-post", label="Pareto front (smaller and better)", zorder=2)
    ax.set_xscale("log")
    ax.margins(x=0.06, y=0.1)
    lo, hi = ax.get_xlim()
    decades = math.log10(hi / lo)
    if decades <= 3:  # few decades: label 1-2-5 steps so the axis can still be read
        ax.xaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.xaxis.set_minor_formatter(NullFormatter())
    # Label a few front points (best first; none closer than ~12% of the axes to an earlier label)
    # so the trade-off can be read off the plot; labels near the right edge go left of their point.
    ylo, yhi = ax.get_ylim()
    placed: list[tuple[float, float]] = []
    for i in sorted(front, key=lambda i: -s[i]):
        fx = (math.log10(p[i]) - math.log10(lo)) / max(decades, 1e-9)
        fy = (s[i] - ylo) / max(yhi - ylo, 1e-9)
        if len(placed) == 6 or any(abs(fx - a) < 0.22 and abs(fy - b) < 0.09 for a, b in placed):
            continue
        placed.append((fx, fy))
        name = ids_ok[i].split("/", 1)[-1]
        name = name if len(name) <= 30 else name[:29] + "…"
        ax.annotate(name, (p[i], s[i]), xytext=(-6 if fx > 0.7 else 6, 5), textcoords="offset points",
                    ha="right" if fx > 0.7 else "left", fontsize=7.5, color="#9a3412",
                    bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none", "alpha": 0.8})
    hidden = int((~ok).sum())
    unknown = f"; {hidden} of unknown size not shown" if hidden else ""
    ax.set_xlabel(f"parameters (millions, log scale){unknown}")
    ax.set_ylabel("predicted transfer score")
    ax.set_title(f"Predicted transfer vs size — {dataset_label}", fontsize=11)
    ax.grid(True, which="major", alpha=0.3)
    fig.legend(loc="lower center", ncols=3, fontsize=8, frameon=False)
    return fig


_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()<>#+!|~])")


def md_escape(text: str) -> str:
    """User text made inert inside Markdown (no links, emphasis or HTML)."""
    return _MD_SPECIAL.sub(r"\\\1", text)


def _error(message: str) -> tuple[pd.DataFrame, None, None, str]:
    return empty_table(), None, None, message


def _suggestion_text(names: list[str]) -> str:
    return ", ".join(f"`{n}`" for n in names)


def _filters_text(max_params: Any, licenses: list[str] | None, library: str | None) -> str:
    parts = []
    if max_params is not None:
        parts.append(f"≤ {max_params} parameters")
    if licenses:
        parts.append("license " + " / ".join(licenses))
    if library:
        parts.append(f"library {library}")
    return ", ".join(parts)


def _hub_dataset_message(shown: str, error: Exception, hints: list[str]) -> str:
    """What to tell a visitor whose dataset could not be read from the Hub."""
    try_these = _suggestion_text(hints)
    if isinstance(error, fh_hub.GatedRepo):
        return (f"**{shown}** is gated on the Hub: its owners must grant access before anyone can read "
                f"it, and this Space has no access. Try a public dataset such as {try_these}, or run "
                "`fennec-hub recommend` on your machine with your own token.")
    if isinstance(error, fh_hub.RepoNotFound):
        return (f"There is no dataset **{shown}** on the Hub (or it is private). Check the spelling; "
                f"close names that work: {try_these}.")
    if isinstance(error, fh_hub.HubOffline):
        return (f"**{shown}** is not in the built-in registry and the Hub cannot be reached to look it "
                f"up. Registered datasets still work, e.g. {try_these}.")
    return (f"Looking up **{shown}** on the Hub failed ({md_escape(str(error)[:200])}). Registered "
            f"datasets still work, e.g. {try_these}.")


def rank(
    dataset: str | None,
    top_k: int = 10,
    max_params: Any = None,
    licenses: list[str] | None = None,
    library: str | None = None,
    zoo_repo: str | None = None,
    protocol: str | None = None,
    progress: gr.Progress = gr.Progress(),
) -> tuple[pd.DataFrame, Any, str | None, str]:
    """Rank the zoo for ``dataset``: returns (table, plot figure, CSV path, Markdown message).

    ``protocol``: one of the records' fine-tuning protocols (see ``PROTOCOL_CHOICES``); empty or
    "any" uses them all.

    Wraps :func:`fennec_hub.recommend`; never raises. On failure the table is empty, the plot and
    CSV are None and the message says what went wrong and what to try instead.
    """
    name = dataset_id_from_text(dataset)
    shown = md_escape(name[:_MAX_DATASET_CHARS])
    if not name:
        return _error("Type a dataset name or a Hub dataset id (for example `cifar100` or "
                      "`uoft-cs/cifar100`), or click one of the examples.")
    if len(name) > _MAX_DATASET_CHARS:
        return _error("That dataset name is too long to be a dataset id.")
    k = _top_k_arg(top_k)
    mp = _max_params_arg(max_params)
    lic = [str(x) for x in (licenses or []) if x and str(x) != ANY] or None
    lib = None if not library or str(library) == ANY else str(library)
    proto = None if not protocol or str(protocol) == ANY else str(protocol)

    progress(0.1, desc="Loading the model zoo")
    try:
        zoo = load_zoo(zoo_repo)
    except ValueError as exc:
        return _error(md_escape(str(exc)))
    except fh_hub.GatedRepo:
        return _error(f"The zoo repo `{zoo_repo or zoo_repo_from_env()}` is gated: this Space has no access. "
                      "Clear the *Zoo* field to use the built-in zoo.")
    except fh_hub.RepoNotFound:
        return _error(f"No zoo repo `{zoo_repo or zoo_repo_from_env()}` on the Hub (or it is private). "
                      "Clear the *Zoo* field to use the built-in zoo.")
    except fh_hub.HubError as exc:
        return _error(f"Could not load the zoo from the Hub ({exc}). Clear the *Zoo* field to use "
                      "the built-in zoo, which works offline.")
    except Exception:
        log.exception("loading zoo %r failed", zoo_repo)
        return _error("The model zoo could not be loaded. This is a bug; please report it.")

    progress(0.5, desc=f"Ranking checkpoints for {name}")
    try:
        start = time.perf_counter()
        # Every model that passes the filters: the plot shows them all, the table the first k
        # (the same rows, in the same order, as recommend(name, top_k=k)).
        ranked = fennec_hub.recommend(name, top_k=None, zoo=zoo, max_params=mp, licenses=lic, library=lib,
                                      protocol=proto)
        elapsed_ms = (time.perf_counter() - start) * 1e3
    except fh_datasets.UnknownDatasetError as exc:
        # recommend() reports a failed Hub lookup as UnknownDatasetError caused by the Hub error.
        cause = exc.__cause__
        hints = list(getattr(exc, "suggestions", None) or []) or suggest_datasets(name)
        if isinstance(cause, fh_hub.HubError):
            return _error(_hub_dataset_message(shown, cause, hints))
        return _error(f"I don't know a dataset called **{shown}**. Did you mean "
                      f"{_suggestion_text(hints)}? Hub dataset ids (`owner/name`) work too.")
    except fh_hub.HubError as exc:
        return _error(_hub_dataset_message(shown, exc, suggest_datasets(name)))
    except ValueError as exc:  # bad filter values and similar input problems
        return _error(md_escape(str(exc)))
    except Exception:
        log.exception("ranking %r failed", name)
        return _error(f"Something went wrong while ranking **{shown}**. This is a bug; please report it.")

    filters = _filters_text(mp, lic, lib)
    if ranked.empty:
        return _error(f"No checkpoint passes the filters ({filters}). Loosen them and rank again.")

    progress(0.8, desc="Drawing")
    top = ranked.head(k)
    attrs = ranked.attrs
    dataset_id = str(attrs.get("dataset") or name)
    try:
        figure = transfer_plot(ranked, k, str(attrs.get("dataset_name") or dataset_id))
    except Exception:  # a plot problem must not hide the table
        log.exception("plot for %r failed", name)
        figure = None
    csv_path = write_csv(top, dataset_id)
    n_models = int(attrs.get("n_models") or len(ranked))
    scope = (f"**{len(ranked):,}** of {n_models:,} checkpoints pass the filters ({filters})" if filters
             else f"all **{n_models:,}** checkpoints of the zoo")
    message = (
        f"{_describe_dataset(dataset_id)}: top **{len(top)}** shown; {scope} ranked in "
        f"**{elapsed_ms:,.0f} ms**. {TASK_SOURCES.get(str(attrs.get('task_vector_source')), '')}"
    )
    if proto:
        label = dict((v, k) for k, v in PROTOCOL_CHOICES).get(proto, proto)
        message += f" Ranked as under one fine-tuning protocol: *{md_escape(label)}*."
    return results_table(top), figure, csv_path, message


# --------------------------------------------------------------------------------------------
# User interface


def _hub_search_class() -> Any:
    try:
        from gradio_huggingfacehub_search_next import HuggingfaceHubSearch
    except ImportError:
        return None
    return HuggingfaceHubSearch


def dataset_picker_kind(requested: str | None = None) -> str:
    """Which dataset box to show: ``hub``, ``dropdown`` or ``textbox`` (see the module docstring)."""
    kind = (requested or os.environ.get("FENNEC_DATASET_PICKER") or "").strip().lower()
    if kind in ("dropdown", "textbox"):
        return kind
    hub_search = _hub_search_class() is not None
    if kind == "hub":
        return "hub" if hub_search else "textbox"
    from huggingface_hub import constants

    return "hub" if hub_search and not constants.HF_HUB_OFFLINE else "dropdown"


def _dataset_box(kind: str, value: str) -> Any:
    label = "Dataset"
    placeholder = "cifar100, food101 or a Hub dataset id such as uoft-cs/cifar100"
    if kind == "hub":
        return _hub_search_class()(value=value, label=label, placeholder=placeholder,
                                   search_type="dataset", sumbit_on_select=True, elem_id="fennec-dataset")
    if kind == "dropdown":
        choices = [(f"{e.name} — {e.id}", e.id) for e in _registry()]
        return gr.Dropdown(choices=choices, value=value, label=label, allow_custom_value=True,
                           filterable=True, elem_id="fennec-dataset",
                           info="Pick a known dataset or type any Hub dataset id.")
    return gr.Textbox(value=value, label=label, placeholder=placeholder, elem_id="fennec-dataset")


def build_demo(picker: str | None = None) -> gr.Blocks:
    """The Space's Blocks. ``picker`` overrides ``$FENNEC_DATASET_PICKER`` (hub, dropdown, textbox)."""
    kind = dataset_picker_kind(picker)
    try:
        default_zoo = load_zoo()
        licenses_choices = _zoo_column(default_zoo, "license")
        library_choices = _zoo_column(default_zoo, "library")
        n_models = len(default_zoo.models)
    except Exception:  # the page must still come up; rank() will explain the problem
        log.exception("could not load the default zoo at start-up")
        licenses_choices, library_choices, n_models = [], [], 0
    initial = rank(DEFAULT_DATASET, 10)

    with gr.Blocks(title=TITLE, delete_cache=(3600, 3600)) as demo:
        gr.Markdown(HEADER)
        with gr.Row(equal_height=False):
            with gr.Column(scale=2, min_width=320):
                dataset = _dataset_box(kind, DEFAULT_DATASET)
                gr.Markdown("Examples (one click ranks them):")
                with gr.Row(elem_id="fennec-examples"):
                    example_buttons = [(gr.Button(name, size="sm", variant="secondary"), name)
                                       for name in EXAMPLES]
                top_k = gr.Slider(1, TOP_K_MAX, value=10, step=1, label="How many checkpoints (top-k)")
                with gr.Row():
                    max_params = gr.Dropdown(MAX_PARAMS_CHOICES, value=ANY, allow_custom_value=True,
                                             label="Max parameters", info="e.g. 50M or 1B")
                    library = gr.Dropdown([ANY, *library_choices], value=ANY, allow_custom_value=True,
                                          label="Library")
                licenses = gr.Dropdown(licenses_choices, value=[], multiselect=True, allow_custom_value=True,
                                       label="Licenses", info="Empty means any license.")
                protocol = gr.Dropdown(PROTOCOL_CHOICES, value=ANY, label="Fine-tuning protocol",
                                       info="Models rank differently after full fine-tuning and on 1,000 examples.")
                with gr.Accordion("Advanced: model zoo", open=False):
                    zoo_repo = gr.Textbox(
                        label="Zoo repo (Hub dataset id)", value="",
                        placeholder=zoo_repo_from_env() or f"empty = built-in zoo ({n_models:,} checkpoints)",
                        info="A zoo published with `fennec-hub push`; leave empty for the built-in one.")
                rank_button = gr.Button("Rank", variant="primary", elem_id="fennec-rank")
            with gr.Column(scale=3, min_width=420):
                message = gr.Markdown(initial[3], elem_id="fennec-message")
                plot = gr.Plot(initial[1], label="Predicted transfer vs size", show_label=False,
                               format="png", elem_id="fennec-plot")
        table = gr.Dataframe(initial[0], datatype=TABLE_DATATYPES, label="Ranked checkpoints",
                             interactive=False, wrap=True, max_height=1200, elem_id="fennec-table",
                             column_widths=["6%", "26%", "8%", "9%", "10%", "10%", "31%"],
                             buttons=["fullscreen", "copy"])
        csv = gr.DownloadButton("Download CSV", value=initial[2], size="sm", elem_id="fennec-csv")
        gr.Markdown(FOOTER)

        inputs = [dataset, top_k, max_params, licenses, library, zoo_repo, protocol]
        outputs = [table, plot, csv, message]
        triggers = [rank_button.click]
        if hasattr(dataset, "submit"):
            triggers.append(dataset.submit)
        # One concurrency group for every ranking event: at most 4 run at once, the rest queue.
        gr.on(triggers, rank, inputs, outputs, api_name="rank", concurrency_limit=4, concurrency_id="rank")
        for button, name in example_buttons:
            button.click(lambda n=name: n, None, dataset, api_visibility="private", queue=False).then(
                rank, inputs, outputs, api_visibility="private", concurrency_limit=4, concurrency_id="rank")
    return demo


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO)
    build_demo().launch(**launch_options())
