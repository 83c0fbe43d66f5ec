"""Settings of the text stage: gate, OCR, PII detection, redaction.

A frozen dataclass validated once, in ``__post_init__``, with the project's
one message shape. It becomes the ``[text]`` section of a ``crowdlens
moderate`` config file.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from crowdlens.params import Each, Interval, NonEmpty, Options, Params, Pattern, validate

#: Entities looked for by default. DATE_TIME, URL, ORGANIZATION and LOCATION
#: are left out on purpose: price tags carry dates and brand names, and
#: blurring them would destroy what the survey needs.
DEFAULT_ENTITIES = (
    "PERSON",
    "PHONE_NUMBER",
    "EMAIL_ADDRESS",
    "ID_NUMBER",
    "STREET_ADDRESS",
    "CREDIT_CARD",
    "IBAN_CODE",
)

#: Regions whose national phone formats are recognised without a "+" prefix
#: (international "+CC ..." numbers are recognised for every region anyway).
DEFAULT_PHONE_REGIONS = (
    "US", "GB", "FR", "ES", "PT", "BR", "MX", "AR", "CO", "DE",
    "IT", "IN", "NG", "KE", "PH", "ZA", "CA", "SN", "CI", "MA",
)  # fmt: skip

REDACT_MODES = ("blur", "pixelate", "fill")
#: Which photos get a reviewer preview (the photo with its text outlined and
#: unblurred): those with personal information found, every photo with text, none.
PREVIEW_MODES = ("pii", "text", "off")
LANGUAGES = ("en", "fr")  # those with an offline spaCy model


@dataclass(frozen=True)
class TextConfig:
    """How text is found, read, checked for personal information and blurred.

    Example::

        cfg = TextConfig(redact_mode="pixelate", score_threshold=0.5,
                         entities=("PERSON", "PHONE_NUMBER", "EMAIL_ADDRESS"))
    """

    enabled: bool = True
    # Gate: run the text detector alone on a small copy, read only if it fires.
    gate: bool = True
    gate_max_side: int = 960
    gate_box_threshold: float = 0.3
    # Read the gate's boxes instead of detecting again at ocr_max_side: the
    # detector then runs once per photo, on the gate's small copy (the lines
    # are still cut from the photo at up to ocr_max_side). About 4x cheaper
    # on phone photos (docs/benchmarks.md); false runs the second detection.
    read_gate_boxes: bool = True
    # OCR (rapidocr): longest side handed to it, and minimum line score kept.
    ocr_max_side: int = 2000
    text_score: float = 0.5
    # Detector box threshold for reading. rapidocr's 0.5 drops whole lines of
    # spaced digits (phone numbers) on real backgrounds; 0.3 keeps them.
    det_box_threshold: float = 0.3
    # ONNX Runtime threads per OCR engine; one Spark task owns one core.
    threads: int = 1
    # PII
    languages: tuple[str, ...] = ("en", "fr")
    entities: tuple[str, ...] = DEFAULT_ENTITIES
    score_threshold: float = 0.35
    phone_regions: tuple[str, ...] = DEFAULT_PHONE_REGIONS
    # Redaction
    redact_mode: str = "blur"
    padding: float = 0.25  # of the word box height, on every side
    jpeg_quality: int = 92
    # Reviewer previews with the text outlined: "pii" for the photos whose
    # redaction a person may want to check (personal information found),
    # "text" for every photo with text (0.04 s of CPU each at 12 MP, and an
    # unblurred copy of nine photos in ten), "off" for none.
    previews: str = "pii"
    preview_max_side: int = 1280
    # The gate's detector in int8 (static QDQ, built locally once and cached;
    # crowdlens.text.quantize): about 3.5x cheaper, same PII figures (#14).
    det_int8: bool = True

    PARAMS: ClassVar[Params] = {
        "gate_max_side": Interval(int, 64, None),
        "gate_box_threshold": Interval(float, 0, 1, closed="neither"),
        "ocr_max_side": Interval(int, 64, None),
        "det_box_threshold": Interval(float, 0, 1, closed="neither"),
        "text_score": Interval(float, 0, 1),
        "threads": Interval(int, 0, None, note="0 = all cores"),
        "languages": Each(
            Options(LANGUAGES),
            "a non-empty list of languages with an offline spaCy model: 'en', 'fr'",
            min_len=1,
        ),
        "entities": Each(NonEmpty(), "a non-empty list of entity names", min_len=1),
        "score_threshold": Interval(float, 0, 1),
        "phone_regions": Each(
            Pattern("[A-Z]{2}", ""),
            "a list of ISO 3166 two-letter region codes such as ['US', 'FR']",
        ),
        "redact_mode": Options(REDACT_MODES),
        "padding": Interval(float, 0, 2),
        "jpeg_quality": Interval(int, 1, 100),
        "previews": Options(PREVIEW_MODES, note='the old true is "text", false "off"'),
        "preview_max_side": Interval(int, 64, None),
    }

    def __post_init__(self) -> None:
        validate(self)
