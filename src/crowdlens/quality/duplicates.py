"""Exact and near-duplicate photos across the whole dataset, on Spark.

How it scales (never an all-pairs cross join):

1. **Exact** duplicates share a SHA-256: one ``groupBy`` keeps one
   representative per distinct file, so a photo uploaded 1,000 times costs
   one row in step 2, not a million pairs.
2. **Near** duplicates: the 64-bit pHash of each representative is cut into
   ``hash_bands`` bands (multi-index hashing). If two hashes differ in at
   most ``d`` bits, some band differs in at most ``r = d // bands`` bits
   (pigeonhole), so joining each band value against every value within ``r``
   bits of it (a few hundred probe keys per photo) finds *every* pair within
   ``d`` — no false negatives — while a random pair of photos meets in a band
   with probability about ``bands * probes / 2**(64 / bands)`` (0.8 % for the
   defaults). Candidates are then checked with the exact Hamming distance,
   in Spark SQL (``bit_count`` of the XOR), so no Python runs in the join.
3. **Groups**: duplicate edges form a graph; each connected component is one
   group whose *first* photo is the smallest ``(order_column, image_id)``
   (``order_column`` defaults to ingest's input position ``_row``; without it,
   the smallest ``image_id``). Only edges travel to the driver (one row per
   duplicate photo, not per photo), where a union-find assigns the groups.

``duplicate_kind`` says how a photo relates to its group's first photo:
``exact`` (same bytes) or ``near``, with ``_cross_contributor`` appended
when a contributor column exists and the two contributors differ.

4. **Cross-photo signals** (:func:`relation`): a copy submitted by another
   contributor than the first photo's gets the flag ``shared_photo``; a copy
   by the *same* contributor claiming a *different* item gets
   ``reused_photo``. ``duplicate_note`` says it in words with both ids
   ("near copy of photo 'a1' (contributor 'c01', item 'Pear'); this photo
   'b7': contributor 'c02', item 'Apple'").
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from itertools import combinations
from typing import TYPE_CHECKING, Any

from crowdlens import schema as S
from crowdlens.quality.config import QualityConfig
from crowdlens.quality.hashing import HASH_BITS, HASH_HEX_DIGITS

if TYPE_CHECKING:  # pragma: no cover
    from pyspark.sql import DataFrame

EXACT = S.DUPLICATE_EXACT
NEAR = S.DUPLICATE_NEAR
CROSS_SUFFIX = S.DUPLICATE_CROSS_SUFFIX


@lru_cache(maxsize=16)
def probe_masks(bits: int, radius: int) -> tuple[int, ...]:
    """Every ``bits``-bit XOR mask with at most ``radius`` bits set.

    >>> len(probe_masks(16, 2))  # 1 + 16 + 120
    137
    """
    masks = [0]
    for k in range(1, radius + 1):
        for positions in combinations(range(bits), k):
            masks.append(sum(1 << p for p in positions))
    return tuple(masks)


def check_banding(cfg: QualityConfig) -> tuple[int, int]:
    """``(bits per band, probe keys per band)``; QualityConfig refuses banding that explodes."""
    return HASH_BITS // cfg.hash_bands, cfg.probe_keys


@dataclass(frozen=True)
class Node:
    """What the grouping needs to know about one photo."""

    image_id: str
    order: Any  # the order column's value (None sorts last)
    sha256: str | None
    contributor: Any = None
    label: Any = None

    @property
    def key(self) -> tuple[bool, Any, str]:
        return (self.order is None, self.order, self.image_id)


def group_duplicates(
    nodes: Mapping[str, Node], edges: Iterable[tuple[str, str]]
) -> dict[str, tuple[str, str]]:
    """Union-find over duplicate edges: ``image_id -> (duplicate_of, duplicate_kind)``.

    Only photos that duplicate an earlier one appear in the result; the first
    photo of each group (smallest :attr:`Node.key`) does not.

    >>> n = {i: Node(i, o, s) for i, o, s in [("a", 0, "x"), ("b", 1, "x"), ("c", 2, "y")]}
    >>> sorted(group_duplicates(n, [("b", "a"), ("c", "b")]).items())
    [('b', ('a', 'exact')), ('c', ('a', 'near'))]
    """
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        root = x
        while parent.get(root, root) != root:
            root = parent[root]
        while parent.get(x, x) != root:  # path compression
            parent[x], x = root, parent[x]
        return root

    for a, b in edges:
        ra, rb = find(a), find(b)
        if ra == rb:
            continue
        # The root of a component is always its first photo.
        if nodes[ra].key <= nodes[rb].key:
            parent[rb] = ra
        else:
            parent[ra] = rb
    out: dict[str, tuple[str, str]] = {}
    for x in list(parent):
        root = find(x)
        if root == x:
            continue
        node, first = nodes[x], nodes[root]
        kind = EXACT if node.sha256 is not None and node.sha256 == first.sha256 else NEAR
        if (
            node.contributor is not None
            and first.contributor is not None
            and node.contributor != first.contributor
        ):
            kind += CROSS_SUFFIX
        out[x] = (root, kind)
    return out


def _known(value: Any) -> bool:
    return value is not None and value == value and value != ""


def relation(node: Node, first: Node, kind: str) -> tuple[list[str], str]:
    """The cross-photo flags of a duplicate and its note, naming both photos.

    >>> a, b = Node("a", 0, "x", "c01", "Pear"), Node("b", 1, "y", "c01", "Apple")
    >>> relation(b, a, "near")[0]
    ['reused_photo']
    """
    flags = []
    c_node, c_first = node.contributor, first.contributor
    if _known(c_node) and _known(c_first):
        if c_node != c_first:
            flags.append(S.FLAG_SHARED_PHOTO)
        elif _known(node.label) and _known(first.label) and node.label != first.label:
            flags.append(S.FLAG_REUSED_PHOTO)

    def who(n: Node) -> str:
        parts = [f"contributor {n.contributor!r}" if _known(n.contributor) else None]
        parts.append(f"item {n.label!r}" if _known(n.label) else None)
        return ", ".join(p for p in parts if p) or "no contributor or item given"

    base = kind.removesuffix(CROSS_SUFFIX)
    note = (
        f"{base} copy of photo {first.image_id!r} ({who(first)}); "
        f"this photo {node.image_id!r}: {who(node)}"
    )
    return flags, note


def _band_columns(phash_col: str, bands: int) -> list[Any]:
    """Spark expressions: the hash's bands as longs (hex substrings -> base 10)."""
    from pyspark.sql import functions as F

    digits = HASH_HEX_DIGITS // bands
    return [
        F.conv(F.substring(F.col(phash_col), i * digits + 1, digits), 16, 10).cast("long")
        for i in range(bands)
    ]


def near_pairs(reps: DataFrame, cfg: QualityConfig) -> DataFrame:
    """Pairs ``(a, b, distance)`` of rows of ``reps`` whose pHash differ in <= hash_distance bits.

    ``reps`` has columns ``image_id`` and ``phash``; each pair appears once
    (``a < b``). A banded equi-join on probe keys, then the exact check.
    """
    from pyspark.sql import functions as F

    bits, _ = check_banding(cfg)
    masks = probe_masks(bits, cfg.band_radius)
    banded = reps.select(
        F.col(S.IMAGE_ID).alias("id"), F.array(*_band_columns(S.PHASH, cfg.hash_bands)).alias("hb")
    )
    index = banded.select("id", "hb", F.posexplode("hb").alias("band", "key"))
    probe = banded.select(
        F.col("id").alias("pid"), F.col("hb").alias("phb"), F.posexplode("hb").alias("band", "v")
    ).select(
        "pid",
        "phb",
        "band",
        F.explode(
            F.transform(
                F.array(*[F.lit(m).cast("long") for m in masks]), lambda m: F.col("v").bitwiseXOR(m)
            )
        ).alias("key"),
    )
    cand = probe.join(index, on=["band", "key"]).where(F.col("pid") < F.col("id"))
    # A pair can meet in several bands; keep it once, then measure it exactly.
    cand = cand.dropDuplicates(["pid", "id"])
    dist = F.aggregate(
        F.zip_with("phb", "hb", lambda x, y: F.bit_count(x.bitwiseXOR(y))),
        F.lit(0),
        lambda acc, x: acc + x,
    )
    return cand.select(
        F.col("pid").alias("a"), F.col("id").alias("b"), dist.alias("distance")
    ).where(F.col("distance") <= cfg.hash_distance)


def _nodes(df: DataFrame, cfg: QualityConfig) -> DataFrame:
    """The photos duplicates can be among, with what the grouping and the notes need."""
    from pyspark.sql import functions as F

    def optional(name: str, ddl: str) -> Any:
        return F.col(name).cast(ddl) if name in df.columns else F.lit(None).cast(ddl)

    blank = F.lit(False)
    if S.QUALITY_FLAGS in df.columns:
        blank = F.coalesce(F.array_contains(S.QUALITY_FLAGS, S.FLAG_LOW_INFORMATION), F.lit(False))
    return df.where(
        (F.col(S.STATUS) == S.STATUS_OK)
        & F.col(S.PHASH).isNotNull()
        & F.col(S.IMAGE_ID).isNotNull()
    ).select(
        F.col(S.IMAGE_ID).cast("string").alias(S.IMAGE_ID),
        (
            F.col(cfg.order_column) if cfg.order_column in df.columns else F.lit(None).cast("long")
        ).alias("_order"),
        F.coalesce(F.col(S.SHA256), F.col(S.IMAGE_ID).cast("string")).alias(S.SHA256),
        F.col(S.PHASH),
        optional(cfg.contributor_column, "string").alias("_contributor"),
        optional(S.LABEL, "string").alias("_label"),
        blank.alias("_blank"),
    )


def find_duplicates(df: DataFrame, cfg: QualityConfig) -> DataFrame:
    """A small DataFrame (:data:`DUPLICATES_DDL`): one row per duplicate photo.

    ``df`` needs ``image_id``, ``status``, ``sha256`` and ``phash`` (from
    ``quality_stage``); ``cfg.order_column`` and ``cfg.contributor_column``
    are used when present. Photos flagged ``low_information`` take part in
    exact duplicates only (their pHash is noise). Runs two Spark jobs and
    returns a DataFrame built on the driver (its size is the number of
    duplicates).

    Example::

        dups = find_duplicates(quality_stage(df, cfg), cfg)
        dups.show()  # image_id | duplicate_of | duplicate_kind
    """
    from pyspark.sql import functions as F

    check_banding(cfg)
    spark = df.sparkSession
    nodes = _nodes(df, cfg)
    # One representative per distinct file: the first by (order, image_id).
    first = F.min(F.struct(F.col("_order").isNull(), "_order", S.IMAGE_ID, S.PHASH))
    reps = nodes.groupBy(S.SHA256).agg(
        first.alias("f"), F.count(F.lit(1)).alias("n"), F.max("_blank").alias("_blank")
    )
    reps = reps.select(
        S.SHA256,
        "n",
        "_blank",
        F.col(f"f.{S.IMAGE_ID}").alias("rep"),
        F.col(f"f.{S.PHASH}").alias(S.PHASH),
    ).persist()
    try:
        # The pHash of a frame with nothing in it (low_information) is sensor
        # noise and a gradient: two pocket shots are not "the same photo".
        # Identical bytes still are (exact duplicates above).
        seekers = reps.where(~F.col("_blank")).select(F.col("rep").alias(S.IMAGE_ID), S.PHASH)
        near = near_pairs(seekers, cfg)
        near_edges = [(r["a"], r["b"]) for r in near.collect()]
        near_reps = spark.createDataFrame(
            [(x,) for x in {x for e in near_edges for x in e}], "rep string"
        )
        # Files that take part in a group: shared by several photos, or in a near pair.
        grouped = (
            reps.where(F.col("n") > 1)
            .select(S.SHA256, "rep")
            .unionByName(reps.join(F.broadcast(near_reps), on="rep").select(S.SHA256, "rep"))
            .distinct()
        )
        involved = nodes.join(F.broadcast(grouped), on=S.SHA256).collect()
    finally:
        reps.unpersist()
    node_map = {
        r[S.IMAGE_ID]: Node(r[S.IMAGE_ID], r["_order"], r[S.SHA256], r["_contributor"], r["_label"])
        for r in involved
    }
    exact_edges = [(r[S.IMAGE_ID], r["rep"]) for r in involved if r[S.IMAGE_ID] != r["rep"]]
    groups = group_duplicates(node_map, [*exact_edges, *near_edges])
    rows: list[tuple[str, str, str, str, list[str]]] = []
    for k, (first, kind) in sorted(groups.items()):
        flags, note = relation(node_map[k], node_map[first], kind)
        rows.append((k, first, kind, note, flags))
    return spark.createDataFrame(rows, DUPLICATES_DDL)


#: The schema of :func:`find_duplicates`' result (``_dup_flags``: the cross-photo flags).
DUPLICATES_DDL = (
    f"{S.IMAGE_ID} string, {S.DUPLICATE_OF} string, {S.DUPLICATE_KIND} string, "
    f"{S.DUPLICATE_NOTE} string, _dup_flags array<string>"
)
