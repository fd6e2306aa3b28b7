"""The benchmark report: a run's figures as markdown (``benchmarks/RESULTS.md``) and JSON.

:func:`render_markdown` writes the scorecard (each bar of the evaluation checked on this run's
figures), the tables per protocol and benchmark, and where leave-one-bank-out's held-out models land
in the zoo; :func:`write_outputs` saves it with every figure as JSON, which :func:`load_result`
reads back to re-render a report without running anything.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from .bench import (COLD_AT_MEAN, EVERY_QUERY_AS, FENNEC_REIMPL, METRIC_LABELS, METRICS, MIN_CANDIDATES, OURS,
                    OURS_ANY, OURS_META, OURS_PER_PROTOCOL, PARAMS, PRIOR, PRIOR_ALL, TOP1, TOP1_IN_DATA, BenchResult)


def summarize(frame: pd.DataFrame) -> pd.DataFrame:
    """Mean over datasets per (protocol, benchmark, method), with the number of datasets."""
    g = frame.groupby(["protocol", "benchmark", "method"])
    out = g[list(METRICS)].mean()
    out["datasets"] = g.size()
    return out.reset_index()


def _fmt(x: float, pct: bool = False) -> str:
    if x is None or not np.isfinite(x):
        return "n/a"
    return f"{100 * x:.1f}" if pct else f"{x:.3f}"


def _cell(text: str) -> str:
    """A table cell's text with its pipes escaped (``"ours | top-1 models"`` is one cell, not two)."""
    return str(text).replace("|", "\\|")


def _method_order(methods: Iterable[str]) -> list[str]:
    first = [OURS, f"{OURS} | {TOP1} models", TOP1, f"{OURS} | {TOP1_IN_DATA} models", TOP1_IN_DATA,
             f"{OURS} | {PARAMS} models", PARAMS, OURS_META, OURS_PER_PROTOCOL, OURS_ANY, COLD_AT_MEAN, PRIOR,
             PRIOR_ALL, FENNEC_REIMPL]
    methods = list(dict.fromkeys(methods))
    head = [m for m in first if m in methods]
    tail = sorted(m for m in methods if m not in first and m not in ("Random",))
    return head + tail + (["Random"] if "Random" in methods else [])


def _wtau(frame: pd.DataFrame, protocol: str) -> pd.DataFrame | None:
    """Mean weighted tau over datasets of one protocol's rows, method x benchmark; None without rows."""
    rows = frame[frame["protocol"] == protocol]
    return None if rows.empty else rows.groupby(["method", "benchmark"])["wtau"].mean().unstack()


def paired_difference(frame: pd.DataFrame, protocol: str, benchmark: str, a: str, b: str) -> tuple[float, float, int]:
    """Mean over datasets of method ``a``'s weighted tau less method ``b``'s, on the datasets both
    were scored on, with its standard error (standard deviation of the per-dataset differences over
    the square root of their number) and that number; ``(nan, nan, 0)`` without such datasets."""
    rows = frame[(frame["protocol"] == protocol) & (frame["benchmark"] == benchmark)]
    tab = rows[rows["method"].isin([a, b])].pivot_table(index="dataset", columns="method", values="wtau")
    if a not in tab or b not in tab:
        return float("nan"), float("nan"), 0
    d = (tab[a] - tab[b]).dropna()
    if d.empty:
        return float("nan"), float("nan"), 0
    se = float(d.std(ddof=1) / np.sqrt(len(d))) if len(d) > 1 else float("nan")
    return float(d.mean()), se, len(d)


def _pm(diff: tuple[float, float, int]) -> str:
    """``"+0.095 ± 0.041 over 12 datasets"`` for :func:`paired_difference`'s result."""
    mean, se, n = diff
    if not n:
        return "no common datasets"
    return f"{mean:+.3f}" + (f" ± {se:.3f}" if np.isfinite(se) else "") + f" over {n} datasets"


def scorecard(frame: pd.DataFrame, benchmarks: Sequence[str]) -> list[str]:
    """The issue's bar, checked on this run's figures (mean weighted tau over datasets)."""
    out = ["## Scorecard", ""]
    lodo_piv = piv = _wtau(frame, "lodo")
    if piv is not None:
        lodo = frame[frame["protocol"] == "lodo"]
        lodo_cols = cols = [b for b in benchmarks if b in piv.columns]
        if OURS in piv.index and PRIOR in piv.index:
            ours, prior = piv.loc[OURS, cols], piv.loc[PRIOR, cols]
            diff = ours - prior
            wins, ties = int((diff > 0.001).sum()), int((diff.abs() <= 0.001).sum())
            losses = len(cols) - wins - ties
            out.append(f"* Leave-one-dataset-out, {OURS} vs {PRIOR}: mean over benchmarks "
                       f"{ours.mean():.4f} vs {prior.mean():.4f}; ahead by more than 0.001 on {wins} of {len(cols)} "
                       f"benchmarks, within 0.001 on {ties}, behind on {losses} ("
                       + ", ".join(f"{b} {ours[b]:.4f} vs {prior[b]:.4f} "
                                   f"({_pm(paired_difference(frame, 'lodo', b, OURS, PRIOR))})" for b in cols) + ").")
        if {OURS, OURS_META, OURS_PER_PROTOCOL} <= set(piv.index):
            out.append("* Text proxy, leave-one-dataset-out mean weighted τ (text weight chosen for the space / "
                       "metadata only / chosen per protocol): "
                       + ", ".join(f"{b} {piv.loc[OURS, b]:.3f} / {piv.loc[OURS_META, b]:.3f} / "
                                   f"{piv.loc[OURS_PER_PROTOCOL, b]:.3f}" for b in cols) + ".")
        for b in cols:
            fb = lodo[lodo["benchmark"] == b]
            for method in sorted(m for m in fb["method"].unique() if m.endswith("(released)") or
                                 m.endswith("(released scores)")):
                covered = set(fb.loc[fb["method"] == method, "dataset"])
                sub = fb[fb["dataset"].isin(covered)].groupby("method")["wtau"].mean()
                if OURS in sub:
                    out.append(f"* {b}, on the {len(covered)} datasets {method} covers: {OURS} {sub[OURS]:.3f} vs "
                               f"{method} {sub[method]:.3f}" + (f" (global prior {sub[PRIOR]:.3f})" if PRIOR in sub
                                                                else "") + ".")
    for protocol, label in (("lomo", "Leave-models-out"), ("lobo", "Leave-one-bank-out")):
        piv = _wtau(frame, protocol)
        if piv is None:
            continue
        for b in [b for b in benchmarks if b in piv.columns]:
            col = piv[b]
            parts = []
            for prior in (TOP1, PARAMS):
                if prior not in col or not np.isfinite(col[prior]):
                    parts.append(f"{prior} not defined")
                    continue
                same = f"{OURS} | {prior} models"
                same = same if same in col and np.isfinite(col[same]) else OURS
                ours = col[same]
                gap = ours - col[prior]
                verdict = "ahead of" if gap > 0.001 else ("tied with" if abs(gap) <= 0.001 else "behind")
                parts.append(f"{verdict} {prior} ({ours:.3f} vs {col[prior]:.3f} on the same models; "
                             f"{_pm(paired_difference(frame, protocol, b, same, prior))})")
            out.append(f"* {label}, {b}: cold start {col.get(OURS, float('nan')):.3f} over all held-out "
                       f"models; " + "; ".join(parts) + ".")
    singles = [m for m in lodo_piv.index if m.startswith(EVERY_QUERY_AS)] if lodo_piv is not None else []
    if singles and OURS_ANY in set(frame["method"]):
        piv, cols = lodo_piv, lodo_cols
        means = piv.loc[singles, cols].mean(axis=1)
        best = means.idxmax()
        out.append(f"* Default query (no protocol named) vs the best single protocol used for every query "
                   f"({best.removeprefix(EVERY_QUERY_AS).strip()}), leave-one-dataset-out mean over benchmarks: "
                   f"{piv.loc[OURS_ANY, cols].mean():.3f} vs {means[best]:.3f}; per benchmark, default / "
                   "that single protocol / the benchmark's own protocol named (default less that single protocol): "
                   + ", ".join(f"{b} {piv.loc[OURS_ANY, b]:.3f} / {piv.loc[best, b]:.3f} / {piv.loc[OURS, b]:.3f} "
                               f"({_pm(paired_difference(frame, 'lodo', b, OURS_ANY, best))})" for b in cols) + ".")
    for protocol, label in (("mixed", "Cold-start models ranked among recorded ones (leave-models-out folds)"),
                            ("lobo_mixed", "A held-out bank's models ranked cold among the benchmark's recorded ones "
                                           "(leave-one-bank-out)")):
        piv = _wtau(frame, protocol)
        if piv is None or not {OURS, COLD_AT_MEAN} <= set(piv.index):
            continue
        cols = [b for b in benchmarks if b in piv.columns]
        out.append(f"* {label}, {OURS} vs {COLD_AT_MEAN}: " + ", ".join(
            f"{b} {piv.loc[OURS, b]:.3f} vs {piv.loc[COLD_AT_MEAN, b]:.3f} "
            f"({_pm(paired_difference(frame, protocol, b, OURS, COLD_AT_MEAN))})" for b in cols) + ".")
        if protocol == "mixed" and OURS_ANY in piv.index:
            out.append("* The same leave-models-out folds, a dataset the records know queried without a protocol "
                       "(full-data fine-tuning where it has any), default / protocol named: "
                       + ", ".join(f"{b} {piv.loc[OURS_ANY, b]:.3f} / {piv.loc[OURS, b]:.3f}" for b in cols) + ".")
    return out + [""]


def render_markdown(result: BenchResult, command: str, benchmarks: Sequence[str]) -> str:
    """The markdown report: summary tables, per-benchmark tables, per-dataset details.

    (Long on purpose: it writes the report's sections in their order.)
    """
    frame = result.frame()
    summ = summarize(frame)
    lines = ["# fennec_hub ranking benchmarks", "",
             "Generated by the command below; every number is computed by `fennec_hub.bench` from the "
             "public ground truth in `fennec_hub/data/records/` on data the method did not fit on.", "",
             "```", command, "```", ""]
    for k, v in result.timings.items():
        lines.append(f"* `{k}`: {v:.3f}")
    if result.timings:
        lines.append("")
    for note in result.notes:
        lines.append(f"* {note}")
    if result.notes:
        lines.append("")
    lines += scorecard(frame, benchmarks)
    lines += [
        "## How to read this", "",
        f"* **{OURS}**: `TransferSpace.fit` on all records minus the held-out part, task features = registry "
        "metadata + MiniLM text embedding (the text proxy) as two views; the weight of the text view in task "
        "similarity (0 = metadata only, 0.5, 1) is chosen once for the space by nested leave-one-dataset-out on "
        "the training datasets; the query names the benchmark's protocol (records source + metric). "
        f"**{OURS_META}**: the same with the text view off. **{OURS_PER_PROTOCOL}**: the text weight chosen for "
        "each protocol on its own training datasets (fewer inner folds per choice). "
        f"**{OURS_ANY}**: {OURS} queried without a protocol, as `recommend()` does by default: a dataset it has "
        "no records for is placed under every fine-tuning protocol; one it knows follows its full-data "
        "fine-tuning records where it has any (so on VTAB-1k, a 1,000-example protocol, the default answers "
        "another question than the benchmark asks).",
        f"* **{PRIOR}**: a model's mean standardised score on the benchmark's other datasets (README's "
        f"baseline). **{PRIOR_ALL}**: the same over every source's training records.",
        f"* **{FENNEC_REIMPL}**: NMF rank 5 (random_state 2023, max_iter 1000) on the benchmark's min-max scaled "
        "history (missing = row mean), a 25-tree random forest from task features to task vectors (Fennec's CLIP "
        "image proxy is not available offline), plus 0.5 x a linear meta-regressor on [parameter count, archi2vec "
        "KMeans cluster, train size, classes], as Fennec's code does.",
        "* **(released)**: scores published by the methods' authors (mean over their runs of the per-run metric).",
        "* In the scorecard, **+d ± se over n datasets** is a paired difference of two methods' weighted τ: its mean "
        "over the n datasets both were scored on and its standard error (the spread of the per-dataset differences "
        "over √n). A difference within about two standard errors is one these datasets cannot tell from none.",
        "* ImageNet top-1 and parameter count rank by metadata (n/a where fewer than 3 candidates have it); "
        "Random is one seeded permutation per dataset.",
        "* Scores are compared to 12 significant digits (`zoo.settled`): models a method scores alike (identical "
        "vectors) tie, where the last bits of a matrix product, which depend on the BLAS build, would order them.",
        "* **Leave-models-out** ranks each fold's held-out models among themselves (their scores come from one "
        "fit; different fits do not share a scale) and averages over the folds of each dataset; the trivial "
        "priors are scored on the same models.",
        "* **Cold-start models ranked among recorded ones** is what a zoo does: in each leave-models-out fold, "
        "the held-out models (cold-start vectors) are ranked on every dataset together with the other models "
        "(history vectors, which know their own result there, so the recorded models are in their true order); "
        f"it measures where cold-start models land. **{COLD_AT_MEAN}**: the same with every held-out model at the "
        "average score.", "",
    ]
    for protocol, title in (("lobo", "Leave-one-bank-out: cold-start models as the zoo ranks them"),
                            ("lobo_mixed", "Leave-one-bank-out: held-out models ranked among the recorded ones"),
                            ("lodo", "Leave-one-dataset-out (cold-start tasks)"),
                            ("lomo", "Leave-models-out, 5 folds (cold-start models)"),
                            ("mixed", "Cold-start models ranked among recorded ones (leave-models-out folds)")):
        sp = summ[summ["protocol"] == protocol]
        if sp.empty:
            continue
        lines += [f"## {title}", "", "### Mean weighted τ over datasets, per benchmark", ""]
        piv = sp.pivot(index="method", columns="benchmark", values="wtau")
        cols = [b for b in benchmarks if b in piv.columns]
        piv = piv.reindex(columns=cols)
        lines.append("| method | " + " | ".join(cols) + " | mean over benchmarks |")
        lines.append("|---" * (len(cols) + 2) + "|")
        for m in _method_order(piv.index):
            row = piv.loc[m]
            mean = row.mean() if row.notna().all() else float("nan")
            lines.append(f"| {_cell(m)} | " + " | ".join(_fmt(v) for v in row) + f" | {_fmt(mean)} |")
        lines.append("")
        lines.append("n/a: the method is not defined on that benchmark (no released scores, or fewer than "
                     f"{MIN_CANDIDATES} candidates with the needed metadata).")
        lines.append("")
        for b in cols:
            sb = sp[sp["benchmark"] == b].set_index("method")
            lines += [f"### {b}", "", "| method | datasets | " + " | ".join(METRIC_LABELS[m] for m in METRICS) + " |",
                      "|---" * (len(METRICS) + 2) + "|"]
            for m in _method_order(sb.index):
                r = sb.loc[m]
                vals = [_fmt(r[k], pct=k.endswith("_rel")) for k in METRICS]
                lines.append(f"| {_cell(m)} | {int(r['datasets'])} | " + " | ".join(vals) + " |")
            lines.append("")
            fb = frame[(frame["protocol"] == protocol) & (frame["benchmark"] == b)]
            piv_d = fb.pivot_table(index="method", columns="dataset", values="wtau")
            lines += ["<details><summary>weighted τ per dataset</summary>", "",
                      "| method | " + " | ".join(piv_d.columns) + " |", "|---" * (len(piv_d.columns) + 1) + "|"]
            for m in _method_order(piv_d.index):
                lines.append(f"| {_cell(m)} | " + " | ".join(_fmt(v) for v in piv_d.loc[m]) + " |")
            lines += ["", "</details>", ""]
    lines += zoo_placement(frame, benchmarks)
    return "\n".join(lines) + "\n"


def zoo_placement(frame: pd.DataFrame, benchmarks: Sequence[str]) -> list[str]:
    """Where leave-one-bank-out's held-out models land among the embedded zoo's checkpoints, as our
    ranking puts them and as a sort of the same zoo by each trivial prior would."""
    z = frame[frame["protocol"] == "lobo_zoo"] if "protocol" in frame else frame.iloc[:0]
    if z.empty:
        return []
    lines = ["## Leave-one-bank-out: where the held-out models land in the embedded zoo", "",
             "Ranks among the checkpoints a ranking of the zoo lists (test repositories and second copies of "
             "one checkpoint left out, as `recommend()` does; the held-out models' own copies removed), per "
             "dataset, then the median over a benchmark's datasets: the held-out models' median rank, the rank "
             "of the one that truly fine-tunes best, and the rank of the best-placed one. The trivial priors' "
             "rows sort the same zoo by that prior: they rank the held-out models that have it among the "
             "zoo's checkpoints that have it (zoo size), and their truly best model's rank counts the datasets "
             "where that model has it; ours on the models a prior ranks is in the row above it. Nothing here "
             "says where the zoo's own checkpoints truly stand, so a higher placement is not by itself a better "
             "one: the held-out models' order among themselves is the leave-one-bank-out table's.", "",
             "| benchmark | method | datasets | held-out models placed | zoo size | median rank (share of the zoo) | "
             "truly best model's rank | best-placed rank |",
             "|---|---|---|---|---|---|---|---|"]
    for b in [b for b in benchmarks if b in set(z["benchmark"])]:
        zb = z[z["benchmark"] == b]
        for method in _method_order(zb["method"].unique()):
            zm = zb[zb["method"] == method]
            # held-out models placed: per dataset (summed over the folds of a split bank), then the median
            n = zm.groupby("dataset")["n"].sum().median()
            best = zm["best_rank"].median()
            share = (zm["median_rank"] / zm["zoo_size"]).median()
            lines.append(f"| {b} | {_cell(method)} | {zm['dataset'].nunique()} | {n:.0f} | "
                         f"{zm['zoo_size'].median():.0f} | {zm['median_rank'].median():.0f} ({100 * share:.0f}%) | "
                         f"{_fmt_rank(best)} | {zm['top_rank'].median():.0f} |")
    return lines + [""]


def _fmt_rank(x: float) -> str:
    return f"{x:.0f}" if np.isfinite(x) else "n/a"


def headline(result: BenchResult, benchmarks: Sequence[str]) -> str:
    """One line per protocol: mean weighted tau per benchmark for ours and the global prior."""
    summ = summarize(result.frame())
    lines = []
    for protocol in ("lodo", "lomo"):
        sp = summ[summ["protocol"] == protocol]
        if sp.empty:
            continue
        piv = sp.pivot(index="method", columns="benchmark", values="wtau")
        for m in [x for x in (OURS, PRIOR) if x in piv.index]:
            vals = ", ".join(f"{b} {piv.loc[m].get(b, float('nan')):.3f}" for b in benchmarks if b in piv.columns)
            lines.append(f"{protocol} {m}: {vals}")
    return "\n".join(lines)


def load_result(json_path: str | Path) -> tuple[BenchResult, str]:
    """A result written by :func:`write_outputs` (to re-render a report) and its command."""
    payload = json.loads(Path(json_path).read_text())
    result = BenchResult(rows=list(payload["rows"]), timings=dict(payload["timings"]), notes=list(payload["notes"]))
    return result, payload["command"]


def write_outputs(result: BenchResult, out: str | Path | None, json_path: str | Path | None, command: str,
                  benchmarks: Sequence[str]) -> str:
    """Write the markdown report and the JSON of all rows; return the markdown."""
    md = render_markdown(result, command, benchmarks)
    if out:
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        Path(out).write_text(md)
    if json_path:
        Path(json_path).parent.mkdir(parents=True, exist_ok=True)
        frame = result.frame()
        payload = dict(command=command, timings=result.timings, notes=result.notes,
                       summary=summarize(frame).to_dict(orient="records"), rows=frame.to_dict(orient="records"))
        Path(json_path).write_text(json.dumps(payload, indent=1, default=float))
    return md
