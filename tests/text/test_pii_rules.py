"""The rules that judge PII candidates from their line (pure: no presidio, no OCR)."""

from __future__ import annotations

import pytest

from crowdlens.text.config import DEFAULT_PHONE_REGIONS
from crowdlens.text.lexicon import fold, is_not_name_word
from crowdlens.text.pii_rules import (
    Candidate,
    checksum_ok,
    has_cue,
    looks_like_date,
    plausible,
)

REGIONS = ("US", "GB", "FR", "ES", "PT", "BR", "MX", "SE", "DE")


def person(text, line=None, before="", previous="", source="spacy"):
    return Candidate("PERSON", text, line or text, before, previous, source)


@pytest.mark.parametrize(
    "cand",
    [
        # Produce, packaging and shelf vocabulary of the data's languages.
        person("Päron Kaiser"),
        person("Vattenmelon Hel"),
        person("Mini Vattenmeloner"),
        person("Leche Entera"),
        person("Pão Francês", source="pattern:given-name"),
        # Varieties and brands that read like names.
        person("Granny Smith"),
        person("Ingrid Marie"),
        # Months and store chains.
        person("Julio Mercadona"),
        person("Coop Konsum"),
        # A lone title-case phrase with no support: a shelf label, not a person.
        person("Kaiser Alexandre"),
        person("Innocent"),
        person("Ekologia"),
    ],
)
def test_labels_products_and_lone_phrases_are_not_names(cand):
    assert not plausible(cand, None, REGIONS)


@pytest.mark.parametrize(
    "cand",
    [
        person("Lucía Ortega"),  # known given name
        person("Xochitl Okafor"),  # known surname
        person("Xochitl Quispe", "Nombre: Xochitl Quispe", before="Nombre: "),  # cue on the line
        person("Xochitl Quispe", previous="Contacto"),  # cue on the line above
        person("ANA LOPEZ", source="pattern:name-label"),  # patterns bring their own evidence
    ],
)
def test_supported_names_are_kept(cand):
    assert plausible(cand, None, REGIONS)


def phone(text, line=None, before="", previous=""):
    return Candidate("PHONE_NUMBER", text, line or text, before, previous, "phone")


@pytest.mark.parametrize(
    "cand",
    [
        phone("20.07 2018 13 06"),  # best-before date and time
        phone("2018-07-20 1306"),
        phone("13:06 2007 2018"),
        phone("0612 3456", "Jfr-pris 0612 3456"),  # too short, and a comparison price
        phone("39,90 0612345678"),  # money in the span
        phone("0612345678", "Bäst före 0612345678"),  # best-before line, no phone word
        phone("0612345678", "Lot 0612345678"),
        phone("0612345678", "Vikt 0,512 kg 0612345678"),
        phone("1234 5678 9012"),  # not valid in any configured region
        phone("123.456.789-09", "CPF 123.456.789-09", before="CPF "),  # an ID, not a phone
    ],
)
def test_dates_prices_weights_and_lots_are_not_phones(cand):
    assert not plausible(cand, None, REGIONS)


@pytest.mark.parametrize(
    "cand",
    [
        phone("+44 20 7946 0958"),
        phone("06 12 34 56 78"),
        phone("(415) 555-0132"),
        phone("+55 11 91234-5678"),
        phone("912 345 678", "Telefone: 912 345 678 Lot 7", before="Telefone: "),  # cue wins
        # A reserved UK range (the sample note's): not "valid" in phonenumbers' metadata,
        # but "+CC" and a length that fits the country make it a phone.
        phone("+44 7700 900123", "Tel +44 7700 900123", before="Tel "),
        phone("+44 7700 900123"),
    ],
)
def test_real_phones_are_kept(cand):
    assert plausible(cand, None, REGIONS)


@pytest.mark.parametrize(
    ("text", "line", "before"),
    [
        # Codes printed on packs (grocery photos), each valid as a fixed line in
        # one of the default regions: a German one without the leading 0 such
        # numbers are always written with, and pieces of longer codes.
        # (valid as written in Cote d'Ivoire, which has no trunk prefix: there,
        # and so with the default regions, it is still taken for a phone)
        ("21103 00088", None, ""),
        ("0292010", "0292010+012880", ""),
        ("09 17518", "140618 13:09 17518", "140618 13:"),
    ],
)
def test_codes_on_packs_are_not_phones(text, line, before):
    cand = phone(text, line, before)
    assert not plausible(cand, None, ("DE", "IN", "FR", "GB", "US", "ES"))


@pytest.mark.parametrize(
    ("text", "line", "before"),
    [
        ("0211 0300088", None, ""),  # a German fixed line as written in Germany
        ("98765 43210", None, ""),  # an Indian mobile, often written without its 0
        ("21103 00088", "Tel 21103 00088", "Tel "),  # a phone word wins
        ("06 12 34 56 78", "Marie (06 12 34 56 78)", "Marie ("),
        ("0612345678", "Tel:0612345678", "Tel:"),
        # A label glued on by a colon, a phone word in another script: still phones.
        ("0612345678", "Ana:0612345678", "Ana:"),
        ("06 12 34 56 78", "Maman:06 12 34 56 78", "Maman:"),
        ("020 7946 0958", "London:020 7946 0958", "London:"),
        ("030 12345678", "Telefon:030 12345678", "Telefon:"),
        ("0612345678", "電話0612345678", "電話"),
        ("0612345678", "0612345678:", ""),
        ("+44 7700 900123", "WA:+44 7700 900123", "WA:"),
        # Written with the international prefix "00" instead of "+".
        ("0044 20 7946 0958", None, ""),
        ("0033 1 23 45 67 89", None, ""),
        ("0034 912 345 678", None, ""),
        ("00 49 89 1234567", None, ""),
    ],
)
def test_real_phones_are_kept_in_every_default_region_setting(text, line, before):
    assert plausible(phone(text, line, before), None, DEFAULT_PHONE_REGIONS)


def ident(text, pattern, line=None, before="", previous=""):
    return Candidate("ID_NUMBER", text, line or text, before, previous, f"pattern:{pattern}")


def test_checksums():
    assert checksum_ok("es-dni", "12345678Z") and not checksum_ok("es-dni", "12345678A")
    assert checksum_ok("es-nie", "X1234567L") and not checksum_ok("es-nie", "X1234567A")
    assert checksum_ok("br-cpf", "123.456.789-09") and not checksum_ok("br-cpf", "123.456.789-00")
    assert checksum_ok("fr-nir", "1 85 05 78 006 084 91")
    assert not checksum_ok("fr-nir", "1 85 05 78 006 084 36")
    assert not checksum_ok("us-ssn", "666-12-3456")


@pytest.mark.parametrize(
    ("cand", "pattern", "kept"),
    [
        (ident("X1234567", "passport-like", "Passport X1234567", "Passport "), "passport-like", 1),
        (ident("x1234567", "passport-like", "passpont x1234567", "passpont "), "passport-like", 1),
        (ident("L2018071", "passport-like", "L2018071"), "passport-like", 0),  # a lot code
        (ident("7310865", "long-number", "EAN 7310865004703"), "long-number", 0),
        (ident("123456789012", "long-number", previous="CNI"), "long-number", 1),
        (ident("12345678Z", "es-dni", "12345678Z"), "es-dni", 1),
        (ident("12345678A", "es-dni", "DNI 12345678A", "DNI "), "es-dni", 0),  # bad letter
        (ident("20 07 2018", "digit-groups", "ID 20 07 2018", "ID "), "digit-groups", 0),
    ],
)
def test_id_numbers_need_a_checksum_or_an_id_word(cand, pattern, kept):
    assert plausible(cand, pattern, REGIONS) is bool(kept)


@pytest.mark.parametrize(
    ("text", "line", "kept"),
    [
        ("221B Baker Street", "221B Baker Street", True),
        ("Calle Mayor 12", "Calle Mayor 12", True),
        ("12 Ägg st", "12 Ägg st 39,90", False),
        ("500 Mjölk Way", "500 Mjölk Way", False),
    ],
)
def test_addresses_are_not_labels(text, line, kept):
    assert plausible(Candidate("STREET_ADDRESS", text, line), None, REGIONS) is kept


def test_helpers():
    assert fold("Päron CRÈME") == "paron creme"
    assert is_not_name_word("Vattenmelon") and not is_not_name_word("Lopez")
    assert has_cue(["Passeport 18AV12345"], frozenset({"passeport"}))
    assert not has_cue(["Pass"], frozenset({"passport"}), fuzzy=True)
    assert looks_like_date("20.07 2018") and not looks_like_date("+33 6 12 34 56 78")
