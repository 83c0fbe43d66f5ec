"""The regular expressions of our own recognisers (data for :mod:`crowdlens.text.pii`).

Each match is judged again by :mod:`crowdlens.text.pii_rules`; a pattern here
only proposes a candidate.
"""

from __future__ import annotations

EMAIL_PATTERN = (
    r"\b[A-Za-z0-9][A-Za-z0-9._%+-]*\s?@\s?[A-Za-z0-9-]+(?:\s?\.\s?[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b"
)

#: The big consumer mail services, with the top-level domains they give out.
WEBMAIL_DOMAINS = (
    r"g(?:oogle)?mail\.com", r"yahoo\.(?:com|co\.uk|co\.in|in|fr|es|de|it|com\.br|com\.mx|com\.ar)",
    r"ymail\.com", r"hotmail\.(?:com|co\.uk|fr|es|de|it|com\.br)", r"outlook\.(?:com|fr|es|de|it)",
    r"live\.(?:com|co\.uk|fr)", r"aol\.com", r"icloud\.com", r"proton(?:mail)?\.(?:com|me)",
    r"gmx\.(?:de|net|com|fr|es)", r"web\.de", r"t-online\.de", r"orange\.fr", r"wanadoo\.fr",
    r"free\.fr", r"laposte\.net", r"sfr\.fr", r"libero\.it", r"virgilio\.it", r"uol\.com\.br",
    r"bol\.com\.br", r"terra\.com\.br", r"yandex\.(?:ru|com)", r"mail\.ru", r"rediffmail\.com",
    r"naver\.com", r"qq\.com", r"163\.com", r"telefonica\.net", r"movistar\.es",
)  # fmt: skip

#: An address at one of those services whose "@" OCR lost or misread
#: ("j.dupont@orange.fr" read "J·DUPONTEORANGE.FR"): a local part with the
#: shape of one (a dot, middle dot, underscore or digit after its first
#: character, so "GLUTENFREE.FR" and "juice-orange.fr" are not one) glued to
#: the domain, or joined to it by a symbol OCR reads for "@" ("©", "®", "&"),
#: not after "www." and not after a dot (a subdomain).
GARBLED_EMAIL_PATTERN = (
    r"(?<![\w.·@])(?!www[.·])[A-Za-z0-9][A-Za-z\-]*[._·0-9][A-Za-z0-9._·\-]*?"
    r"(?<![.·])[©®&]?(?:" + "|".join(WEBMAIL_DOMAINS) + r")\b"
)

# (name, regex, score). Every match is judged again by
# crowdlens.text.pii_rules.plausible_id: checksums, and an ID word nearby for
# the generic shapes.
ID_PATTERNS = (
    # Any case: OCR of handwriting often reads "X1234567" as "x1234567".
    ("passport-like", r"\b(?i:[A-Z]{1,3})[ -]?\d{6,9}\b", 0.45),
    ("fr-passport", r"\b\d{2}(?i:[A-Z]{2})\d{5}\b", 0.45),
    ("br-rg", r"\b\d{1,2}\.?\d{3}\.?\d{3}-?[\dXx]\b", 0.4),
    ("us-ssn", r"\b\d{3}-\d{2}-\d{4}\b", 0.6),
    ("br-cpf", r"\b\d{3}\.\d{3}\.\d{3}-\d{2}\b", 0.7),
    ("es-dni", r"\b\d{8}-?[A-HJ-NP-TV-Z]\b", 0.6),
    ("es-nie", r"\b[XYZ]-?\d{7}-?[A-Z]\b", 0.6),
    ("mx-curp", r"\b[A-Z]{4}\d{6}[HM][A-Z]{5}[A-Z0-9]\d\b", 0.8),
    ("uk-nino", r"\b[A-CEGHJ-PR-TW-Z]{2} ?\d{2} ?\d{2} ?\d{2} ?[A-D]\b", 0.6),
    ("fr-nir", r"\b[12] ?\d{2} ?\d{2} ?\d{2} ?\d{3} ?\d{3}(?: ?\d{2})?\b", 0.6),
    # Generic shapes: kept only next to an ID word (crowdlens.text.pii_rules).
    ("digit-groups", r"\b\d{2,6}(?:[ .-]\d{2,6}){1,4}\b", 0.4),
    ("long-number", r"\b\d{8,14}\b", 0.4),
)
ID_CONTEXT = [
    "id", "identity", "identification", "passport", "passeport", "pasaporte",
    "passaporte", "dni", "nie", "cni", "nif", "nin", "cpf", "rg", "ssn", "curp",
    "cedula", "cédula", "carte", "card", "no", "number", "numéro", "número", "licence",
    "license", "permis", "identidad", "identité", "identidade", "social", "security",
]  # fmt: skip

_STREET_BEFORE = (
    r"rue|avenue|av\.?|boulevard|bd|chemin|place|all[ée]e|impasse|quai|route|"
    r"calle|c/|avenida|avda\.?|paseo|plaza|carrera|camino|"
    r"rua|travessa|estrada|largo|pra[çc]a|via|viale|piazza|corso"
)
_STREET_AFTER = (
    r"street|st\.?|road|rd\.?|avenue|ave\.?|lane|ln\.?|drive|dr\.?|boulevard|blvd\.?|way|"
    r"close|court|ct\.?|place|pl\.?|terrace|crescent|highway|hwy|strasse|straße|str\.?|weg|gasse"
)
_NAME_WORD = r"[A-Za-zÀ-ÖØ-öø-ÿ'’.-]+"
ADDRESS_PATTERNS = (
    # 12 rue de la Paix / 1500 Avenida Paulista
    (
        "number-first",
        rf"\b\d{{1,5}}[a-zA-Z]?,?\s+(?:{_STREET_BEFORE})\s+(?:{_NAME_WORD}\s?){{1,5}}",
        0.6,
    ),
    # 221B Baker Street
    (
        "number-name-type",
        rf"\b\d{{1,5}}[a-zA-Z]?\s+(?:{_NAME_WORD}\s+){{1,4}}(?:{_STREET_AFTER})\b",
        0.6,
    ),
    # Calle Mayor 12 / Rua Augusta, 1500 / Hauptstraße 5
    (
        "type-name-number",
        rf"\b(?:{_STREET_BEFORE})\s+(?:{_NAME_WORD}\s+){{0,4}}{_NAME_WORD},?\s+(?:n[º°o]\.?\s*)?\d{{1,5}}\b",
        0.6,
    ),
    # Rua Augusta / Calle Mayor / Avenida Paulista: unambiguous street words
    # before a capitalised name, even when the number is on the next line.
    (
        "type-name",
        r"\b(?:rua|calle|rue|avenida|avenue|boulevard|travessa|paseo|rambla|alameda)"
        r"\s+(?:(?:de|da|do|das|dos|del|de la|la|los|las|des|du)\s+)?[A-ZÀ-Ö][a-zß-öø-ÿ'’-]{2,}",
        0.5,
    ),
    ("name-street-number", rf"\b{_NAME_WORD}(?:strasse|straße|weg|gasse)\s+\d{{1,5}}\b", 0.6),
    # Postcodes with a city after them (75001 Paris, SW1A 1AA London) make an address line.
    ("postcode-city", r"\b\d{5}\s+[A-ZÀ-Ö][A-Za-zÀ-ÖØ-öø-ÿ'’-]{2,}\b", 0.4),
    ("uk-postcode", r"\b[A-Z]{1,2}\d[A-Z\d]?\s*\d[A-Z]{2}\b", 0.5),
)
ADDRESS_CONTEXT = ["address", "adresse", "dirección", "direccion", "endereço", "morada", "domicile"]

NAME_LABEL_PATTERN = (
    r"(?i:\b(?:name|nom|pr[ée]nom|nombre|nome|client|customer|cliente|sr\.?|sra\.?|mr\.?|mrs\.?|ms\.?|"
    r"mme\.?|m\.)\s*[:.]?\s*)[A-ZÀ-Ö][A-Za-zÀ-ÖØ-öø-ÿ'’-]+(?:\s+[A-ZÀ-Ö][A-Za-zÀ-ÖØ-öø-ÿ'’-]+){0,3}"
)
INTERNATIONAL_PHONE = r"(?<![\w+])\+\s?\d{1,3}[\s.-]?\(?\d{1,4}\)?(?:[\s.-]?\d{2,4}){2,5}\b"
