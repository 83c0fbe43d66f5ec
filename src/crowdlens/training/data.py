"""Labelled photos for the torch side of training.

:func:`list_labelled_photos` turns a folder (label = parent folder name) or a
CSV/Parquet manifest (``path`` + label columns) into a small pandas table on
the driver; only paths travel, each training process reads its photos
itself. The paths are confined exactly as ``crowdlens moderate`` confines
its input (:mod:`crowdlens.io.confine`, the ``[ingest]`` settings): inside
the input's own folder tree by default, inside ``allowed_roots`` when given,
anywhere with ``confine_to_input = false``. A refused path stops the listing
with the reason ``moderate`` records for it, before any photo is read. :class:`PhotoDataset` decodes with :mod:`crowdlens.decode` and
preprocesses with :func:`crowdlens.models.preprocess.preprocess` (the same
pixels inference sees); a photo that fails to decode is skipped and counted.

Example::

    table = list_labelled_photos("data/train")                 # path, label, parent_label
    table, dropped = drop_rare_classes(table, min_per_class=5)
    labels = sorted(table.label.unique())
    ds = PhotoDataset.from_table(table, labels, spec, train=True, seed=0)
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from crowdlens import schema as S
from crowdlens.errors import CrowdlensError

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from crowdlens.config import IngestConfig
    from crowdlens.models.preprocess import PreprocessSpec

log = logging.getLogger(__name__)


def _read_manifest(path: Path) -> pd.DataFrame:
    import pandas as pd

    try:
        if path.suffix.lower() == ".csv":
            return pd.read_csv(path, dtype=str, keep_default_na=False)
        return pd.read_parquet(path)
    except Exception as exc:
        raise CrowdlensError(f"Cannot read manifest {str(path)!r}: {exc}") from None


def check_confined(
    paths: Sequence[str], root: str, ingest: IngestConfig, input_path: str | Path
) -> None:
    """Refuse the listing when a path breaks the input confinement ``moderate`` applies.

    The policy is built as :func:`crowdlens.io.ingest.ingest` builds it (``root``
    is the folder, or the manifest's folder), and each path is judged by
    :func:`crowdlens.io.confine.confine`, whose reason (with its fix) is the
    error ``moderate`` records for the same path.
    """
    from crowdlens.io.confine import confine, make_policy

    policy = make_policy(ingest.allowed_roots, ingest.allow_remote, ingest.confine_to_input, root)
    refused = [reason for reason in (confine(path, policy)[1] for path in paths) if reason]
    if refused:
        raise CrowdlensError(
            f"Training input {str(input_path)!r}: {len(refused)} of {len(paths)} photo paths "
            f"may not be read; the first: {refused[0]}"
        )


def list_labelled_photos(
    input_path: str | Path,
    *,
    label_column: str = S.LABEL,
    parent_label_column: str | None = None,
    keep_unlabelled: bool = False,
    ingest: IngestConfig | None = None,
) -> pd.DataFrame:
    """Photos and labels of a folder or manifest: columns ``path``, ``label``, ``parent_label``.

    ``parent_label`` comes from ``parent_label_column`` for a manifest, from a
    ``classes.csv`` or the folder layout for a folder (see
    :mod:`crowdlens.training.hierarchy`), and is null when unknown. Photos
    without a label are dropped (they cannot be trained on), with a log line,
    unless ``keep_unlabelled`` (``crowdlens audit``: one row per input).
    Every path must pass the input confinement of ``ingest`` (its defaults:
    the input's own folder tree), else :class:`CrowdlensError`.
    """
    import pandas as pd

    from crowdlens.config import IngestConfig
    from crowdlens.io.ingest import MANIFEST_SUFFIXES, folder_table, is_photo_folder
    from crowdlens.training.hierarchy import parent_map

    p = Path(input_path).expanduser()
    if not p.exists():
        raise CrowdlensError(
            f"Training input {str(input_path)!r} does not exist. Pass a folder with one "
            "sub-folder per label, or a .csv/.parquet manifest with path and label columns."
        )
    ingest = ingest or IngestConfig()
    # Confined before anything else reads the paths; the root is the one
    # moderate confines to: the folder, or the manifest's folder.
    if is_photo_folder(p):
        table = folder_table(p, IngestConfig())
        check_confined(list(table[S.PATH]), str(p.resolve()), ingest, input_path)
        out = pd.DataFrame({S.PATH: table[S.PATH], S.LABEL: table[S.LABEL]})
        parents = parent_map(p, list(out[S.PATH]))
        out[S.PARENT_LABEL] = out[S.LABEL].map(lambda v: parents.get(v) if v else None)
    elif p.suffix.lower() in MANIFEST_SUFFIXES:
        m = _read_manifest(p)
        missing = [c for c in (S.PATH, label_column) if c not in m.columns]
        if missing:
            raise CrowdlensError(
                f"Manifest {str(p)!r} lacks the column(s) {missing} (columns: "
                f"{', '.join(map(str, m.columns))}); fix --label-column or the manifest."
            )
        base = p.parent.resolve()
        paths = [
            str(v) if str(v).startswith("/") or "://" in str(v) else str(base / str(v))
            for v in m[S.PATH]
        ]
        check_confined(paths, str(base), ingest, input_path)
        out = pd.DataFrame({S.PATH: paths, S.LABEL: m[label_column].astype("object")})
        if parent_label_column:
            if parent_label_column not in m.columns:
                raise CrowdlensError(
                    f"Manifest {str(p)!r} has no parent label column {parent_label_column!r} "
                    f"(columns: {', '.join(map(str, m.columns))}); fix --parent-label-column."
                )
            out[S.PARENT_LABEL] = m[parent_label_column].astype("object").values
        else:
            out[S.PARENT_LABEL] = None
    else:
        raise CrowdlensError(
            f"Training input {str(input_path)!r} is neither a folder nor a .csv/.parquet manifest."
        )
    out[S.LABEL] = out[S.LABEL].map(lambda v: None if v is None or str(v) == "" else str(v))
    unlabelled = int(out[S.LABEL].isna().sum())
    if unlabelled:
        log.warning("%d photos in %s have no label and are not used for training", unlabelled, p)
    if keep_unlabelled:
        return out.reset_index(drop=True)
    return out[out[S.LABEL].notna()].reset_index(drop=True)


def drop_rare_classes(table: pd.DataFrame, min_per_class: int) -> tuple[pd.DataFrame, list[str]]:
    """Drop classes with fewer than ``min_per_class`` photos, warning with their names."""
    counts = table[S.LABEL].value_counts()
    rare = sorted(str(c) for c in counts[counts < min_per_class].index)
    if rare:
        log.warning(
            "dropped %d classes with fewer than %d photos (raise their photo count or lower "
            "--min-per-class): %s",
            len(rare),
            min_per_class,
            ", ".join(f"{c} ({counts[c]})" for c in rare),
        )
    kept = table[~table[S.LABEL].isin(rare)].reset_index(drop=True)
    if kept.empty:
        raise CrowdlensError(
            f"The training set is empty after dropping classes with fewer than {min_per_class} "
            "photos. Lower --min-per-class or add photos."
        )
    return kept, rare


def targets_for(table: pd.DataFrame, labels: Sequence[str]) -> tuple[list[str], list[int]]:
    """Paths and class indices of rows whose label is in ``labels`` (others are dropped)."""
    index = {lab: i for i, lab in enumerate(labels)}
    rows = [(p, index[lab]) for p, lab in zip(table[S.PATH], table[S.LABEL]) if lab in index]
    return [r[0] for r in rows], [r[1] for r in rows]


class PhotoDataset:
    """Photos on disk -> ``(float32 [3, H, W], class index)``, or None if undecodable.

    Augmentation (``train=True``) draws from a generator seeded by
    (``seed``, epoch, index): the same photo gets the same crop in the same
    epoch whichever process reads it, which keeps resumed runs exact.
    Undecodable photos are remembered in :attr:`failed` (index -> reason).
    """

    def __init__(
        self,
        paths: Sequence[str],
        targets: Sequence[int],
        spec: PreprocessSpec,
        *,
        train: bool = False,
        seed: int = 0,
    ) -> None:
        if len(paths) != len(targets):
            raise ValueError(f"{len(paths)} paths but {len(targets)} targets")
        self.paths = list(paths)
        self.targets = [int(t) for t in targets]
        self.spec = spec
        self.train = train
        self.seed = seed
        self.epoch = 0
        self.failed: dict[int, str] = {}

    @classmethod
    def from_table(
        cls,
        table: pd.DataFrame,
        labels: Sequence[str],
        spec: PreprocessSpec,
        *,
        train: bool = False,
        seed: int = 0,
    ) -> PhotoDataset:
        paths, targets = targets_for(table, labels)
        return cls(paths, targets, spec, train=train, seed=seed)

    def __len__(self) -> int:
        return len(self.paths)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def load(self, i: int) -> np.ndarray:
        """Read, decode and preprocess photo ``i`` (raises on a bad photo)."""
        from crowdlens.models.preprocess import load_image, preprocess

        with open(self.paths[i], "rb") as f:
            data = f.read()
        image = load_image(data, self.spec)
        rng = np.random.default_rng([self.seed, self.epoch, i]) if self.train else None
        return preprocess(image, self.spec, train=self.train, rng=rng)

    def __getitem__(self, i: int) -> tuple[Any, int] | None:
        from crowdlens.decode import DecodeError

        try:
            x = self.load(i)
        except (DecodeError, OSError) as exc:
            if i not in self.failed:
                log.warning("skipping %s: %s", self.paths[i], exc)
                self.failed[i] = str(exc)
            return None
        return x, self.targets[i]
