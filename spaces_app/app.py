"""fennec_hub Space: name an image dataset, get the Hub checkpoints worth fine-tuning, ranked.

Run it locally with ``python spaces_app/app.py`` and open http://127.0.0.1:7860; deploy it with
``fennec-hub deploy-space REPO_ID`` (fennec_hub.deploy), which puts a copy of the package next to
this file.

Environment (the Space card, README.md, documents each):
    FENNEC_ZOO               Hub dataset repo id of a published zoo (default: the zoo embedded in
                             fennec_hub, which works offline).
    FENNEC_DATASET_PICKER    ``hub`` (Hub search box), ``dropdown`` (the built-in dataset registry,
                             works offline) or ``textbox``. Default: ``hub`` when its package is
                             installed and the Hub is not in offline mode, else ``dropdown``.
    FENNEC_SPACE_CONCURRENCY, FENNEC_SPACE_QUEUE_SIZE, FENNEC_SPACE_RANK_CACHE
                             how many rankings run at once, wait, and are kept for reuse.
    FENNEC_SPACE_ZOO_ALLOW, FENNEC_SPACE_ZOO_DENY, FENNEC_SPACE_ZOO_LOADS,
    FENNEC_SPACE_ZOO_LOAD_EVERY_S, FENNEC_SPACE_MAX_ZOO_BYTES, FENNEC_SPACE_PROXY_HOPS
                             which zoo repos visitors may make the Space download, how many, how big.

The handlers :func:`rank` and :func:`ranking_csv` are importable and never raise: every problem
comes back as a readable message, so visitors never see a traceback.
"""

from __future__ import annotations

import difflib
import fnmatch
import html
import json
import logging
import math
import os
import re
import shutil
import tempfile
import threading
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # no calls home from the Space

import gradio as gr  # noqa: E402
import numpy as np
import pandas as pd
from huggingface_hub.errors import HFValidationError

try:
    import fennec_hub  # on a Space: the copy `fennec-hub deploy-space` puts next to this file
except ImportError as exc:
    raise ImportError("fennec_hub is not importable: deploy the Space with `fennec-hub deploy-space`, which "
                      "copies the package next to app.py, or install it (`pip install -e .` in a checkout)") from exc
from fennec_hub import datasets as fh_datasets
from fennec_hub import hub as fh_hub
from fennec_hub.ranking import MAX_PARAMS, parse_params

log = logging.getLogger("fennec_hub.space")

TITLE = "fennec_hub · which checkpoint should I fine-tune?"
DEFAULT_DATASET = "cifar100"
EXAMPLES = ("cifar100", "food101", "dtd", "eurosat", "pets", "flowers", "svhn", "caltech101")
ANY = "any"
MAX_PARAMS_CHOICES = [ANY, "5M", "10M", "25M", "50M", "100M", "300M", "1B"]
TOP_K_MAX = 100
# (label, value) of the fine-tuning protocols a ranking can follow (fennec_hub.ranking.protocols()).
PROTOCOL_CHOICES = [
    ("Default: full fine-tuning where the dataset has such records", ANY),
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


def _env_int(name: str, default: int, minimum: int = 1) -> int:
    """A positive integer setting from the environment (``default`` when unset or unreadable)."""
    try:
        return max(minimum, int(os.environ.get(name, "").strip() or default))
    except ValueError:
        log.warning("ignoring %s=%r: not an integer", name, os.environ.get(name))
        return default



class VisitorMessage(Exception):
    """A ranking that cannot be done as asked; ``str(exc)`` is the Markdown sentence the visitor sees."""


# --------------------------------------------------------------------------------------------
# Zoo and registry access


class TokenBuckets:
    """One token bucket per key: ``capacity`` tokens at most, one more every ``period_s`` seconds.

    Bounds what one visitor can make the Space do (here: download zoo repos from the Hub). At
    most ``max_keys`` buckets are kept; the least recently used go first.
    """

    def __init__(self, capacity: int, period_s: float, *, max_keys: int = 10_000,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.capacity, self.period_s, self.max_keys, self.clock = capacity, period_s, max_keys, clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # key -> (tokens, at)
        self._lock = threading.Lock()

    def take(self, key: str) -> float:
        """Spend one of ``key``'s tokens: 0.0 when there was one, else seconds until there is."""
        now = self.clock()
        with self._lock:
            tokens, at = self._buckets.pop(key, (float(self.capacity), now))
            tokens = min(float(self.capacity), tokens + (now - at) / self.period_s)
            wait = 0.0 if tokens >= 1 else (1 - tokens) * self.period_s
            self._buckets[key] = (tokens - 1 if wait == 0.0 else tokens, now)
            while len(self._buckets) > self.max_keys:
                self._buckets.popitem(last=False)
        return wait


_zoo_lock = threading.Lock()
_zoos: dict[str, Any] = {}  # "" = the embedded/env default; Hub zoos in load order
_zoo_loading: dict[str, threading.Lock] = {}  # one lock per repo being loaded
_MAX_HUB_ZOOS = 4
_zoo_loads: TokenBuckets | None = None


def zoo_repo_from_env() -> str:
    """The zoo repo named by ``$FENNEC_ZOO`` ('' means the embedded default)."""
    return os.environ.get("FENNEC_ZOO", "").strip()


def max_zoo_bytes() -> int:
    """Largest Hub zoo the Space downloads, in bytes (``$FENNEC_SPACE_MAX_ZOO_BYTES``, default 200 MB)."""
    return _env_int("FENNEC_SPACE_MAX_ZOO_BYTES", 200_000_000)


def zoo_load_limiter() -> TokenBuckets:
    """Each visitor's budget of Hub zoo loads: ``$FENNEC_SPACE_ZOO_LOADS`` at once (default 3), then
    one more every ``$FENNEC_SPACE_ZOO_LOAD_EVERY_S`` seconds (default 600)."""
    global _zoo_loads
    capacity = _env_int("FENNEC_SPACE_ZOO_LOADS", 3)
    period = _env_int("FENNEC_SPACE_ZOO_LOAD_EVERY_S", 600)
    with _zoo_lock:
        if _zoo_loads is None or (_zoo_loads.capacity, _zoo_loads.period_s) != (capacity, period):
            _zoo_loads = TokenBuckets(capacity, period)
        return _zoo_loads


def _patterns(name: str) -> list[str]:
    return [p.strip() for p in os.environ.get(name, "").split(",") if p.strip()]


def check_zoo_allowed(repo: str) -> None:
    """:class:`VisitorMessage` unless ``$FENNEC_SPACE_ZOO_ALLOW`` / ``$FENNEC_SPACE_ZOO_DENY`` let
    visitors load ``repo``: comma-separated shell patterns (``my-org/*``); an empty allow list allows
    every repo, and a repo that matches a deny pattern is refused even when allowed."""
    allow, deny = _patterns("FENNEC_SPACE_ZOO_ALLOW"), _patterns("FENNEC_SPACE_ZOO_DENY")
    shown = md_escape(repo[:100])
    if any(fnmatch.fnmatchcase(repo, p) for p in deny) or (allow and not any(
            fnmatch.fnmatchcase(repo, p) for p in allow)):
        only = (" It loads only zoos matching " + ", ".join(f"`{md_escape(p)}`" for p in allow) + "."
                if allow else "")
        raise VisitorMessage(f"This Space is set not to load the zoo **{shown}**.{only} Clear the *Zoo* "
                             "field to use the built-in zoo.")


def visitor_of(request: Any) -> str:
    """Who is asking, for per-visitor limits: the client address (behind ``$FENNEC_SPACE_PROXY_HOPS``
    trusted proxies, default 1 on a Hugging Face Space and 0 elsewhere, the address the nearest one
    saw, from ``X-Forwarded-For``), else the Gradio session."""
    if request is None:
        return "local"
    hops = _env_int("FENNEC_SPACE_PROXY_HOPS", 1 if os.environ.get("SPACE_ID") else 0, minimum=0)
    headers = getattr(request, "headers", None) or {}
    if hops:
        chain = [h.strip() for h in str(headers.get("x-forwarded-for", "")).split(",") if h.strip()]
        if len(chain) >= hops:
            return chain[-hops]
    client = getattr(request, "client", None)
    host = getattr(client, "host", None)
    return str(host or getattr(request, "session_hash", None) or "unknown")


def load_zoo(zoo_repo: str | None = None, visitor: str = "local") -> Any:
    """The zoo to rank with: the advanced field's repo, else ``$FENNEC_ZOO``, else the embedded one.

    Loaded once per repo and shared by all visitors. A repo typed by a visitor must pass
    :func:`check_zoo_allowed` and costs one of the visitor's zoo loads (:func:`zoo_load_limiter`)
    when it is not loaded yet; a refusal is a :class:`VisitorMessage`. A repo is downloaded only when
    no larger than :func:`max_zoo_bytes`. Loading one repo does not hold up rankings with the zoos
    already loaded.
    """
    repo = (zoo_repo or "").strip() or zoo_repo_from_env()
    if repo:  # owner/name, hf://datasets/owner/name or the repo's URL; anything else: ValueError
        repo = fh_hub.parse_repo_id(repo, repo_type="dataset", argument="zoo")
    with _zoo_lock:
        if repo in _zoos:
            return _zoos[repo]
        loading = _zoo_loading.setdefault(repo, threading.Lock())
    try:
        with loading:  # one download per repo, however many visitors ask for it at once
            with _zoo_lock:
                if repo in _zoos:
                    return _zoos[repo]
            if repo and repo != zoo_repo_from_env():
                check_zoo_allowed(repo)
                wait = zoo_load_limiter().take(visitor)
                if wait:
                    raise VisitorMessage(
                        f"This Space has loaded several zoos for you recently; it can load another in "
                        f"about {max(1, math.ceil(wait / 60))} min. Zoos already loaded, and the built-in "
                        "zoo (clear the *Zoo* field), work meanwhile.")
            zoo = fennec_hub.Zoo.from_hub(repo, max_bytes=max_zoo_bytes()) if repo else fennec_hub.Zoo.default()
            with _zoo_lock:
                hub_zoos = [key for key in _zoos if key]
                if repo and len(hub_zoos) >= _MAX_HUB_ZOOS:  # visitors can name any repo: bound memory
                    del _zoos[hub_zoos[0]]
                _zoos[repo] = zoo
            return zoo
    finally:
        with _zoo_lock:
            _zoo_loading.pop(repo, None)


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


# Inputs. The /rank event runs without Gradio's preprocessing (preprocess=False), so each argument
# arrives as whatever JSON the caller sent; these functions turn it into recommend()'s arguments or
# raise ValueError with the sentence the visitor sees. The README's "Inputs" table documents them.
_NO_LIMIT = {"", ANY, "none", "no limit", "unlimited", "inf", "+inf", "infinity"}
_MAX_LIST_ITEMS = 50


def _max_params_arg(value: Any) -> int | None:
    """Max parameters as an int, or None for no limit (empty, "any", "inf", or beyond any checkpoint)."""
    if value is None:
        return None
    # Python numbers go to parse_params as they are; anything else as its text, as a visitor typed it.
    given = value if isinstance(value, (int, float)) else str(value).strip()
    if isinstance(given, str) and given.lower() in _NO_LIMIT:
        return None
    try:  # refuses booleans, NaN and counts below 1; None for a count beyond MAX_PARAMS
        limit = parse_params(given, beyond_any_model="no limit")
    except ValueError:  # RecommendTypeError is a ValueError too
        shown = md_escape(" ".join(str(value)[:40].split())) or "nothing"
        raise ValueError(f"Max parameters must be a positive parameter count such as `50M`, `1.5B` or "
                         f"`25000000` (or `any`); got {shown}.") from None
    return None if limit is None or limit >= MAX_PARAMS else limit  # MAX_PARAMS itself filters nothing


def _text_items(value: Any) -> list[str]:
    """A multiselect value as stripped strings: a list, or one comma-separated string."""
    if value is None:
        return []
    items = value if isinstance(value, (list, tuple)) else str(value).split(",")
    out = [str(x).strip() for x in items if x is not None]
    return [x for x in out if x and x.lower() != ANY][:_MAX_LIST_ITEMS]


def _choice_arg(value: Any) -> str | None:
    """A choice as one comma-separated string ("any" and empty parts dropped; None when nothing is left)."""
    items = value if isinstance(value, (list, tuple)) else [value]
    parts = [part.strip() for item in items if item is not None for part in str(item).split(",")]
    return ",".join(p for p in parts if p and p.lower() != ANY)[:200] or None


def _top_k_arg(value: Any) -> int:
    """How many rows to show: clamped to 1..TOP_K_MAX; 10 when the value is not a number."""
    if isinstance(value, int) and not isinstance(value, bool):
        return max(1, min(TOP_K_MAX, value))  # exact for integers too large for a float
    try:
        k = float(value.strip() if isinstance(value, str) else value)
    except (TypeError, ValueError, OverflowError):
        return 10
    if math.isnan(k):
        return 10
    return int(max(1, min(TOP_K_MAX, k)))


def _per_family_arg(value: Any) -> int | None:
    """At most this many checkpoints of one architecture family: a checkbox's True means 1; a whole
    number of at least 1 means that many; False, empty, "any", "none" or anything else means no cap."""
    if isinstance(value, bool):
        return 1 if value else None
    if isinstance(value, str):
        value = value.strip().lower()
        if value in ("true", "yes", "on"):
            return 1
    try:
        n = float(value)
    except (TypeError, ValueError, OverflowError):
        return None
    if not math.isfinite(n) or n < 1:
        return None
    return int(min(n, TOP_K_MAX))


def _params_text(n: int) -> str:
    """50000000 -> 50M; 1500000000 -> 1.5B."""
    for div, suffix in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "k")):
        if n >= div:
            return f"{n / div:.4g}{suffix}"
    return str(n)


def model_url(model_id: str) -> str | None:
    """The checkpoint's Hub page, or None for benchmark models that are not on the Hub."""
    if model_id.startswith(OFF_HUB_PREFIXES) or "/" not in model_id:
        return None
    return HUB_URL + model_id


def _model_cell(model_id: str, same_weights_as: object = None) -> str:
    """The linked id, and the other upload of the same weights where there is one (one model)."""
    url = model_url(model_id)
    cell = f"[{model_id}]({url})" if url else f"{model_id} *(not on the Hub)*"
    if isinstance(same_weights_as, str) and same_weights_as:
        other = model_url(same_weights_as)
        cell += f" · same weights: [{same_weights_as}]({other})" if other else f" · same weights: {same_weights_as}"
    return cell


def _score_decimals(scores: pd.Series) -> int:
    spread = float(scores.abs().max()) if len(scores) else 0.0
    return 1 if spread >= 10 else 3


def results_table(ranked: pd.DataFrame) -> pd.DataFrame:
    """The visible table: rank, linked model, score, size in millions, library, license, why."""
    params = pd.to_numeric(ranked["params"], errors="coerce") / 1e6
    same = ranked["same_weights_as"] if "same_weights_as" in ranked else [None] * len(ranked)
    return pd.DataFrame(
        {
            "Rank": ranked["rank"].astype(int).to_numpy(),
            "Model": [_model_cell(str(m), s) for m, s in zip(ranked["model_id"], same)],
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


PLOT_COLORS = {"other": "#b8bec9", "top": "#2563eb", "front": "#f97316"}
_HOVER = "<b>%{text}</b><br>%{x:.3~g}M parameters<br>score %{y:.1f} · rank %{customdata}<extra></extra>"
_AXIS = {"gridcolor": "#e5e7eb", "zeroline": False, "showline": True, "linecolor": "#9ca3af", "ticks": "outside"}


def transfer_plot(ranked: pd.DataFrame, top_k: int, dataset_label: str) -> dict[str, Any] | None:
    """Predicted transfer against size (log axis) for the whole filtered zoo, as a Plotly figure spec.

    The browser draws it with the plotly.js bundled in Gradio (hovering a point shows its model
    id, size, score and rank); the server only writes the figure's JSON (plotly.js's documented
    ``{"data": [traces], "layout": {...}}``), a millisecond for the whole zoo. Traces: the other
    checkpoints, the Pareto front (a step line through the checkpoints that no smaller one beats)
    and the top-k. None when no checkpoint has a known size.
    """
    params = pd.to_numeric(ranked["params"], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    scores = ranked["score"].to_numpy(dtype=float)
    ok = np.isfinite(params) & (params > 0) & np.isfinite(scores)
    if not ok.any():
        return None
    # Plotly reads a few HTML tags in text: names from a zoo or the Hub are shown as they are, inert.
    ids = np.asarray([html.escape(m, quote=False) for m in ranked["model_id"].astype(str).to_numpy()[ok]],
                     dtype=object)
    ranks = ranked["rank"].to_numpy(dtype=np.int64)[ok]
    p, s = np.round(params[ok] / 1e6, 3), np.round(scores[ok], 2)
    in_top = ranks <= top_k
    front = pareto_front(p, s)

    def points(rows: np.ndarray, name: str, **style: Any) -> dict[str, Any]:
        return {"type": "scatter", "name": name, "x": p[rows].tolist(), "y": s[rows].tolist(),
                "text": ids[rows].tolist(), "customdata": ranks[rows].tolist(), "hovertemplate": _HOVER,
                **style}

    hidden = int((~ok).sum())
    unknown = f"; {hidden} of unknown size not shown" if hidden else ""
    return {
        "data": [
            points(~in_top, "other checkpoints", mode="markers",
                   marker={"color": PLOT_COLORS["other"], "size": 5, "opacity": 0.7}),
            points(front, "Pareto front (smaller and better)", mode="lines+markers",
                   line={"shape": "hv", "width": 2, "color": PLOT_COLORS["front"]},
                   marker={"color": PLOT_COLORS["front"], "size": 10, "symbol": "circle-open",
                           "line": {"width": 2}}),
            points(in_top, f"your top {min(top_k, len(ranked))}", mode="markers",
                   marker={"color": PLOT_COLORS["top"], "size": 8}),
        ],
        "layout": {
            "height": 460, "margin": {"l": 60, "r": 16, "t": 44, "b": 70},
            "title": {"text": f"Predicted transfer vs size — {html.escape(dataset_label, quote=False)}",
                      "font": {"size": 15}},
            "xaxis": {"type": "log", "title": {"text": f"parameters (millions, log scale){unknown}"}, **_AXIS},
            "yaxis": {"title": {"text": "predicted transfer score"}, **_AXIS},
            "legend": {"orientation": "h", "x": 0.5, "xanchor": "center", "y": -0.2},
            "hovermode": "closest", "plot_bgcolor": "white", "paper_bgcolor": "white",
        },
    }


def plot_value(spec: dict[str, Any] | None) -> Any:
    """A Plotly figure spec as the value of a ``gr.Plot`` (None stays None: an empty plot)."""
    if spec is None:
        return None
    from gradio.components.plot import PlotData

    return PlotData(type="plotly", plot=json.dumps(spec, separators=(",", ":"), allow_nan=False))


_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()<>#+!|~])")


def md_escape(text: str) -> str:
    """User text made inert inside Markdown (no links, emphasis or HTML)."""
    return _MD_SPECIAL.sub(r"\\\1", text)


def _error(message: str) -> tuple[pd.DataFrame, None, str]:
    return empty_table(), None, message


def _suggestion_text(names: list[str]) -> str:
    return ", ".join(f"`{n}`" for n in names)


def _filters_text(query: Query) -> str:
    """The query's filters in words ('' when it has none)."""
    parts = []
    if query.max_params is not None:
        parts.append(f"≤ {_params_text(query.max_params)} parameters")
    if query.licenses:
        parts.append("license " + " / ".join(md_escape(x) for x in query.licenses))
    if query.library:
        parts.append(f"library {md_escape(query.library)}")
    if query.per_family:
        parts.append(f"at most {query.per_family} per architecture family")
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


@dataclass(frozen=True)
class Query:
    """One ranking request, read from the /rank inputs (see the README's "Inputs" table)."""

    dataset: str
    top_k: int
    max_params: int | None
    licenses: list[str] | None
    library: str | None
    protocol: str | None
    zoo_repo: str
    per_family: int | None = None


def read_query(dataset: Any, top_k: Any = 10, max_params: Any = None, licenses: Any = None, library: Any = None,
               zoo_repo: Any = None, protocol: Any = None, per_family: Any = None) -> Query:
    """The /rank inputs as recommend() arguments; :class:`VisitorMessage` when one cannot be read."""
    name = dataset_id_from_text(dataset)
    if not name:
        raise VisitorMessage("Type a dataset name or a Hub dataset id (for example `cifar100` or "
                             "`uoft-cs/cifar100`), or click one of the examples.")
    if len(name) > _MAX_DATASET_CHARS:
        raise VisitorMessage("That dataset name is too long to be a dataset id.")
    try:
        mp = _max_params_arg(max_params)
    except ValueError as exc:
        raise VisitorMessage(str(exc)) from None
    zoo_text = "" if zoo_repo is None else str(zoo_repo).strip()
    return Query(dataset=name, top_k=_top_k_arg(top_k), max_params=mp, licenses=_text_items(licenses) or None,
                 library=_choice_arg(library), protocol=_choice_arg(protocol), zoo_repo=zoo_text,
                 per_family=_per_family_arg(per_family))


def _zoo_for(query: Query, visitor: str) -> Any:
    """The zoo the query names, or :class:`VisitorMessage` saying why it cannot be used."""
    shown = md_escape((query.zoo_repo or zoo_repo_from_env())[:100])
    try:
        return load_zoo(query.zoo_repo, visitor)
    except VisitorMessage:
        raise
    except ValueError as exc:
        raise VisitorMessage(md_escape(str(exc))) from None
    except fh_hub.GatedRepo:
        raise VisitorMessage(f"The zoo repo `{shown}` is gated: this Space has no access. "
                             "Clear the *Zoo* field to use the built-in zoo.") from None
    except fh_hub.RepoNotFound:
        raise VisitorMessage(f"No zoo repo `{shown}` on the Hub (or it is private). "
                             "Clear the *Zoo* field to use the built-in zoo.") from None
    except fh_hub.HubError as exc:
        raise VisitorMessage(f"Could not load the zoo from the Hub ({md_escape(str(exc)[:200])}). Clear the "
                             "*Zoo* field to use the built-in zoo, which works offline.") from None
    except Exception:
        log.exception("loading zoo %r failed", query.zoo_repo)
        raise VisitorMessage("The model zoo could not be loaded. This is a bug; please report it.") from None


_rankings_lock = threading.Lock()
_rankings: OrderedDict[tuple, tuple[pd.DataFrame, float]] = OrderedDict()


def ranking_cache_size() -> int:
    """How many full rankings to keep (``$FENNEC_SPACE_RANK_CACHE``, default 32; 0 keeps none).

    A ranking depends on the zoo, the dataset, the filters and the protocol, not on top-k, so the
    examples, the landing page and a changed top-k reuse it instead of ranking the zoo again.
    """
    return _env_int("FENNEC_SPACE_RANK_CACHE", 32, minimum=0)


def run_query(query: Query, visitor: str = "local") -> tuple[pd.DataFrame, float]:
    """Every checkpoint that passes the query's filters, best first, and the ranking time in ms.

    The first ``query.top_k`` rows are exactly ``recommend(query.dataset, top_k=query.top_k, ...)``.
    ``visitor`` (see :func:`visitor_of`) is charged for a zoo repo the Space has to download.
    Raises :class:`VisitorMessage` for anything the visitor can fix. The frame is shared with
    other requests (see :func:`ranking_cache_size`): read it, never change it.
    """
    zoo = _zoo_for(query, visitor)
    key = (id(zoo), zoo.fingerprint, query.dataset, query.max_params, tuple(query.licenses or ()),
           query.library, query.protocol, query.per_family)
    with _rankings_lock:
        hit = _rankings.get(key)
        if hit is not None:
            _rankings.move_to_end(key)
            return hit
    name, shown = query.dataset, md_escape(" ".join(query.dataset.split()))  # one line, Markdown-inert
    try:
        start = time.perf_counter()
        # Every model that passes the filters: the plot shows them all, the table the first k.
        # every model for the plot; a `why` only for the rows a table or CSV can show
        ranked = fennec_hub.recommend(name, top_k=None, zoo=zoo, max_params=query.max_params,
                                      licenses=query.licenses, library=query.library, protocol=query.protocol,
                                      max_per_family=query.per_family, explain=TOP_K_MAX)
        elapsed_ms = (time.perf_counter() - start) * 1e3
    except fh_datasets.UnknownDatasetError as exc:
        # recommend() reports a failed Hub lookup as UnknownDatasetError caused by the Hub error.
        cause = exc.__cause__
        hints = list(getattr(exc, "suggestions", None) or []) or suggest_datasets(name)
        if isinstance(cause, fh_hub.HubError):
            raise VisitorMessage(_hub_dataset_message(shown, cause, hints)) from None
        raise VisitorMessage(f"I don't know a dataset called **{shown}**. Did you mean "
                             f"{_suggestion_text(hints)}? Hub dataset ids (`owner/name`) work too.") from None
    except fh_hub.HubError as exc:
        raise VisitorMessage(_hub_dataset_message(shown, exc, suggest_datasets(name))) from None
    except HFValidationError as exc:  # looked like owner/name, but the Hub's rules for ids say no
        raise VisitorMessage(f"That is not a Hub dataset id: {md_escape(str(exc))} Registered names such as "
                             f"{_suggestion_text(suggest_datasets(name))} work too.") from None
    except ValueError as exc:  # bad filter values and similar input problems
        raise VisitorMessage(md_escape(str(exc))) from None
    except Exception:
        log.exception("ranking %r failed", name)
        raise VisitorMessage(f"Something went wrong while ranking **{shown}**. This is a bug; "
                             "please report it.") from None
    if ranked.empty:
        raise VisitorMessage(f"No checkpoint passes the filters "
                             f"({_filters_text(query)}). "
                             "Loosen them and rank again.")
    size = ranking_cache_size()
    if size:
        with _rankings_lock:
            _rankings[key] = (ranked, elapsed_ms)
            while len(_rankings) > size:
                _rankings.popitem(last=False)
    return ranked, elapsed_ms


def _message(query: Query, ranked: pd.DataFrame, elapsed_ms: float) -> str:
    attrs = ranked.attrs
    dataset_id = str(attrs.get("dataset") or query.dataset)
    filters = _filters_text(query)
    n_models = int(attrs.get("n_models") or len(ranked))
    scope = (f"**{len(ranked):,}** of {n_models:,} checkpoints pass the filters ({filters})" if filters
             else f"all **{n_models:,}** checkpoints of the zoo")
    message = (
        f"{_describe_dataset(dataset_id)}: top **{min(query.top_k, len(ranked))}** shown; {scope} ranked in "
        f"**{elapsed_ms:,.0f} ms**. {TASK_SOURCES.get(str(attrs.get('task_vector_source')), '')}"
    )
    if query.protocol:
        label = dict((v, k) for k, v in PROTOCOL_CHOICES).get(query.protocol, query.protocol)
        message += f" Ranked as under one fine-tuning protocol: *{md_escape(label)}*."
    return message


def rank(
    dataset: Any,
    top_k: Any = 10,
    max_params: Any = None,
    licenses: Any = None,
    library: Any = None,
    zoo_repo: Any = None,
    protocol: Any = None,
    per_family: Any = None,
    request: gr.Request = None,
) -> tuple[pd.DataFrame, Any, str]:
    """Rank the zoo for ``dataset``: returns (table, plot, Markdown message).

    The plot is the ``gr.Plot`` value of :func:`transfer_plot`'s Plotly figure (``.plot`` holds its
    JSON).

    The arguments are the page's inputs as any caller may send them (the README's "Inputs" table
    says how each is read). ``protocol``: one of the records' fine-tuning protocols (see
    ``PROTOCOL_CHOICES``); empty or "any" uses them all. ``per_family``: at most this many
    checkpoints of one architecture family (True: one), so that one network's many pre-training
    tags do not fill the table.

    ``request`` (filled in by Gradio) identifies the visitor for the zoo-load limit.

    Wraps :func:`fennec_hub.recommend`; never raises. On failure the table is empty, the plot is
    None and the message says what went wrong and what to try instead.
    """
    try:
        query = read_query(dataset, top_k, max_params, licenses, library, zoo_repo, protocol, per_family)
        ranked, elapsed_ms = run_query(query, visitor_of(request))
    except VisitorMessage as exc:
        return _error(str(exc))
    attrs = ranked.attrs
    try:
        figure = plot_value(transfer_plot(ranked, query.top_k,
                                          str(attrs.get("dataset_name") or attrs.get("dataset"))))
    except Exception:  # a plot problem must not hide the table
        log.exception("plot for %r failed", query.dataset)
        figure = None
    return results_table(ranked.head(query.top_k)), figure, _message(query, ranked, elapsed_ms)


def ranking_csv(
    dataset: Any,
    top_k: Any = 10,
    max_params: Any = None,
    licenses: Any = None,
    library: Any = None,
    zoo_repo: Any = None,
    protocol: Any = None,
    per_family: Any = None,
    request: gr.Request = None,
) -> str | None:
    """The ranked rows of the same inputs as :func:`rank`, written to a CSV file when asked for.

    Returns the file's path, or None (with the reason shown as a warning) when nothing can be ranked.
    """
    try:
        query = read_query(dataset, top_k, max_params, licenses, library, zoo_repo, protocol, per_family)
        ranked, _ = run_query(query, visitor_of(request))
    except VisitorMessage as exc:
        gr.Warning(str(exc))
        return None
    return write_csv(ranked.head(query.top_k), str(ranked.attrs.get("dataset") or query.dataset))


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


def concurrency_limit() -> int:
    """How many rankings run at once (``$FENNEC_SPACE_CONCURRENCY``, default 2).

    A ranking is a few milliseconds of Python that holds the GIL, so more workers than cores only
    interleave requests and make every one of them finish late; two let one visitor's slow Hub
    lookup (a dataset outside the registry, a zoo repo) overlap with the others' rankings.
    """
    return _env_int("FENNEC_SPACE_CONCURRENCY", 2)


def queue_size() -> int:
    """Most requests waiting in the queue (``$FENNEC_SPACE_QUEUE_SIZE``, default 256); more are refused."""
    return _env_int("FENNEC_SPACE_QUEUE_SIZE", 256)


# Runs in the browser after /csv answers: saves the file the server just wrote.
_SAVE_FILE_JS = """(file) => {
  if (file && file.url) {
    const a = document.createElement("a");
    a.href = file.url;
    a.download = file.orig_name || "fennec_hub.csv";
    document.body.appendChild(a);
    a.click();
    a.remove();
  }
  return [];
}"""


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
    initial_table, initial_plot, initial_message = rank(DEFAULT_DATASET, 10)

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
                per_family = gr.Checkbox(False, label="One checkpoint per architecture family",
                                         info="Otherwise one network's pre-training tags can fill the list.")
                with gr.Accordion("Advanced: model zoo", open=False):
                    zoo_repo = gr.Textbox(
                        label="Zoo repo (Hub dataset id)", value="",
                        placeholder=zoo_repo_from_env() or f"empty = built-in zoo ({n_models:,} checkpoints)",
                        info="A zoo published with `fennec-hub push`; leave empty for the built-in one.")
                rank_button = gr.Button("Rank", variant="primary", elem_id="fennec-rank")
            with gr.Column(scale=3, min_width=420):
                message = gr.Markdown(initial_message, elem_id="fennec-message")
                plot = gr.Plot(initial_plot, label="Predicted transfer vs size", show_label=False,
                               elem_id="fennec-plot")
        table = gr.Dataframe(initial_table, datatype=TABLE_DATATYPES, label="Ranked checkpoints",
                             interactive=False, wrap=True, max_height=1200, elem_id="fennec-table",
                             column_widths=["6%", "26%", "8%", "9%", "10%", "10%", "31%"],
                             buttons=["fullscreen", "copy"])
        with gr.Row():
            csv_button = gr.Button("Download CSV", size="sm", variant="secondary", elem_id="fennec-csv",
                                   scale=0, min_width=160)
        csv_file = gr.File(visible=False, elem_id="fennec-csv-file")
        gr.Markdown(FOOTER)

        inputs = [dataset, top_k, max_params, licenses, library, zoo_repo, protocol, per_family]
        outputs = [table, plot, message]
        triggers = [rank_button.click]
        if hasattr(dataset, "submit"):
            triggers.append(dataset.submit)
        # rank() reads the raw inputs itself (preprocess=False), so no input, whatever a caller
        # sends, fails inside Gradio with a generic error. All ranking events share one
        # concurrency group.
        limits = {"concurrency_limit": concurrency_limit(), "concurrency_id": "rank", "preprocess": False}
        gr.on(triggers, rank, inputs, outputs, api_name="rank", **limits)
        for button, name in example_buttons:
            button.click(lambda n=name: n, None, dataset, api_visibility="private", queue=False).then(
                rank, inputs, outputs, api_visibility="private", **limits)
        # The CSV is written only when asked for: the same ranking again (milliseconds), then a file.
        csv_button.click(ranking_csv, inputs, csv_file, api_name="csv", **limits).success(
            None, csv_file, None, js=_SAVE_FILE_JS, queue=False)
    demo.queue(max_size=queue_size())
    return demo


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO)
    build_demo().launch(**launch_options())
