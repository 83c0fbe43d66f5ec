"""Every column of the results table, named once.

Nothing else in crowdlens spells a column name as a loose string: stages
import the constants from here, and the Spark types of the columns a stage
adds come from :data:`TYPES`. The results contract is documented in
``docs/architecture.md``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from pyspark.sql.types import DataType, StructField

# --- identity and input -----------------------------------------------------
IMAGE_ID = "image_id"  # stable id: the manifest's, else derived from the path
PATH = "path"  # where the photo was read from (absolute path or URL)
LABEL = "label"  # the item the photo claims to show (may be null)
PARENT_LABEL = "parent_label"  # optional coarser label (item group)

# --- internal columns (never written to results) -----------------------------
CONTENT = "content"  # the photo's bytes, read by the workers
READ_ERROR = "_read_error"  # why the bytes could not be read
ROW_NUMBER = "_row"  # position in the input, for stable ids

# --- run bookkeeping -----------------------------------------------------------
RUN_ID = "run_id"  # the moderate run that produced the row (incremental runs keep old rows)

# --- decode -------------------------------------------------------------------
STATUS = "status"  # "ok" or "error"
ERROR = "error"  # human-readable reason when status == "error"
WIDTH = "width"  # decoded width after EXIF orientation
HEIGHT = "height"  # decoded height after EXIF orientation
SHA256 = "sha256"  # hex digest of the file's bytes
FORMAT = "format"  # container format as Pillow names it (JPEG, PNG, ...)
FILE_SIZE = "file_size"  # bytes on disk
HAS_GPS = "has_gps"  # the file carries EXIF GPS data (stripped on release)

STATUS_OK = "ok"
STATUS_ERROR = "error"

# --- quality -----------------------------------------------------------------
SHARPNESS = "sharpness"
BLUR_EXTENT = "blur_extent"  # 0 = crisp .. 1 = blurred, texture-independent
EDGE_DENSITY = "edge_density"
BRIGHTNESS = "brightness"
DARK_FRACTION = "dark_fraction"
BRIGHT_FRACTION = "bright_fraction"
CONTRAST = "contrast"
NOISE = "noise"
MEGAPIXELS = "megapixels"
SHORT_SIDE = "short_side"
PHASH = "phash"
DUPLICATE_OF = "duplicate_of"
DUPLICATE_KIND = "duplicate_kind"
QUALITY_FLAGS = "quality_flags"
QUALITY_ERROR = "quality_error"  # why an ok photo could not be measured (null if fine)

# --- classification ----------------------------------------------------------
EMBEDDING = "embedding"
EMBEDDING_FLIP = "embedding_flip"  # training only: features of the mirrored photo
PRED_LABEL = "pred_label"
PRED_SCORE = "pred_score"
TOPK = "topk"
LABEL_PROB = "label_prob"
LABEL_RANK = "label_rank"
LABEL_VERDICT = "label_verdict"
# Raw classifier scores over the bundle's labels (before softmax), so label
# validation can apply the bundle's calibration to the full distribution.
LOGITS = "logits"

# --- text and privacy --------------------------------------------------------
HAS_TEXT = "has_text"
TEXT_REGIONS = "text_regions"
PII_TYPES = "pii_types"
REDACTED_PATH = "redacted_path"
TEXT_ERROR = "text_error"  # why text/PII/redaction failed for this photo (null if fine)
TEXT_PREVIEW_PATH = "text_preview_path"  # reviewer preview with the text outlined
# Release verification (docs/text.md): the redacted regions were read again.
# True: no personal item readable (possibly after stronger redaction); False:
# still readable, so no copy was released; null: no PII was redacted.
RELEASE_VERIFIED = "release_verified"
REASON_PII_STILL_READABLE = "pii_still_readable"  # decide's reason kind for False

# --- decision ----------------------------------------------------------------
DECISION = "decision"
REASONS = "reasons"

# --- conventional manifest metadata (passed through when present) ----------
# Not in DDL on purpose: they come from the manifest, never from a stage.
COUNTRY = "country"
CONTRIBUTOR = "contributor"

# --- human review (written by ``crowdlens review export``, never to results) --
REVIEW_ACTION = "review_action"  # accept / reject / relabel, or null if not reviewed
REVIEW_LABEL = "review_label"  # the reviewer's label when relabelled
REVIEWED_AT = "reviewed_at"  # ISO-8601 UTC time of the reviewer's latest decision
FINAL_DECISION = "final_decision"  # the reviewer's decision, else the pipeline's
FINAL_LABEL = "final_label"  # the reviewer's label, else the claimed one

# Spark SQL types, as DDL, for every column a stage adds.
DDL: dict[str, str] = {
    IMAGE_ID: "string",
    RUN_ID: "string",
    PATH: "string",
    LABEL: "string",
    PARENT_LABEL: "string",
    CONTENT: "binary",
    READ_ERROR: "string",
    STATUS: "string",
    ERROR: "string",
    WIDTH: "int",
    HEIGHT: "int",
    SHA256: "string",
    FORMAT: "string",
    FILE_SIZE: "long",
    HAS_GPS: "boolean",
    SHARPNESS: "double",
    BLUR_EXTENT: "double",
    EDGE_DENSITY: "double",
    BRIGHTNESS: "double",
    DARK_FRACTION: "double",
    BRIGHT_FRACTION: "double",
    CONTRAST: "double",
    NOISE: "double",
    MEGAPIXELS: "double",
    SHORT_SIDE: "int",
    PHASH: "string",
    DUPLICATE_OF: "string",
    DUPLICATE_KIND: "string",
    QUALITY_FLAGS: "array<string>",
    QUALITY_ERROR: "string",
    EMBEDDING: "array<float>",
    EMBEDDING_FLIP: "array<float>",
    PRED_LABEL: "string",
    PRED_SCORE: "float",
    TOPK: "array<struct<label:string,score:float>>",
    LABEL_PROB: "float",
    LABEL_RANK: "int",
    LABEL_VERDICT: "string",
    LOGITS: "array<float>",
    HAS_TEXT: "boolean",
    TEXT_REGIONS: (
        "array<struct<polygon:array<array<float>>,text:string,"
        "confidence:float,pii_types:array<string>>>"
    ),
    PII_TYPES: "array<string>",
    REDACTED_PATH: "string",
    TEXT_ERROR: "string",
    TEXT_PREVIEW_PATH: "string",
    RELEASE_VERIFIED: "boolean",
    DECISION: "string",
    REASONS: "array<string>",
    REVIEW_ACTION: "string",
    REVIEW_LABEL: "string",
    REVIEWED_AT: "string",
    FINAL_DECISION: "string",
    FINAL_LABEL: "string",
}

# The quality measures, in the order the stage adds them and the report plots them.
QUALITY_MEASURES = (
    SHARPNESS,
    BLUR_EXTENT,
    EDGE_DENSITY,
    BRIGHTNESS,
    DARK_FRACTION,
    BRIGHT_FRACTION,
    CONTRAST,
    NOISE,
    MEGAPIXELS,
    SHORT_SIDE,
)

# Columns that exist only while the job runs.
INTERNAL = (CONTENT, READ_ERROR, ROW_NUMBER)

# The read stage's output: the bytes, why they could not be read, their hash and size.
READ_COLUMNS = (CONTENT, READ_ERROR, SHA256, FILE_SIZE)

# The decode stage's output, in order.
DECODE_COLUMNS = (STATUS, ERROR, WIDTH, HEIGHT, FORMAT, HAS_GPS)

# Columns ingest produces itself; any other manifest column is metadata.
INPUT_COLUMNS = (IMAGE_ID, PATH, LABEL)


def spark_type(name: str) -> DataType:
    """The Spark type of column ``name``."""
    from pyspark.sql.types import _parse_datatype_string

    return _parse_datatype_string(DDL[name])


def fields(*names: str) -> list[StructField]:
    """Nullable Spark fields for the named columns, in order."""
    from pyspark.sql.types import StructField

    return [StructField(n, spark_type(n), nullable=True) for n in names]


def struct_ddl(*names: str) -> str:
    """A DDL struct body (``a int, b string``) for the named columns."""
    return ", ".join(f"{n} {DDL[n]}" for n in names)
