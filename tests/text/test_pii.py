"""PII detection on text (real presidio + offline spaCy models, no OCR)."""

from __future__ import annotations

import pytest

from crowdlens.text.ocr import TextLine, Word
from crowdlens.text.pii import Entity, document, find_pii, map_spans

FOUND = [
    ("Call John Smith tomorrow", "PERSON", "John Smith"),
    ("Nom: Dubois", "PERSON", "Dubois"),
    ("Tel +33 6 12 34 56 78", "PHONE_NUMBER", "+33 6 12 34 56 78"),
    ("(415) 555-0132", "PHONE_NUMBER", "555-0132"),
    ("+55 11 91234-5678", "PHONE_NUMBER", "91234-5678"),
    ("write to ana.lopez@correo.es", "EMAIL_ADDRESS", "ana.lopez@correo.es"),
    ("OCR spaced jean.dupont @ example.fr", "EMAIL_ADDRESS", "example.fr"),
    # The "@" misread or lost by OCR, at a big mail service
    ("J·DUPONTEORANGE.FR", "EMAIL_ADDRESS", "J·DUPONTEORANGE.FR"),
    ("mail john.smith©gmail.com", "EMAIL_ADDRESS", "john.smith©gmail.com"),
    ("Passport: X1234567", "ID_NUMBER", "X1234567"),
    ("passpont x1234567", "ID_NUMBER", "x1234567"),  # handwriting, as OCR read it
    ("CPF 123.456.789-09", "ID_NUMBER", "123.456.789-09"),
    ("DNI 12345678Z", "ID_NUMBER", "12345678Z"),
    ("221B Baker Street", "STREET_ADDRESS", "Baker Street"),
    ("12 rue de la Paix", "STREET_ADDRESS", "rue de la Paix"),
    ("Calle Mayor 12", "STREET_ADDRESS", "Calle Mayor 12"),
    ("Rua Augusta, 1500", "STREET_ADDRESS", "Rua Augusta"),
    # Spanish and Portuguese (patterns, lexicons and cue words: no spaCy model fits)
    ("Nombre: Xochitl Quispe", "PERSON", "Xochitl Quispe"),
    ("Nome: Mariana Souza", "PERSON", "Mariana Souza"),
    ("THOMAS MLLER", "PERSON", "THOMAS MLLER"),  # handwriting in capitals, as OCR read it
    ("Teléfono 912 345 678", "PHONE_NUMBER", "912 345 678"),
    ("Telefone: +351 912 345 678", "PHONE_NUMBER", "912 345 678"),
    ("NIE X1234567L", "ID_NUMBER", "X1234567L"),
    ("Pasaporte PAA123456", "ID_NUMBER", "PAA123456"),
    ("Passeport 18AV12345", "ID_NUMBER", "18AV12345"),
    ("RG 12.345.678-9", "ID_NUMBER", "12.345.678-9"),
    ("Calle de Alcalá 48", "STREET_ADDRESS", "Alcalá 48"),
    ("Rua Augusta", "STREET_ADDRESS", "Rua Augusta"),  # its number read as another line
]

PLAIN = [
    "Price 3.45",
    "Prix: 3,45 € Crème fraîche",
    "Organic Milk 1L",
    "12/05/2024",
    "SUPERMERCADO EXTRA",
    "3 for 2 5.00",
    "Leche entera 1,29",
    "Arroz 5 kg R$ 24,90",
    # Shelf labels, brands, best-before and lot codes that were read as PII
    "Päron Kaiser",
    "Vattenmelon Hel",
    "Citrus",
    "Innocent",
    "Apple Granny Smith",
    "Bäst före 20.07 2018 13 06",
    "Lot L20180713",
    "EAN 7310865004703",
    "Jfr pris 39,90 kr/kg",
    "Leite integral 1L",
    "MARIA MJÖLK",  # a given name in capitals before a product word
    # Web sites, not e-mail addresses, at a mail service's domain
    "www.orange.fr",
    "GLUTENFREE.FR",
    "juice-orange.fr",
    "Shop at orange.fr",
]


@pytest.mark.parametrize(("text", "entity", "must_cover"), FOUND)
def test_finds_personal_information(analyzer, text, entity, must_cover):
    found = find_pii(text, analyzer, languages=("en", "fr"))
    spans = [text[e.start : e.end] for e in found if e.entity_type == entity]
    assert any(must_cover in s or (s in must_cover and len(s) >= 4) for s in spans), (text, found)


@pytest.mark.parametrize("text", PLAIN)
def test_leaves_prices_and_products(analyzer, text):
    assert find_pii(text, analyzer, languages=("en", "fr")) == []


def test_entity_list_is_respected(analyzer):
    text = "John Smith ana.lopez@correo.es"
    found = find_pii(text, analyzer, languages=("en",), entities=["EMAIL_ADDRESS"])
    assert {e.entity_type for e in found} == {"EMAIL_ADDRESS"}


def test_score_threshold_drops_weak_matches(analyzer):
    text = "Tel 01 42 68 53 00"  # a national number: phonenumbers scores it 0.4
    assert find_pii(text, analyzer, languages=("en",), score_threshold=0.35)
    assert not find_pii(text, analyzer, languages=("en",), score_threshold=0.95)


def _line(text: str) -> TextLine:
    words, at = [], 0
    for i, piece in enumerate(text.split(" ")):
        box = [[10.0 * i, 0.0], [10.0 * i + 8, 0.0], [10.0 * i + 8, 5.0], [10.0 * i, 5.0]]
        words.append(Word(piece, 0.9, box, at, at + len(piece)))
        at += len(piece) + 1
    return TextLine([[0, 0], [99, 0], [99, 5], [0, 5]], text, 0.9, tuple(words))


def test_spans_map_to_whole_words_across_lines():
    lines = [_line("Milk 1.20 Ana"), _line("Lopez Tel:0612")]
    text, starts = document(lines)
    assert text == "Milk 1.20 Ana\nLopez Tel:0612"
    # "Ana\nLopez" spans two lines; a span touching part of "Tel:0612" takes the word.
    person = Entity("PERSON", text.index("Ana"), text.index("Lopez") + 5, 0.9)
    phone = Entity("PHONE_NUMBER", text.index("0612"), len(text), 0.5)
    hits = map_spans(lines, starts, [person, phone])
    assert [(h.entity_type, h.line, h.words) for h in hits] == [
        ("PERSON", 0, (2,)),
        ("PERSON", 1, (0,)),
        ("PHONE_NUMBER", 1, (1,)),
    ]


def test_a_name_does_not_swallow_the_next_line(analyzer):
    text = "Luiz Carvalho\nPrico 3.45"  # "Price 3.45" in handwriting, as OCR read it
    spans = [text[e.start : e.end] for e in find_pii(text, analyzer, languages=("en", "fr"))]
    assert "Luiz Carvalho" in spans and not any("Prico" in s for s in spans)


def test_fullwidth_punctuation_is_read_as_ascii():
    lines = [_line("Rua Augusta\uff0c 1500")]
    assert document(lines)[0] == "Rua Augusta, 1500"


FRENCH_AND_MIXED = (
    "Nom: Aminata Traoré\nTél. 06 12 34 56 78\nPrix au kg 4,50 €",
    "Mme Sophie Lefèvre\n12 rue des Lilas, 75011 Paris\nLait demi-écrémé 1 L",
    "Carlos Pereira\nMercado Central\nOferta 2x1\nLeche entera\nPassport X1234567",
    "Telefone: 01512 3456789\nMme Aminata Traoré\nArroz tipo 1\nRua Augusta, 1500",
    "Jean-Pierre Dubois a acheté du fromage\nE-mail : jp.dubois@poste.fr",
    "Camembert au lait cru\nA consommer jusqu'au 12/03\nLot 4471B",
)


def test_the_french_pipeline_without_its_lemmatizer_finds_what_the_full_one_does(analyzer):
    """The lemmatizer of every language but the first is left out (124 MB per text worker
    for French): only the first language's lemmas are read (the patterns' context words)."""
    import spacy

    from crowdlens.text.config import TextConfig
    from crowdlens.text.pii import SPACY_MODELS, build_analyzer

    cfg = TextConfig()
    assert "lemmatizer" not in analyzer.nlp_engine.nlp["fr"].pipe_names
    assert "ner" in analyzer.nlp_engine.nlp["fr"].pipe_names
    assert "lemmatizer" in analyzer.nlp_engine.nlp["en"].pipe_names  # feeds the context words
    full = build_analyzer(cfg.languages, cfg.phone_regions)
    full.nlp_engine.nlp["fr"] = spacy.load(SPACY_MODELS["fr"])
    assert "lemmatizer" in full.nlp_engine.nlp["fr"].pipe_names
    kw = {"languages": cfg.languages, "phone_regions": cfg.phone_regions}
    for text in FRENCH_AND_MIXED:
        found = find_pii(text, analyzer, **kw)
        assert found == find_pii(text, full, **kw), text
    assert any(e.entity_type == "PERSON" for e in find_pii(FRENCH_AND_MIXED[1], analyzer, **kw))
    # French first: its lemmas feed the patterns' context words, so it keeps them
    french_first = build_analyzer(("fr", "en"), cfg.phone_regions).nlp_engine.nlp
    assert "lemmatizer" in french_first["fr"].pipe_names
    assert "lemmatizer" not in french_first["en"].pipe_names
