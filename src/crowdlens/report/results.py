"""Reading the results table back (Parquet dataset) for the report and the review UI.

Only the columns asked for are read, and columns a run did not produce are
simply absent: the report and the UI adapt to what exists.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from crowdlens.errors import CrowdlensError
from crowdlens.io.fs import filesystem, is_url, join

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd
    import pyarrow.dataset as ds

RESULTS_NAME = "results.parquet"


def results_path(path: str | Path) -> Path | str:
    """``DIR/results.parquet`` for an output folder, or the Parquet path itself.

    Object-store URLs (``s3://bucket/runs/r1``) stay URLs.
    """
    if is_url(str(path)):
        fs, inner = filesystem(str(path))
        if fs.exists(join(inner, RESULTS_NAME)):
            return join(str(path), RESULTS_NAME)
        if fs.exists(inner):
            return str(path)
        raise CrowdlensError(
            f"No results at {str(path)!r}: pass the folder 'crowdlens moderate --out' wrote."
        )
    p = Path(path)
    if p.is_dir() and (p / RESULTS_NAME).exists():
        return p / RESULTS_NAME
    if p.exists():
        return p
    raise CrowdlensError(
        f"No results at {str(p)!r}: pass the folder written by 'crowdlens moderate --out DIR' "
        "(it holds results.parquet) or the results.parquet path itself."
    )


def open_results(path: str | Path) -> ds.Dataset:
    import pyarrow.dataset as pads

    p = results_path(path)
    try:
        if is_url(str(p)):  # pyarrow reads through the fsspec filesystem
            fs, inner = filesystem(str(p))
            return pads.dataset(inner, format="parquet", filesystem=fs)
        return pads.dataset(str(p), format="parquet")
    except Exception as exc:  # pyarrow's errors name the file, keep them
        raise CrowdlensError(f"Cannot read the results table {str(p)!r}: {exc}") from None


def columns_of(path: str | Path) -> list[str]:
    return list(open_results(path).schema.names)


def read_results(
    path: str | Path,
    columns: Sequence[str] | None = None,
    *,
    filter: Any = None,
) -> pd.DataFrame:
    """The results table as pandas, with only the requested columns that exist.

    Example::

        df = read_results("out/run1", [S.IMAGE_ID, S.DECISION, S.REASONS])
    """
    dataset = open_results(path)
    names = set(dataset.schema.names)
    cols = None if columns is None else [c for c in dict.fromkeys(columns) if c in names]
    return dataset.to_table(columns=cols, filter=filter).to_pandas()
