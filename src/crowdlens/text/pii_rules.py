"""Is a candidate really personal information? Rules beyond the recognisers.

A name tagger on a short OCR fragment calls shelf labels people ("Päron
Kaiser"), and a phone matcher calls best-before dates and lot codes phone
numbers ("20.07 2018 13 06"). Personal data in survey photos comes from
handwritten notes, receipts and ID cards, so each candidate that a recogniser
proposes is judged again here, from its text, the whole line it sits on and
the line before (a :class:`Candidate`):

* **names**: no word may be packaging, produce, calendar or store vocabulary
  (:mod:`crowdlens.text.lexicon`); a name from the tagger alone also needs
  support — a known given name or surname, or a cue such as "Name:", "Sr.",
  "Contact" on its line or the line before. A lone title-case phrase on a
  shelf label has none.
* **phones**: never a date, time, price, weight or a number on a line about
  lots, best-before dates, prices or weights (unless a phone word such as
  "Tel" is there too); 7 to 15 digits; valid for a configured region or as an
  international "+CC" number (``phonenumbers``). Without a phone word, a
  number must not be run into other digits ("0292010+012880", "13:09 17518"),
  and one without its country code ("+" or "00") must be written as its
  country writes phone numbers (the trunk prefix where there is one, "0211
  0300088"), or be a mobile: codes printed on packs ("21103 00088") parse as
  valid fixed lines somewhere.
* **ID numbers**: formats with a check digit are checked (Spanish DNI/NIE
  letter, Brazilian CPF, French NIR key); generic shapes (letters + digits,
  digit groups, long numbers) need an ID word ("passport", "DNI", "CPF", ...,
  matched with one OCR slip allowed) on the line or the line before.
* **addresses**: the words of a street name may not be units or packaging
  vocabulary, and a line about prices or weights is not an address.

Every function here is pure and needs neither presidio nor spaCy.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from crowdlens.text.lexicon import (
    ID_CUES,
    NAME_CUES,
    NOT_NAME_PHRASES,
    NUMBER_NOT_PERSONAL,
    PHONE_CUES,
    fold,
    is_not_name_word,
    words,
)
from crowdlens.text.names import is_given_name, is_surname


@dataclass(frozen=True)
class Candidate:
    """One entity a recogniser proposed, with what surrounds it.

    ``before`` is the text of its line before the span, ``line`` the whole
    line (lines, when the span crosses one), ``previous`` the line above.
    ``source`` names the recogniser ("spacy", "pattern:<name>", "phone").
    """

    entity_type: str
    text: str
    line: str
    before: str = ""
    previous: str = ""
    source: str = ""


def _near(word: str, vocab: Iterable[str]) -> bool:
    """``word`` is in ``vocab``, or one OCR slip (one substitution) away from a long entry."""
    if word in vocab:  # type: ignore[operator]
        return True
    if len(word) < 5:
        return False
    for cue in vocab:
        if len(cue) == len(word) and sum(a != b for a, b in zip(cue, word)) == 1:
            return True
    return False


def has_cue(texts: Sequence[str], cues: frozenset[str], *, fuzzy: bool = False) -> bool:
    """Whether any word of ``texts`` is one of ``cues`` (one OCR slip allowed if ``fuzzy``).

    >>> has_cue(["passpont x1234567"], frozenset({"passport"}), fuzzy=True)
    True
    """
    for text in texts:
        for w in words(text):
            if (w in cues) or (fuzzy and _near(w, cues)):
                return True
    return False


# --- names -------------------------------------------------------------------

_TITLE = re.compile(r"^[A-ZÀ-ÖØ-Þ][a-zß-öø-ÿ'’-]+$")


def plausible_name(c: Candidate) -> bool:
    """Whether a PERSON candidate is a person's name (see the module docstring).

    >>> plausible_name(Candidate("PERSON", "Päron Kaiser", "Päron Kaiser", source="spacy"))
    False
    >>> plausible_name(Candidate("PERSON", "Ana Lopez", "Ana Lopez", source="spacy"))
    True
    """
    tokens = [t.strip(".,:;'’") for t in c.text.split()]
    tokens = [t for t in tokens if t]
    if not tokens or any(ch.isdigit() for ch in c.text):
        return False
    if fold(" ".join(tokens)) in NOT_NAME_PHRASES:
        return False
    if any(is_not_name_word(w) for t in tokens for w in words(t)):
        return False
    if not c.source.startswith("spacy"):
        return True  # given-name and "Name:" patterns carry their own evidence
    if sum(bool(_TITLE.match(t)) for t in tokens) < 2:
        return False  # single words and ALL-CAPS brands: the patterns catch real ones
    cue = has_cue([c.before, c.previous], NAME_CUES)
    known = is_given_name(tokens[0]) or any(is_surname(t) for t in tokens[1:])
    return cue or known


def name_parts(text: str) -> list[tuple[int, int]]:
    r"""The parts of a name that crosses lines worth keeping, as offsets in ``text``.

    The tagger joins a name with the first word of the next line ("Luiz
    Carvalho\nPrico 3.45"). The longest part is the name; another part stays
    only if all its words are known given names or surnames (a name wrapped
    onto the next line: "Ana\nLopez").

    >>> name_parts("Luiz Carvalho\nPrico")
    [(0, 13)]
    >>> name_parts("Ana\nLopez")
    [(0, 3), (4, 9)]
    """
    parts, at = [], 0
    for piece in text.split("\n"):
        parts.append((at, at + len(piece)))
        at += len(piece) + 1
    main = max(parts, key=lambda p: len(text[p[0] : p[1]].split()))
    keep = []
    for s, e in parts:
        tokens = text[s:e].split()
        if (s, e) == main or (tokens and all(is_given_name(t) or is_surname(t) for t in tokens)):
            keep.append((s, e))
    return keep


# --- phones ------------------------------------------------------------------

# Day.month(.year), year-month-day, times: never a phone number.
_DATE = re.compile(
    r"(?<!\d)(?:(?:0?[1-9]|[12]\d|3[01])[./-](?:0?[1-9]|1[0-2])(?:[./-]|\s+|$)"
    r"|(?:19|20)\d{2}[./-](?:0?[1-9]|1[0-2])[./-]"
    r"|\d{1,2}:\d{2}"
    r"|(?:0?[1-9]|[12]\d|3[01])\s(?:0?[1-9]|1[0-2])\s(?:19|20)\d{2}(?!\d))"
)
_YEAR = re.compile(r"(?<!\d)(?:19[5-9]\d|20[0-4]\d)(?!\d)")
_MONEY = re.compile(r"[€$£¥]|\b(?:kr|sek|eur|usd|r\$)\b|\d[.,]\d{2}(?!\d)", re.IGNORECASE)


def _digits(text: str) -> str:
    return re.sub(r"\D", "", text)


def looks_like_date(text: str) -> bool:
    """Whether a digit string reads as a date or time ("20.07 2018", "2018-07-20", "13:06").

    >>> looks_like_date("20.07 2018 13 06"), looks_like_date("06 12 34 56 78")
    (True, False)
    """
    stripped = text.strip()
    if stripped.startswith("+"):
        return False
    if _DATE.search(stripped):
        return True
    # "200718 2018": a year among several groups without phone separators style
    groups = re.findall(r"\d+", stripped)
    return len(groups) >= 2 and any(_YEAR.fullmatch(g) for g in groups) and "." in stripped


def plausible_phone(c: Candidate, regions: Sequence[str]) -> bool:
    """Whether a PHONE_NUMBER candidate is a phone number (see the module docstring).

    >>> plausible_phone(Candidate("PHONE_NUMBER", "20.07 2018 13 06", "20.07 2018 13 06"), ["FR"])
    False
    >>> plausible_phone(Candidate("PHONE_NUMBER", "+44 20 7946 0958", "Tel +44 20 7946 0958"), [])
    True
    >>> plausible_phone(Candidate("PHONE_NUMBER", "+44 7700 900123", "Tel +44 7700 900123"), [])
    True
    """
    import phonenumbers as pn

    digits = _digits(c.text)
    if not 7 <= len(digits) <= 15:
        return False
    context = [c.before, c.previous]
    cued = has_cue(context, PHONE_CUES)
    if looks_like_date(c.text) or _MONEY.search(c.text):
        return False
    if not cued and (has_cue([c.line], NUMBER_NOT_PERSONAL) or _MONEY.search(c.line)):
        return False
    if not cued and has_cue([c.before], ID_CUES):
        return False  # "CPF 123.456.789-09": an ID number, reported as one
    if not cued and _glued(c):
        return False  # a piece of a longer code: "0292010+012880", "140618 13:09 17518"
    raw = c.text.strip()
    international = raw.startswith("+")
    for region in [None, *regions] if international else regions:
        try:
            number = pn.parse(raw, region, keep_raw_input=True)
        except pn.NumberParseException:
            continue
        # "+44 ..." or "0044 ..." (the region's international prefix): dialled
        # from abroad, so written with its country code, not as at home.
        dialled = international or (
            number.country_code_source == pn.CountryCodeSource.FROM_NUMBER_WITH_IDD
        )
        if pn.is_valid_number(number) and (dialled or cued or _as_written(raw, number)):
            return True
        # A "+CC" number or one after "Tel" whose length fits its country is a
        # phone even where phonenumbers' ranges say unallocated: plans change,
        # and reserved ranges (UK 07700 900xxx) are what people write on notes.
        if (dialled or cued) and pn.is_possible_number(number):
            return True
    return False


def _glued(c: Candidate) -> bool:
    """Whether the span is a piece of a longer code: a digit or "+" touches it, or a
    ":" between it and a digit ("0292010" of "0292010+012880", "09 17518" of
    "140618 13:09 17518"). Letters and a label's colon do not count: "Ana:0612345678",
    "電話0612345678" are phone numbers (phonenumbers itself refuses a number run
    into Latin letters)."""
    start = len(c.before)
    if c.line[start : start + len(c.text)] != c.text:
        # pii.py always builds candidates whose line holds the span right after
        # ``before``; a candidate that does not has no neighbours to judge.
        return False
    after = c.line[start + len(c.text) :]

    def glue(ch: str, far: str) -> bool:
        return ch.isdigit() or ch == "+" or (ch == ":" and far.isdigit())

    return (bool(c.before) and glue(c.before[-1], c.before[-2:-1])) or (
        bool(after) and glue(after[0], after[1:2])
    )


def _as_written(raw: str, number: object) -> bool:
    """Whether a number written without a country code (no "+" or "00", no phone word)
    is written as its country writes phone numbers: with the trunk prefix where the
    country uses one, or a mobile.

    A code printed on a pack ("21103 00088" on a yoghurt pot) parses as a valid
    German or Indian fixed line, but nobody writes one without its leading 0
    ("0211 0300088"). Mobiles are often written without it ("98765 43210").
    """
    import phonenumbers as pn

    national = pn.format_number(number, pn.PhoneNumberFormat.NATIONAL)
    if _digits(national) == _digits(raw):
        return True
    return pn.number_type(number) in (
        pn.PhoneNumberType.MOBILE,
        pn.PhoneNumberType.FIXED_LINE_OR_MOBILE,
    )


# --- ID numbers ----------------------------------------------------------------

_DNI_LETTERS = "TRWAGMYFPDXBNJZSQVHLCKE"
#: Patterns whose format is specific enough (and checked below when it has a key).
STRONG_ID_PATTERNS = frozenset({"us-ssn", "br-cpf", "es-dni", "es-nie", "mx-curp", "uk-nino", "fr-nir"})  # fmt: skip


def _dni_ok(text: str) -> bool:
    t = re.sub(r"[\s-]", "", text.upper())
    if t[:1] in "XYZ":
        t = str("XYZ".index(t[0])) + t[1:]
    return len(t) == 9 and t[:8].isdigit() and _DNI_LETTERS[int(t[:8]) % 23] == t[8]


def _cpf_ok(text: str) -> bool:
    d = [int(x) for x in _digits(text)]
    if len(d) != 11 or len(set(d)) == 1:
        return False
    for n in (9, 10):
        total = sum(v * (n + 1 - i) for i, v in enumerate(d[:n]))
        if (total * 10 % 11) % 10 != d[n]:
            return False
    return True


def _nir_ok(text: str) -> bool:
    d = _digits(text)
    if len(d) == 15:
        return 97 - int(d[:13]) % 97 == int(d[13:])
    return len(d) == 13 and 1 <= int(d[3:5]) <= 12


def checksum_ok(pattern: str, text: str) -> bool:
    """The check digit of the formats that have one; True for formats without.

    >>> checksum_ok("es-dni", "12345678Z"), checksum_ok("es-dni", "12345678A")
    (True, False)
    >>> checksum_ok("br-cpf", "123.456.789-09")
    True
    """
    if pattern in ("es-dni", "es-nie"):
        return _dni_ok(text)
    if pattern == "br-cpf":
        return _cpf_ok(text)
    if pattern == "fr-nir":
        return _nir_ok(text)
    if pattern == "us-ssn":
        area = _digits(text)[:3]
        return area not in ("000", "666") and not area.startswith("9")
    return True


def plausible_id(c: Candidate, pattern: str) -> bool:
    """Whether an ID_NUMBER candidate from ``pattern`` is an identity number.

    >>> plausible_id(Candidate("ID_NUMBER", "L 2018071", "L 2018071 bäst före"), "passport-like")
    False
    >>> plausible_id(Candidate("ID_NUMBER", "x1234567", "passpont x1234567", "passpont "),
    ...              "passport-like")
    True
    """
    if pattern in STRONG_ID_PATTERNS:
        if not checksum_ok(pattern, c.text):
            return False
        if pattern == "fr-nir" and not has_cue([c.before, c.previous], ID_CUES, fuzzy=True):
            return False  # 13-15 bare digits: a barcode as often as a NIR
        return not (has_cue([c.line], NUMBER_NOT_PERSONAL) and not has_cue([c.before], ID_CUES))
    # Generic shapes: only an ID word makes them personal.
    if not has_cue([c.before, c.previous], ID_CUES, fuzzy=True):
        return False
    return not looks_like_date(c.text)


# --- addresses -------------------------------------------------------------------


def plausible_address(c: Candidate) -> bool:
    """Whether a STREET_ADDRESS candidate is an address, not a label with a number.

    >>> plausible_address(Candidate("STREET_ADDRESS", "12 Ägg st", "12 Ägg st 39,90"))
    False
    >>> plausible_address(Candidate("STREET_ADDRESS", "12 rue de la Paix", "12 rue de la Paix"))
    True
    """
    if _MONEY.search(c.line) or looks_like_date(c.text):
        return False
    name_words = [w for w in words(c.text) if len(w) > 2]
    return not any(is_not_name_word(w) or w in NUMBER_NOT_PERSONAL for w in name_words)


def plausible(c: Candidate, pattern: str | None, regions: Sequence[str]) -> bool:
    """The rule for ``c.entity_type``; other types (e-mail, card, IBAN) pass unchanged."""
    if c.entity_type == "PERSON":
        return plausible_name(c)
    if c.entity_type == "PHONE_NUMBER":
        return plausible_phone(c, regions)
    if c.entity_type == "ID_NUMBER":
        return plausible_id(c, pattern or "")
    if c.entity_type == "STREET_ADDRESS":
        return plausible_address(c)
    return True
