"""``release``: the public dataset the whole pipeline exists for.

From a results folder it writes, into a new folder:

* ``images/<image_id>.<ext>`` - the released copy (redacted, re-encoded
  without any metadata) of every **accepted** photo, and nothing else;
* ``manifest.csv`` and ``manifest.parquet`` - ``image_id``, ``label`` (the
  reviewer's corrected label, else the claimed one), ``file`` and only the
  metadata columns the user marks public.

Reviewer decisions override the automatic ones when ``crowdlens review
export`` has written ``final.parquet`` beside the results. No OCR text, no
path of a contributor's original, no hash, no EXIF/GPS reaches the release.
It refuses to run when a photo it would release failed verification
(``release_verified`` is false) or has no released copy, naming the photos.
The folder appears whole or not at all (written aside, then renamed).
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from crowdlens import schema as S
from crowdlens.config import load_section
from crowdlens.errors import CrowdlensError
from crowdlens.io.atomic import atomic_path
from crowdlens.io.outputs import resolve_output
from crowdlens.io.results import read_results, results_path
from crowdlens.params import Each, Interval, NonEmpty, Options, Params, validate

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd
    from PIL import Image

log = logging.getLogger(__name__)

IMAGES_DIR = "images"
MANIFEST = "manifest"  # .csv and .parquet
FINAL_NAME = "final.parquet"  # written by 'crowdlens review export' (review/export.py)
# Manifest columns a user may mark public: metadata passed through from the
# input manifest. Everything crowdlens derives (paths, OCR text, hashes, GPS
# flags, scores) stays out, except the item group.
PUBLIC_DERIVED = frozenset({S.PARENT_LABEL})
SHOWN_IDS = 10
FORMATS = ("csv", "parquet")  # of the release manifest


@dataclass(frozen=True)
class ReleaseConfig:
    """What a release publishes (config file section ``[release]``).

    Example::

        release("out/run1", "public/run1", ReleaseConfig(public_columns=("country",)))
    """

    public_columns: tuple[str, ...] = ()
    jpeg_quality: int = 95
    formats: tuple[str, ...] = ("csv", "parquet")

    PARAMS: ClassVar[Params] = {
        "public_columns": Each(NonEmpty(), "a list of column names"),
        "jpeg_quality": Interval(int, 50, 100),
        "formats": Each(Options(FORMATS), "a non-empty list of 'csv' and 'parquet'", min_len=1),
    }

    def __post_init__(self) -> None:
        validate(self)


def load_release_config(path: str | Path | None) -> ReleaseConfig:
    """The ``[release]`` section of a TOML config file (defaults without a file)."""
    return load_section(ReleaseConfig, path, "release")


@dataclass(frozen=True)
class Released:
    """What a release wrote."""

    folder: Path
    n_photos: int  # released photos
    n_rows: int  # rows of the results table
    decisions_from: str  # "reviewers (final.parquet)" or "the pipeline (results.parquet)"
    unverified: int  # released photos whose verification is unknown
    notes: list[str] = field(default_factory=list)

    def format(self) -> str:
        lines = [
            f"crowdlens release: {self.n_photos} accepted photos of {self.n_rows} -> {self.folder}",
            f"  decisions from {self.decisions_from}",
        ]
        return "\n".join([*lines, *(f"  note: {n}" for n in self.notes)])


def _ids(frame: pd.DataFrame) -> str:
    ids = [str(i) for i in frame[S.IMAGE_ID].head(SHOWN_IDS)]
    more = len(frame) - len(ids)
    return ", ".join(ids) + (f" and {more} more" if more > 0 else "")


def check_public_columns(columns: tuple[str, ...], available: list[str]) -> None:
    """Refuse columns that do not exist or that crowdlens derives from the photo."""
    for c in columns:
        if c not in available:
            raise CrowdlensError(
                f"--public-column {c!r} is not a column of the results "
                f"(metadata columns: {', '.join(metadata_columns(available)) or 'none'})."
            )
        if c in S.DDL and c not in PUBLIC_DERIVED:
            raise CrowdlensError(
                f"--public-column {c!r} is derived by crowdlens, not input metadata: it cannot "
                "be made public (paths, OCR text, hashes and EXIF never leave the pipeline). "
                f"Public candidates: {', '.join(metadata_columns(available)) or 'none'}."
            )


def metadata_columns(columns: list[str]) -> list[str]:
    """The columns a user may publish: input metadata and the item group."""
    return [c for c in columns if c not in S.DDL or c in PUBLIC_DERIVED]


def _decisions(base: Path | str, results: Path | str, public: tuple[str, ...]):
    """The table to release from, and where its decisions come from."""
    wanted = [S.IMAGE_ID, S.STATUS, S.DECISION, S.LABEL, S.REDACTED_PATH, S.RELEASE_VERIFIED]
    final = Path(base) / FINAL_NAME if isinstance(base, Path) else None
    if final is not None and final.exists():
        newest = max(p.stat().st_mtime for p in Path(results).rglob("*") if p.is_file())
        if final.stat().st_mtime < newest:
            raise CrowdlensError(
                f"{final} is older than the results: run 'crowdlens review export {base}' "
                "again so that the reviewers' decisions match this run, or remove it."
            )
        df = read_results(final, [*wanted, S.FINAL_DECISION, S.FINAL_LABEL, *public])
        df[S.DECISION] = df[S.FINAL_DECISION].where(df[S.FINAL_DECISION].notna(), df[S.DECISION])
        df[S.LABEL] = df[S.FINAL_LABEL].where(df[S.FINAL_LABEL].notna(), df[S.LABEL])
        return df, f"reviewers where they decided ({FINAL_NAME}), else the pipeline"
    return read_results(results, [*wanted, *public]), "the pipeline (no reviewer export found)"


def select_release(df: pd.DataFrame, base: Path | str) -> tuple[pd.DataFrame, list[str]]:
    """The accepted rows with their released copy (``_source``); refuse unsafe ones."""
    notes: list[str] = []
    rows = df[(df[S.DECISION] == S.DECISION_ACCEPT) & (df[S.STATUS] == S.STATUS_OK)].copy()
    if S.REDACTED_PATH not in rows.columns:
        rows[S.REDACTED_PATH] = None
    if S.RELEASE_VERIFIED in rows.columns:
        failed = rows[rows[S.RELEASE_VERIFIED].astype("boolean").eq(False).fillna(False)]
        if len(failed):
            raise CrowdlensError(
                f"{len(failed)} accepted photos failed release verification (personal "
                f"information still readable in the released copy): {_ids(failed)}. Send them "
                "to review and reject them, or redact more strongly and run moderate again."
            )
        unknown = int(rows[S.RELEASE_VERIFIED].isna().sum())
        if unknown:
            notes.append(f"{unknown} released photos were not verified (release_verified null)")
    else:
        notes.append(
            f"the results have no {S.RELEASE_VERIFIED} column (made before verification "
            f"existed): {len(rows)} released photos are unverified"
        )
    rows["_source"] = [resolve_output(base, p) for p in rows[S.REDACTED_PATH]]
    missing = rows[rows["_source"].isna()]
    if len(missing):
        raise CrowdlensError(
            f"{len(missing)} accepted photos have no released copy in the results folder: "
            f"{_ids(missing)}. Originals are never released: run 'crowdlens moderate' with "
            "the text stage on (it writes the released copies), or reject these photos."
        )
    return rows, notes


def metadata_found(image: Image.Image) -> list[str]:
    """What metadata an opened image carries (EXIF, XMP, ICC, comments, text chunks)."""
    found = [
        k for k in ("exif", "xmp", "icc_profile", "comment", "XML:com.adobe.xmp") if k in image.info
    ]
    if image.getexif():
        found.append("EXIF tags")
    found += [f"text chunk {k!r}" for k in getattr(image, "text", {}) or {}]
    return sorted(set(found))


def _copy_clean(source: Any, target: Path, quality: int) -> None:
    """Copy a released copy without any metadata, then check that it has none.

    Lossless for a JPEG the whitelist copy accepts, else re-encoded at
    ``quality`` (:func:`crowdlens.text.redact.write_metadata_free`).
    """
    from PIL import Image

    from crowdlens.io.read import read_file
    from crowdlens.text.redact import write_metadata_free

    data, why = read_file(str(source), 1 << 31)
    if data is None:
        raise CrowdlensError(f"Cannot read the released copy {source}: {why}")
    write_metadata_free(data, str(target), jpeg_quality=quality)
    with Image.open(target) as out:
        left = metadata_found(out)
    if left:  # neither path ever writes metadata; a failure here is a bug, not input
        raise RuntimeError(f"released file {target} still carries {', '.join(left)}")


def _file_name(image_id: str, source: Any) -> str:
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in image_id).lstrip(".")
    ext = os.path.splitext(str(source))[1].lower()
    return f"{safe or 'photo'}{ext if ext in ('.jpg', '.jpeg', '.png', '.webp') else '.jpg'}"


def _write(rows: pd.DataFrame, tmp: Path, cfg: ReleaseConfig, public: tuple[str, ...]) -> None:
    import pandas as pd

    (tmp / IMAGES_DIR).mkdir(parents=True)
    files = []
    for image_id, source in zip(rows[S.IMAGE_ID], rows["_source"], strict=True):
        rel = f"{IMAGES_DIR}/{_file_name(str(image_id), source)}"
        _copy_clean(source, tmp / rel, cfg.jpeg_quality)
        files.append(rel)
    manifest = pd.DataFrame(
        {S.IMAGE_ID: rows[S.IMAGE_ID].astype(str).to_numpy(), S.LABEL: rows[S.LABEL].to_numpy()}
    )
    manifest[S.RELEASE_FILE] = files
    for c in public:
        manifest[c] = rows[c].to_numpy()
    if "csv" in cfg.formats:
        manifest.to_csv(tmp / f"{MANIFEST}.csv", index=False)
    if "parquet" in cfg.formats:
        manifest.to_parquet(tmp / f"{MANIFEST}.parquet", index=False)


def release(
    results_dir: str | Path,
    to: str | Path,
    cfg: ReleaseConfig | None = None,
    *,
    overwrite: bool = False,
) -> Released:
    """Write the public dataset of a results folder into ``to`` (atomically).

    Example::

        done = release("out/run1", "public/run1", ReleaseConfig(public_columns=("country",)))
        print(done.format())
    """
    cfg = cfg or ReleaseConfig()
    target = Path(to).expanduser()
    if target.exists() and not overwrite:
        raise CrowdlensError(
            f"{target} already exists. Pass --overwrite to replace it, or choose another --to."
        )
    src = results_path(results_dir)
    base: Path | str = src.parent if isinstance(src, Path) else src.rsplit("/", 1)[0]
    public = tuple(dict.fromkeys(cfg.public_columns))
    from crowdlens.io.results import columns_of

    check_public_columns(public, columns_of(src))
    df, decided_by = _decisions(base, src, public)
    rows, notes = select_release(df, base)
    rows = rows.sort_values(S.IMAGE_ID, kind="stable")
    with atomic_path(target) as tmp:
        _write(rows, tmp, cfg, public)
    unverified = (
        int(rows[S.RELEASE_VERIFIED].isna().sum())
        if S.RELEASE_VERIFIED in rows.columns
        else len(rows)
    )
    log.info("released %d photos to %s", len(rows), target)
    return Released(target, len(rows), len(df), decided_by, unverified, notes)
