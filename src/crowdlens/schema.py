"""Every column of the results table, named once.

Nothing else in crowdlens spells a column name as a loose string: stages
import the constants from here, and the Spark types of the columns a stage
adds come from :data:`DDL`. The values a column takes (decisions, verdicts,
flags, statuses) and the fields inside its structs are named here too. The results contract is documented in
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

# --- quality: more checks (issue #16) ------------------------------------------
DETAIL = "detail"  # structure at thumbnail scale, relative to exposure headroom (0 = flat)
COLORFULNESS = "colorfulness"  # 95th percentile of per-pixel saturation, 0 (grey) .. 1
ASPECT_RATIO = "aspect_ratio"  # long side / short side of the true size
# The measures behind the checks of issue #16, plotted and shown like QUALITY_MEASURES.
CHECK_MEASURES = (DETAIL, COLORFULNESS, ASPECT_RATIO)
DUPLICATE_NOTE = "duplicate_note"  # the duplicate in words, with both ids and contributors

# Flag vocabulary (the order flags appear in ``quality_flags``).
FLAG_LOW_RESOLUTION = "low_resolution"
FLAG_BLURRY = "blurry"
FLAG_TOO_DARK = "too_dark"
FLAG_TOO_BRIGHT = "too_bright"
FLAG_LOW_CONTRAST = "low_contrast"
FLAG_NOISY = "noisy"
FLAG_LOW_INFORMATION = "low_information"  # near-uniform frame: pocket, floor, lens cap
FLAG_GRAYSCALE = "grayscale"  # no colour at all (a scan, a filter, a copied print)
FLAG_ODD_ASPECT_RATIO = "odd_aspect_ratio"  # screenshots, panoramas, strips
FLAG_STALE_CAPTURE = "stale_capture"  # captured long before it was submitted
FLAG_LOCATION_MISMATCH = "location_mismatch"  # GPS outside the claimed country
FLAG_EDITED = "edited"  # an editing application wrote the file
FLAG_DUPLICATE = "duplicate"
FLAG_SHARED_PHOTO = "shared_photo"  # the same photo submitted by another contributor too
FLAG_REUSED_PHOTO = "reused_photo"  # the same contributor's photo for a different item
PROVENANCE_FLAGS = (FLAG_STALE_CAPTURE, FLAG_LOCATION_MISMATCH, FLAG_EDITED)

# duplicate_kind vocabulary: how a photo relates to its group's first photo.
DUPLICATE_EXACT = "exact"
DUPLICATE_NEAR = "near"
DUPLICATE_CROSS_SUFFIX = "_cross_contributor"  # appended when the contributors differ

# --- provenance: read from EXIF by the decode stage, before anything is stripped
# Private: in results.parquet only, never in a released copy or manifest.
CAPTURED_AT = "captured_at"  # EXIF DateTimeOriginal as ISO-8601 (offset when the file has one)
GPS_LAT = "gps_lat"  # EXIF GPS latitude, degrees, rounded to quality.gps_decimals
GPS_LON = "gps_lon"  # EXIF GPS longitude, degrees, rounded to quality.gps_decimals
CAMERA = "camera"  # EXIF Make + Model
SOFTWARE = "software"  # EXIF Software (the application that wrote the file)
CAPTURE_AGE_DAYS = "capture_age_days"  # submitted_at - captured_at, in days
GPS_COUNTRY = "gps_country"  # ISO 3166 alpha-2 of the country the GPS point lies in
PROVENANCE_COLUMNS = (CAPTURED_AT, GPS_LAT, GPS_LON, CAMERA, SOFTWARE)
# What a release (copies, manifest) must never carry: provenance and what is derived from it.
PRIVATE_COLUMNS = (*PROVENANCE_COLUMNS, CAPTURE_AGE_DAYS, GPS_COUNTRY, HAS_GPS)
# Conventional manifest column the stale_capture check reads (name configurable).
SUBMITTED_AT = "submitted_at"

# --- contributor scorecards (contributors.parquet, one row per contributor) -----
CONTRIBUTORS_FILE = "contributors.parquet"
SC_PHOTOS = "photos"  # photos submitted
SC_ERRORS = "errors"  # photos that could not be read or decoded
SC_ACCEPTED = "accepted_share"  # share of the contributor's photos accepted, 0..1
SC_REVIEWED = "reviewed_share"  # ... sent to review
SC_REJECTED = "rejected_share"  # ... rejected
SC_LABEL_MISMATCHES = "label_mismatches"  # photos whose label verdict is "mismatch"
SC_SHARED = "duplicates_shared"  # photos in a copy pair with another contributor (either side)
SC_REUSED = "photos_reused"  # own photos resubmitted for a different item
SC_PROVENANCE = "provenance_flagged"  # photos with any provenance flag
SC_FLAG_PREFIX = "flag_"  # + a flag name: photos with that flag (one column per flag)

# --- classification ----------------------------------------------------------
EMBEDDING = "embedding"
EMBEDDING_FLIP = "embedding_flip"  # training only: features of the mirrored photo
PRED_LABEL = "pred_label"
PRED_SCORE = "pred_score"
TOPK = "topk"  # array<struct<TOPK_LABEL, TOPK_SCORE>>
TOPK_LABEL = "label"  # field of a TOPK entry
TOPK_SCORE = "score"  # field of a TOPK entry
LABEL_PROB = "label_prob"
LABEL_RANK = "label_rank"
LABEL_VERDICT = "label_verdict"
# --- label validation: verdicts and what they name (issue #12) ---------------
LABEL_PREFERRED = "label_preferred"  # the item the model prefers over the claimed one
LABEL_RELATION = "label_relation"  # how the preferred item relates to the claimed one
LABEL_ISSUE_SCORE = "label_issue_score"  # best other p - claimed p: higher = likelier wrong
AUDIT_FOLD = "audit_fold"  # audit: the fold whose head did not see this photo
# audit --fold-grouping: each photo dealt alone (stratified by label), or whole
# groups of near-copies together (training/groups.py; docs/benchmarks.md, issue 12)
FOLDS_RANDOM = "random"
FOLDS_NEAR_DUPLICATE = "near-duplicate"
FOLD_GROUPINGS = (FOLDS_RANDOM, FOLDS_NEAR_DUPLICATE)
VERDICT_CONFIRMED = "confirmed"  # the claimed item is what the model sees
VERDICT_SUSPECT = "suspect"  # the model prefers another item: a person should look
VERDICT_MISMATCH = "mismatch"  # the claimed item is implausible
VERDICT_UNKNOWN = "unknown"  # no label, a label the model does not know, or no prediction
VERDICTS = (VERDICT_CONFIRMED, VERDICT_SUSPECT, VERDICT_MISMATCH, VERDICT_UNKNOWN)
RELATION_SIBLING = "sibling"  # same parent (Granny-Smith vs Pink-Lady)
RELATION_DIFFERENT = "different_kind"  # another parent (banana vs milk)
RELATIONS = (RELATION_SIBLING, RELATION_DIFFERENT)
# Raw classifier scores over the bundle's labels (before softmax), so label
# validation can apply the bundle's calibration to the full distribution.
LOGITS = "logits"
# What label validation judged by: the image model alone, or with the photo's
# text (the bundle's text evidence, crowdlens.training.text_evidence).
LABEL_EVIDENCE = "label_evidence"
EVIDENCE_IMAGE = "image"
EVIDENCE_IMAGE_TEXT = "image+text"
# Training only: a photo's confident OCR lines, lower case (the text evidence reads it).
TEXT_DOCUMENT = "text_document"

# --- text and privacy --------------------------------------------------------
HAS_TEXT = "has_text"
TEXT_REGIONS = "text_regions"  # array<struct<REGION_* fields>>
REGION_POLYGON = "polygon"  # field of a TEXT_REGIONS entry: [[x, y], ...] in photo pixels
REGION_TEXT = "text"  # field of a TEXT_REGIONS entry: what OCR read
REGION_CONFIDENCE = "confidence"  # field of a TEXT_REGIONS entry
REGION_PII_TYPES = "pii_types"  # field of a TEXT_REGIONS entry: [] unless personal data
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
DECISION_ACCEPT = "accept"
DECISION_REVIEW = "review"
DECISION_REJECT = "reject"
DECISIONS = (DECISION_ACCEPT, DECISION_REVIEW, DECISION_REJECT)  # in report order

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

# --- review at scale (issue 13): reviewers, audit trail, queue vocabularies ---
REVIEWER = "reviewer"  # who decided (a named reviewer of review.sqlite)
REVIEW_PREV_ACTION = "prev_action"  # the reviewer's decision before this one (audit)
REVIEW_PREV_LABEL = "prev_label"  # the reviewer's label before this one (audit)
REVIEW_BATCH = "batch"  # one bulk request = one batch (undo works per batch)
REVIEW_STATE = "review_state"  # pending / decided / conflict / second (see REVIEW_STATES)
CLAIMED_LABEL = "claimed_label"  # corrected training manifest: the label before review
# Reviewer actions (issue 15: named); "pending" takes a photo back to the queue
# (undo, or on purpose). Accept and reject are the decision values.
REVIEW_RELABEL = "relabel"
REVIEW_PENDING = "pending"
REVIEW_ACTIONS = (DECISION_ACCEPT, DECISION_REJECT, REVIEW_RELABEL, REVIEW_PENDING)
# Queue state of a photo: nobody decided it; reviewers agree; they disagree; a
# double-review photo decided once that waits for a second reviewer.
REVIEW_DECIDED = "decided"
REVIEW_CONFLICT = "conflict"  # review_action of a photo whose reviewers disagree
REVIEW_SECOND = "second"
REVIEW_STATES = (REVIEW_PENDING, REVIEW_DECIDED, REVIEW_CONFLICT, REVIEW_SECOND)
# What a reviewer asks the queue to show.
REVIEW_SHOW_TODO = "todo"  # pending, plus double-review photos this reviewer has not decided
REVIEW_SHOW_MINE = "mine"
REVIEW_SHOW_ALL = "all"
REVIEW_SHOWS = (
    REVIEW_SHOW_TODO,
    REVIEW_PENDING,
    REVIEW_DECIDED,
    REVIEW_CONFLICT,
    REVIEW_SHOW_MINE,
    REVIEW_SHOW_ALL,
)
REVIEW_SORTS = ("uncertainty", "score", "label", "country", "contributor", "id")
# --- release (crowdlens release; io/confine.py) --------------------------------
# (release refuses photos whose RELEASE_VERIFIED, written by the text stage, is False)
RELEASE_FILE = "file"  # release manifest: the copy's path inside the release folder

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
    DETAIL: "double",
    COLORFULNESS: "double",
    ASPECT_RATIO: "double",
    DUPLICATE_NOTE: "string",
    CAPTURED_AT: "string",
    GPS_LAT: "double",
    GPS_LON: "double",
    CAMERA: "string",
    SOFTWARE: "string",
    CAPTURE_AGE_DAYS: "double",
    GPS_COUNTRY: "string",
    EMBEDDING: "array<float>",
    EMBEDDING_FLIP: "array<float>",
    PRED_LABEL: "string",
    PRED_SCORE: "float",
    TOPK: f"array<struct<{TOPK_LABEL}:string,{TOPK_SCORE}:float>>",
    LABEL_PROB: "float",
    LABEL_RANK: "int",
    LABEL_VERDICT: "string",
    LABEL_PREFERRED: "string",
    LABEL_RELATION: "string",
    LABEL_ISSUE_SCORE: "float",
    LABEL_EVIDENCE: "string",
    TEXT_DOCUMENT: "string",
    AUDIT_FOLD: "int",
    LOGITS: "array<float>",
    HAS_TEXT: "boolean",
    TEXT_REGIONS: (
        f"array<struct<{REGION_POLYGON}:array<array<float>>,{REGION_TEXT}:string,"
        f"{REGION_CONFIDENCE}:float,{REGION_PII_TYPES}:array<string>>>"
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
    REVIEWER: "string",
    REVIEW_PREV_ACTION: "string",
    REVIEW_PREV_LABEL: "string",
    REVIEW_BATCH: "long",
    REVIEW_STATE: "string",
    CLAIMED_LABEL: "string",
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

# --- decode once (issue #14) ---------------------------------------------------
# The decode stage's reduced RGB copy of each photo (raw uint8, row-major, at
# the JPEG DCT scale the quality and model stages need), read by those stages
# instead of decoding the bytes again. Dropped with the bytes after them.
PIXELS = "pixels"  # binary: width * height * 3 bytes
PIXELS_SIZE = "pixels_size"  # [width, height] of PIXELS
DDL[PIXELS] = "binary"
DDL[PIXELS_SIZE] = "array<int>"
INTERNAL = (*INTERNAL, PIXELS, PIXELS_SIZE)
# Working columns the per-photo stages read; dropped before the light rows are kept.
PER_PHOTO_ONLY = (CONTENT, READ_ERROR, PIXELS, PIXELS_SIZE)


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
