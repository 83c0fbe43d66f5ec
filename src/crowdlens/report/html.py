"""The HTML report: one self-contained file, everything inline.

``write_report`` reads the results table, builds plots and tables from the
columns that exist (a run without a classifier simply has no label section),
and renders :file:`template.html` with Jinja2 autoescaping, so every label,
path, reason and OCR string is escaped. Images (plots, thumbnails) are
``data:`` URIs inside ``<img>`` tags: the file can be mailed or archived alone.
Since it is shared, it shows released copies only and masks personal text
(:mod:`crowdlens.report.examples`); there is deliberately no switch to show
originals. It names photos by ``image_id`` and quotes no file path
(:mod:`crowdlens.report.redact`): paths name contributors and their folders.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from crowdlens import __version__
from crowdlens import schema as S
from crowdlens.io.atomic import atomic_path
from crowdlens.io.fs import filesystem, is_url
from crowdlens.io.results import read_results, results_path
from crowdlens.params import Each, Interval, NonEmpty, Params, Satisfies, validate
from crowdlens.report import plots
from crowdlens.report.examples import as_list as _list
from crowdlens.report.examples import example, shown_reasons
from crowdlens.report.model_card import flag_meaning
from crowdlens.report.redact import without_paths
from crowdlens.stages.decide import reason_kind

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

log = logging.getLogger(__name__)

# Quality measures plotted as histograms, in order.
MEASURES = (*S.QUALITY_MEASURES, *S.CHECK_MEASURES)
# Everything the report reads (never the embeddings or logits: they are large).
COLUMNS = (
    S.IMAGE_ID,
    S.PATH,
    S.LABEL,
    S.STATUS,
    S.ERROR,
    S.WIDTH,
    S.HEIGHT,
    *MEASURES,
    S.QUALITY_FLAGS,
    S.PRED_LABEL,
    S.PRED_SCORE,
    S.LABEL_PROB,
    S.LABEL_VERDICT,
    S.LABEL_PREFERRED,
    S.LABEL_EVIDENCE,
    S.TEXT_REGIONS,
    S.PII_TYPES,
    S.REDACTED_PATH,
    S.TEXT_ERROR,
    S.RELEASE_VERIFIED,
    S.DECISION,
    S.REASONS,
)


@dataclass(frozen=True)
class ReportConfig:
    """What the report shows (config file section ``[report]``).

    ``thresholds`` maps a quality column to the values marked on its
    histogram; :func:`thresholds_from` derives them from a ``QualityConfig``.

    Example::

        write_report("out/run1", "out/run1/report.html",
                     ReportConfig(examples_per_flag=6, thresholds={"sharpness": [20.0]}))
    """

    title: str = "crowdlens moderation report"
    examples_per_flag: int = 8
    thumbnail_px: int = 200
    max_confusion_labels: int = 100
    max_group_rows: int = 50
    group_columns: tuple[str, ...] = (S.COUNTRY, S.CONTRIBUTOR)
    thresholds: dict[str, Any] = field(default_factory=dict)

    PARAMS: ClassVar[Params] = {
        "examples_per_flag": Interval(int, 0, 100),
        "thumbnail_px": Interval(int, 32, 1024),
        "max_confusion_labels": Interval(int, 2, None),
        "max_group_rows": Interval(int, 1, None),
        "group_columns": Each(NonEmpty(), "a list of column names"),
        "thresholds": Satisfies(
            lambda t: all(isinstance(v, int | float | str | list | tuple) for v in t.values()),
            "a table of column = number (or list of numbers)",
        ),
    }

    def __post_init__(self) -> None:
        validate(self)


def thresholds_from(quality_cfg: Any) -> dict[str, list[float]]:
    """Histogram thresholds from a quality config: ``sharpness_min`` marks ``sharpness``.

    Any numeric field named ``<measure>_min``, ``<measure>_max``,
    ``min_<measure>`` or ``max_<measure>`` is used; ``None`` (a flag switched
    off) is skipped.
    """
    out: dict[str, list[float]] = {}
    if quality_cfg is None or not dataclasses.is_dataclass(quality_cfg):
        return out
    for f in dataclasses.fields(quality_cfg):
        value = getattr(quality_cfg, f.name)
        if isinstance(value, bool) or not isinstance(value, int | float):
            continue
        name = f.name
        for affix in ("min_", "max_"):
            name = name.removeprefix(affix)
        for affix in ("_min", "_max"):
            name = name.removesuffix(affix)
        if name in MEASURES and name != f.name:
            out.setdefault(name, []).append(float(value))
    return out


def _floats(value: Any) -> list[float]:
    values = value if isinstance(value, list | tuple) else [value]
    out = []
    for v in values:
        try:
            out.append(float(v))
        except (TypeError, ValueError):
            continue
    return [v for v in out if math.isfinite(v)]


def _counts(series: pd.Series) -> dict[str, int]:
    return {str(k): int(v) for k, v in series.value_counts().items()}


def build_context(df: pd.DataFrame, base: Path | str | None, cfg: ReportConfig) -> dict[str, Any]:
    """Everything the template shows, from the results table (pure pandas/matplotlib)."""
    ctx: dict[str, Any] = {
        "title": cfg.title,
        "n": len(df),
        "generated": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "version": __version__,
        "plots": {},
        "examples": [],
    }
    cols = set(df.columns)
    if S.STATUS in cols:
        ctx["status"] = _counts(df[S.STATUS].fillna("missing"))
    if S.DECISION in cols:
        order = list(S.DECISIONS)
        counts = _counts(df[S.DECISION].fillna("none"))
        counts = {k: counts[k] for k in order if k in counts} | {
            k: v for k, v in counts.items() if k not in order
        }
        ctx["decisions"] = counts
        ctx["plots"]["decisions"] = plots.bar_chart(counts, "Photos by decision")
    if S.REASONS in cols:
        paths = df[S.PATH] if S.PATH in cols else [None] * len(df)
        shown = [shown_reasons(rs, p) for rs, p in zip(df[S.REASONS], paths)]
        reasons = df.assign(**{S.REASONS: shown})[S.REASONS].explode().dropna()
        if len(reasons):
            kinds = _counts(reasons.map(reason_kind))
            ctx["reason_kinds"] = kinds
            ctx["plots"]["reasons"] = plots.bar_chart(kinds, "Reasons", horizontal=True)
            ctx["top_reasons"] = list(_counts(reasons).items())[:30]

    _label_section(df, cfg, ctx)
    _quality_section(df, cfg, ctx)
    ctx["groups"] = _group_tables(df, cfg)
    ctx["examples"] = _example_grids(df, base, cfg)
    if S.STATUS in cols and S.ERROR in cols:
        errs = df[df[S.STATUS] != S.STATUS_OK]
        ctx["errors"] = [
            (str(r.get(S.IMAGE_ID)), without_paths(r.get(S.ERROR), r.get(S.PATH)))
            for r in errs.head(cfg.max_group_rows).to_dict("records")
        ]
        ctx["n_errors"] = len(errs)
    return ctx


def _label_section(df: pd.DataFrame, cfg: ReportConfig, ctx: dict[str, Any]) -> None:
    """Verdict counts, per-label agreement and the confusion matrix."""
    import numpy as np

    cols = set(df.columns)
    if S.LABEL_VERDICT in cols:
        ctx["verdicts"] = _counts(df[S.LABEL_VERDICT].fillna("none"))
        from crowdlens.report.items import item_figures

        ctx["items"] = item_figures(df, top=3)
    if {S.LABEL, S.PRED_LABEL} <= cols:
        lab = df[[S.LABEL, S.PRED_LABEL]].dropna()
        if len(lab):
            lab = lab.assign(correct=lab[S.LABEL] == lab[S.PRED_LABEL])
            per = lab.groupby(S.LABEL)["correct"].agg(["size", "mean"]).reset_index()
            per = per.sort_values(["mean", "size"], ascending=[True, False])
            ctx["accuracy"] = float(lab["correct"].mean())
            ctx["per_label"] = [
                (str(r[S.LABEL]), int(r["size"]), float(r["mean"])) for _, r in per.iterrows()
            ]
            top = lab[S.LABEL].value_counts().index[: cfg.max_confusion_labels]
            labels = sorted(set(top))
            index = {k: i for i, k in enumerate(labels)}
            sub = lab[lab[S.LABEL].isin(index) & lab[S.PRED_LABEL].isin(index)]
            matrix = np.zeros((len(labels), len(labels)), dtype=np.int64)
            np.add.at(
                matrix,
                (sub[S.LABEL].map(index).to_numpy(), sub[S.PRED_LABEL].map(index).to_numpy()),
                1,
            )
            ctx["confusion_note"] = (
                f"the {len(labels)} most frequent claimed labels"
                if lab[S.LABEL].nunique() > len(labels)
                else f"all {len(labels)} labels"
            )
            ctx["plots"]["confusion"] = plots.confusion_matrix(
                matrix, labels, "Confusion matrix (rows normalised)"
            )


def _quality_section(df: pd.DataFrame, cfg: ReportConfig, ctx: dict[str, Any]) -> None:
    """Histograms of the quality measures (thresholds marked) and flag counts."""
    import numpy as np
    import pandas as pd

    cols = set(df.columns)
    thresholds = {k: _floats(v) for k, v in cfg.thresholds.items()}
    hists = []
    ok = df[df[S.STATUS] == S.STATUS_OK] if S.STATUS in cols else df
    for m in MEASURES:
        if m not in cols:
            continue
        values = pd.to_numeric(ok[m], errors="coerce").dropna().to_numpy(dtype=float)
        values = values[np.isfinite(values)]
        if len(values):
            hists.append(plots.histogram(values, m, thresholds.get(m, [])))
    ctx["plots"]["quality"] = hists
    if S.QUALITY_FLAGS in cols:
        flags = df[S.QUALITY_FLAGS].map(_list).explode().dropna()
        ctx["flags"] = _counts(flags)


def _group_tables(df: pd.DataFrame, cfg: ReportConfig) -> list[dict[str, Any]]:
    """Decisions (and mismatches) per value of each group column (country, ...)."""
    import pandas as pd

    cols = set(df.columns)
    groups = []
    for g in cfg.group_columns:
        if g not in cols or S.DECISION not in cols:
            continue
        t = pd.crosstab(df[g].fillna("(none)").astype(str), df[S.DECISION].fillna("none"))
        t["total"] = t.sum(axis=1)
        t = t.sort_values("total", ascending=False).head(cfg.max_group_rows)
        if S.LABEL_VERDICT in cols:
            mism = df[df[S.LABEL_VERDICT] == S.VERDICT_MISMATCH].groupby(
                df[g].fillna("(none)").astype(str)
            )
            t[S.VERDICT_MISMATCH] = mism.size().reindex(t.index).fillna(0).astype(int)
        heads = [c for c in ("total", *S.DECISIONS, S.VERDICT_MISMATCH) if c in t.columns]
        rows = [(str(k), [int(t.loc[k, c]) for c in heads]) for k in t.index]
        groups.append({"column": g, "heads": heads, "rows": rows})
    return groups


def _example_grids(
    df: pd.DataFrame, base: Path | str | None, cfg: ReportConfig
) -> list[dict[str, Any]]:
    if cfg.examples_per_flag == 0:
        return []
    cols = set(df.columns)
    selections: list[tuple[str, pd.Series]] = []
    if S.QUALITY_FLAGS in cols:
        flag_lists = df[S.QUALITY_FLAGS].map(_list)
        for flag in sorted({f for fl in flag_lists for f in fl}):
            selections.append((f"quality: {flag}", flag_lists.map(lambda fl, f=flag: f in fl)))
    if S.LABEL_VERDICT in cols:
        for v in (S.VERDICT_MISMATCH, S.VERDICT_SUSPECT):
            selections.append((f"label {v}", df[S.LABEL_VERDICT] == v))
    if S.PII_TYPES in cols:
        selections.append(
            ("personal information", df[S.PII_TYPES].map(lambda t: len(_list(t)) > 0))
        )
    if S.TEXT_REGIONS in cols:
        has_text = df[S.TEXT_REGIONS].map(lambda t: len(_list(t)) > 0)
        if S.PII_TYPES in cols:
            has_text &= ~df[S.PII_TYPES].map(lambda t: len(_list(t)) > 0)
        selections.append(("text without personal information", has_text))
    grids = []
    for title, mask in selections:
        sub = df[mask.fillna(False).astype(bool)]
        if not len(sub):
            continue
        rows = sub.head(cfg.examples_per_flag).to_dict("records")
        grids.append(
            {
                "title": title,
                "count": len(sub),
                "items": [example(r, base, cfg.thumbnail_px) for r in rows],
            }
        )
    return grids


def contributors_section(base: Path | str, column: str) -> Any:
    """The scorecards of ``base/contributors.parquet`` (written by moderate) as safe HTML.

    None when the run wrote no scorecards (the input names no contributors).
    """
    from markupsafe import Markup

    from crowdlens.contributors import render_contributors_section
    from crowdlens.io.fs import join
    from crowdlens.io.results import open_results

    target = join(str(base), S.CONTRIBUTORS_FILE)
    if is_url(target):
        fs, inner = filesystem(target)
        if not fs.exists(inner):
            return None
    elif not Path(target).exists():
        return None
    table = open_results(target).to_table().to_pandas()
    # Built with html.escape on every value (crowdlens.contributors).
    return Markup(render_contributors_section(table, contributor_column=column))


def render(ctx: Mapping[str, Any]) -> str:
    """Render the report template (autoescaped) with ``ctx``."""
    from jinja2 import Environment, PackageLoader, select_autoescape

    env = Environment(
        loader=PackageLoader("crowdlens.report", "."),
        autoescape=select_autoescape(default=True, default_for_string=True),
    )
    return env.get_template("template.html").render(**ctx)


def write_report(
    results_parquet_path: str | Path,
    out_html: str | Path,
    cfg: ReportConfig | None = None,
    *,
    quality: Any = None,
    run_cfg: Any = None,
) -> Path | str:
    """Write the self-contained HTML report of a results table. Returns the HTML path.

    ``quality`` (a ``QualityConfig``) marks its thresholds on the histograms,
    unless ``cfg.thresholds`` names them already; ``run_cfg`` (the run's
    ``ModerateConfig``) says what a label flag means (``report/model_card.py``).
    Example thumbnails are made from the released copies only (``redacted_path``,
    relative to the results folder); a photo without one gets a placeholder saying
    why, never its original (see :mod:`crowdlens.report.examples`). Results and report may
    be URLs.

    Example::

        write_report("out/run1/results.parquet", "out/run1/report.html",
                     quality=QualityConfig())
    """
    cfg = cfg or ReportConfig()
    if quality is not None:
        merged = {**thresholds_from(quality), **cfg.thresholds}
        cfg = dataclasses.replace(cfg, thresholds=merged)
    src = results_path(results_parquet_path)
    df = read_results(src, [*COLUMNS, *cfg.group_columns])
    # Stored output paths are relative to the results folder (io/outputs.py).
    if isinstance(src, Path):
        base: Path | str = src.parent if src.name.endswith(".parquet") else src
    else:
        base = src.rsplit("/", 1)[0] if src.rstrip("/").endswith(".parquet") else src
    ctx = build_context(df, base, cfg)
    ctx["flag_meaning"] = flag_meaning(run_cfg, df)
    column = getattr(quality, "contributor_column", S.CONTRIBUTOR)
    ctx["contributors_html"] = contributors_section(base, column)
    html = render(ctx)
    if is_url(str(out_html)):  # one PUT: the object appears whole or not at all
        fs, inner = filesystem(str(out_html))
        fs.pipe_file(inner, html.encode("utf-8"))
        out: Path | str = str(out_html)
    else:
        out = Path(out_html)
        with atomic_path(out) as tmp:  # readers never see a half-written report
            tmp.write_text(html, encoding="utf-8")
    log.info("report written to %s (%d photos, %.1f MB)", out, len(df), len(html) / 1e6)
    return out
