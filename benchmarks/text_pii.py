"""Benchmark: text detection, PII redaction and the has-text gate on real photos.

Renders text items onto real grocery photos (upscaled to phone-photo size):
personal information (names, phones in 12 countries' formats, e-mails, ID
numbers of 7 formats, street addresses) with labels in English, French,
Spanish and Portuguese, and plain survey text (prices, product names, dates,
best-before and lot codes, store names) in those languages, in printed and
handwriting fonts from Debian packages, rotated up to +-20 degrees, on paper
stickers or directly on the photo. A third of the photos get no rendered
text. Ground-truth polygons are kept.

Then, in one run, on the same photos:

* detection recall: rendered items whose centre falls inside a detected line;
* gate recall on photos with PII (the gate must not let PII through);
* PII made unreadable: OCR re-run on the released photo (after verification;
  a withheld photo hides everything), none of the PII strings comes back
  (compared after normalisation, one OCR slip allowed);
* non-PII kept: the plain items still read on the released photo (one OCR
  slip allowed), of all and of those OCR read on the original;
* what verifying the release adds (re-reading the redacted lines);
* photos/s of the per-photo text work with and without the gate.

Fonts: apt-get install fonts-liberation fonts-dejavu-core fonts-comic-neue
fonts-humor-sans fonts-dkg-handwriting fonts-femkeklaver fonts-kristi
(missing ones are skipped).

    .venv/bin/python benchmarks/text_pii.py --quick
    .venv/bin/python benchmarks/text_pii.py --photos 60 --side 2000
"""

from __future__ import annotations

import argparse
import math
import random
import re
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data" / "grocery-store"

PRINTED_FONTS = (
    "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSerif-Bold.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationMono-Regular.ttf",
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/dejavu/DejaVuSerif.ttf",
)
HANDWRITING_FONTS = (
    "/usr/share/fonts/opentype/comic-neue/ComicNeue-Regular.otf",
    "/usr/share/fonts/truetype/humor-sans/Humor-Sans.ttf",
    "/usr/share/fonts/truetype/fifthhorseman/dkg.ttf",
    "/usr/share/fonts/truetype/femkeklaver/femkeklaver.ttf",
    "/usr/share/fonts/truetype/kristi/Kristi.ttf",
)

# Personal items and survey text in English, French, Spanish and Portuguese.
NAMES = (
    "John Smith", "Maria Garcia", "Jean Dupont", "Ana Lopez", "Pedro Álvarez",
    "Sophie Martin", "João Silva", "Fatima Diallo", "Chinedu Okafor", "Priya Sharma",
    "Lucía Fernández", "Thomas Müller", "Amina Kamau", "Carlos Pereira", "Claire Lefèvre",
    "Mariana Souza", "Javier Ortega", "Aminata Traoré", "Luiz Carvalho", "Isabel Navarro",
)  # fmt: skip
NAME_LABELS = ("", "", "Name: ", "Nom: ", "Nombre: ", "Nome: ", "Sr. ", "Mme ")
EMAILS = (
    "john.smith@gmail.com", "maria.garcia@correo.es", "j.dupont@orange.fr",
    "ana_lopez88@hotmail.com", "joao.silva@uol.com.br", "priya.s@yahoo.in",
    "lucia.fdez@telefonica.net", "claire.lefevre@free.fr",
)  # fmt: skip
EMAIL_LABELS = ("", "", "Email: ", "Correo: ", "E-mail : ")
PHONE_REGIONS = ("US", "GB", "FR", "ES", "BR", "MX", "IN", "NG", "KE", "DE", "PT", "AR")
PHONE_LABELS = ("", "Tel ", "Tél. ", "Teléfono ", "Telefone: ", "Cel. ")
IDS = (
    "Passport X1234567",
    "Passeport 18AV12345",
    "DNI 12345678Z",
    "NIE X1234567L",
    "CPF 123.456.789-09",
    "RG 12.345.678-9",
    "ID AB9876543",
    "SSN 078-05-1120",
    "Pasaporte PAA123456",
)
ADDRESSES = (
    "12 rue de la Paix", "221B Baker Street", "Calle Mayor 12", "Rua Augusta, 1500",
    "1600 Pennsylvania Avenue", "45 avenue Victor Hugo", "Avenida Paulista 1000",
    "Rua das Flores 25", "Calle de Alcalá 48", "8 boulevard Voltaire",
)  # fmt: skip
PLAIN = (
    "Price 3.45", "Prix 2,99 €", "Precio 1,25", "R$ 24,90", "$ 4.99", "1 kg 3.20",
    "Organic Milk 1L", "Crème fraîche", "Leche entera", "Arroz tipo 1", "Bananas",
    "12/05/2024", "2024-03-18", "SUPERMARCHÉ", "Mercado Central", "FRESH MARKET", "Promo -20%",
    "Leite integral 1L", "Pão de açúcar", "Oferta 2x1", "Consumir antes 12/2025",
    "Best before 20.07.2025", "Lot L23145", "Validade 03/26", "Prix au kg 4,50 €",
    "Queso fresco 250 g", "Bäst före 2025-07-20",
)  # fmt: skip


@dataclass
class Item:
    text: str  # the whole rendered text
    secret: str  # what must become unreadable ("" for plain items)
    kind: str  # entity name or "PLAIN"
    polygon: np.ndarray  # 4 x 2 ground truth in photo pixels
    font: str


def phone(rng: random.Random) -> str:
    import phonenumbers as pn

    region = rng.choice(PHONE_REGIONS)
    num = pn.example_number_for_type(region, pn.PhoneNumberType.MOBILE)
    style = rng.choice((pn.PhoneNumberFormat.INTERNATIONAL, pn.PhoneNumberFormat.NATIONAL))
    return pn.format_number(num, style)


def pick_item(rng: random.Random, pii: bool) -> tuple[str, str, str]:
    if not pii:
        text = rng.choice(PLAIN)
        return text, "", "PLAIN"
    kind = rng.choice(("PERSON", "PHONE_NUMBER", "EMAIL_ADDRESS", "ID_NUMBER", "STREET_ADDRESS"))
    if kind == "PERSON":
        name = rng.choice(NAMES)
        return (rng.choice(NAME_LABELS) + name), name, kind
    if kind == "PHONE_NUMBER":
        number = phone(rng)
        return rng.choice(PHONE_LABELS) + number, number, kind
    if kind == "EMAIL_ADDRESS":
        email = rng.choice(EMAILS)
        return rng.choice(EMAIL_LABELS) + email, email, kind
    if kind == "ID_NUMBER":
        text = rng.choice(IDS)
        return text, text.split(" ", 1)[1], kind
    address = rng.choice(ADDRESSES)
    return address, address, kind


def render_item(
    photo: Image.Image, text: str, font_path: str, rng: random.Random, taken: list
) -> np.ndarray | None:
    """Draw ``text`` on ``photo`` (in place) and return its ground-truth polygon."""
    W, H = photo.size
    size = int(rng.uniform(0.028, 0.05) * min(W, H))
    font = ImageFont.truetype(font_path, size)
    x0, y0, x1, y1 = font.getbbox(text)
    tw, th = x1 - x0, y1 - y0
    margin = int(0.35 * size)
    sticker = rng.random() < 0.5
    layer = Image.new("RGBA", (tw + 2 * margin, th + 2 * margin), (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    if sticker:
        paper = rng.choice(((250, 250, 245), (255, 240, 120), (255, 255, 255), (230, 240, 255)))
        draw.rectangle((0, 0, layer.width - 1, layer.height - 1), fill=(*paper, 255))
        ink = rng.choice(((10, 10, 10), (20, 30, 140), (160, 10, 10)))
    else:
        ink = rng.choice(((255, 255, 255), (10, 10, 10), (250, 230, 40)))
        # Direct text gets a faint halo so it stays legible on any background,
        # as printed labels and pen on packaging are.
        halo = (0, 0, 0, 160) if sum(ink) > 400 else (255, 255, 255, 160)
        draw.text((margin - x0, margin - y0), text, font=font, fill=halo, stroke_width=2,
                  stroke_fill=halo)  # fmt: skip
    draw.text((margin - x0, margin - y0), text, font=font, fill=(*ink, 255))
    angle = rng.uniform(-20, 20)
    rotated = layer.rotate(angle, expand=True, resample=Image.BICUBIC)
    for _ in range(30):
        px = rng.randint(0, max(0, W - rotated.width))
        py = rng.randint(0, max(0, H - rotated.height))
        box = (px, py, px + rotated.width, py + rotated.height)
        if all(box[2] < t[0] or box[0] > t[2] or box[3] < t[1] or box[1] > t[3] for t in taken):
            break
    else:
        return None
    taken.append(box)
    photo.paste(rotated, (px, py), rotated)
    # Ground truth: the text rectangle's corners, rotated like the layer.
    cx, cy = layer.width / 2, layer.height / 2
    corners = np.array(
        [
            [margin, margin],
            [margin + tw, margin],
            [margin + tw, margin + th],
            [margin, margin + th],
        ],
        dtype=np.float64,
    )
    t = math.radians(angle)
    rel = corners - [cx, cy]
    rot = np.stack(
        [rel[:, 0] * math.cos(t) + rel[:, 1] * math.sin(t),
         -rel[:, 0] * math.sin(t) + rel[:, 1] * math.cos(t)], axis=1
    )  # fmt: skip
    return rot + np.array([px + rotated.width / 2, py + rotated.height / 2])


def make_photos(n: int, side: int, seed: int) -> list[tuple[Image.Image, list[Item]]]:
    rng = random.Random(seed)
    files = sorted((DATA / "val").rglob("*.jpg")) or sorted(DATA.rglob("*.jpg"))
    if not files:
        sys.exit(f"no photos under {DATA}: the benchmark needs the shared grocery-store data")
    printed = [f for f in PRINTED_FONTS if Path(f).is_file()]
    hand = [f for f in HANDWRITING_FONTS if Path(f).is_file()]
    if not printed:
        sys.exit("no printed font found: apt-get install fonts-liberation fonts-dejavu-core")
    out = []
    for i in range(n):
        photo = Image.open(rng.choice(files)).convert("RGB")
        scale = side / max(photo.size)
        photo = photo.resize(
            (round(photo.width * scale), round(photo.height * scale)), Image.BICUBIC
        )
        items: list[Item] = []
        if i % 3 != 2:  # a third of the photos carry no rendered text
            taken: list = []
            for j in range(rng.randint(2, 4)):
                text, secret, kind = pick_item(rng, pii=(j % 2 == 0))
                font = rng.choice(hand) if hand and rng.random() < 0.4 else rng.choice(printed)
                poly = render_item(photo, text, font, rng, taken)
                if poly is not None:
                    items.append(Item(text, secret, kind, poly, font))
        out.append((photo, items))
    return out


def norm(s: str) -> str:
    return re.sub(r"[^0-9a-zà-ÿ]", "", s.lower())


def fuzzy_in(needle: str, text: str, ratio: float = 0.85) -> bool:
    """``needle`` is in ``text`` up to OCR slips ("250 g" read as "258 g").

    Used on both sides: a plain item read with one slip is still readable, and
    a personal item read with one slip still leaked.
    """
    from difflib import SequenceMatcher

    n = norm(needle)
    if not n:
        return False
    for line in text.split("\n"):
        hay = norm(line)
        if n in hay:
            return True
        for i in range(max(1, len(hay) - len(n) + 1)):
            if SequenceMatcher(None, n, hay[i : i + len(n)]).ratio() >= ratio:
                return True
    return False


def readable(secret: str, kind: str, text: str) -> bool:
    """Whether ``secret`` can still be read in OCR ``text`` (one OCR slip allowed)."""
    if len(norm(secret)) >= 6 and fuzzy_in(secret, text):
        return True
    hay = norm(text)
    if kind == "PHONE_NUMBER":
        digits = re.sub(r"\D", "", secret)
        return digits[-6:] in re.sub(r"\D", "", text)  # the last 6 digits identify it
    if kind == "PERSON":  # a surname alone still identifies someone
        return any(len(w) >= 3 and norm(w) in hay for w in secret.split())
    return norm(secret) in hay


def inside(poly: list[list[float]], point: np.ndarray) -> bool:
    import cv2

    contour = np.asarray(poly, dtype=np.float32).reshape(-1, 1, 2)
    return cv2.pointPolygonTest(contour, (float(point[0]), float(point[1])), False) >= 0


def as_read(photo: Image.Image, jpeg: bool, shared: int) -> tuple[Image.Image, Image.Image | None]:
    """The photo as the pipeline holds it: decoded from a JPEG file (q90) when ``jpeg``,
    and with ``shared`` the decode stage's DCT-reduced copy for that size (else None)."""
    if not (jpeg or shared):
        return photo, None
    import io

    from crowdlens.decode import decode_image, within_twice

    buf = io.BytesIO()
    photo.save(buf, "JPEG", quality=90)
    data = buf.getvalue()
    full = decode_image(data).image
    if not shared:
        return full, None
    size = (shared, shared)
    return full, within_twice(decode_image(data, draft_size=size).image, size)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--photos", type=int, default=30, help="photos to generate")
    parser.add_argument("--side", type=int, default=1600, help="long side after upscaling")
    parser.add_argument("--threads", type=int, default=2, help="ONNX Runtime threads")
    parser.add_argument("--seed", type=int, default=6)
    parser.add_argument("--quick", action="store_true", help="6 photos at 1280 px")
    parser.add_argument("--skip-gate", action="store_true", help="do not time the gated pass")
    parser.add_argument(
        "--through-gate",
        action="store_true",
        help="redact what the pipeline's own path finds (gate, then the gate's boxes read) "
        "instead of an ungated full read; a photo the gate stops is released as it is",
    )
    parser.add_argument(
        "--detect-again",
        action="store_true",
        help="with --through-gate: detect again at ocr_max_side (read_gate_boxes = false)",
    )
    parser.add_argument("--gate-side", type=int, help="gate_max_side (default: TextConfig's)")
    parser.add_argument("--fp32", action="store_true", help="the wheel's fp32 detector, not int8")
    parser.add_argument(
        "--jpeg", action="store_true", help="read each photo from a JPEG (q90), as the pipeline"
    )
    parser.add_argument(
        "--shared",
        type=int,
        default=0,
        metavar="SIZE",
        help="--jpeg, and the gate detects on the decode stage's DCT-reduced copy for SIZE "
        "(512 when quality and model run) where it is large enough (measured, not adopted: "
        "docs/benchmarks.md)",
    )
    parser.add_argument(
        "--no-cls",
        action="store_true",
        help="the text stage's read without the angle classifier (measured, not adopted: "
        "docs/benchmarks.md); the leak check still reads with it",
    )
    parser.add_argument("--save", type=Path, help="folder to save generated + redacted photos")
    args = parser.parse_args(argv)
    if args.quick:
        args.photos, args.side = 6, 1280

    from crowdlens.text.config import TextConfig
    from crowdlens.text.gate import get_gate
    from crowdlens.text.ocr import get_ocr
    from crowdlens.text.photo import read_photo
    from crowdlens.text.pii import get_analyzer
    from crowdlens.text.redact import redact

    try:
        from crowdlens.text.verify import release_copy
    except ImportError:  # a tree from before verification (for before/after timings)
        release_copy = None

    cfg = TextConfig(threads=args.threads, read_gate_boxes=not args.detect_again,
                     det_int8=not args.fp32)  # fmt: skip
    if args.gate_side:
        cfg = replace(cfg, gate_max_side=args.gate_side)
    if args.through_gate and args.skip_gate:
        parser.error("--through-gate needs the gated pass: drop --skip-gate")
    photos = make_photos(args.photos, args.side, args.seed)
    ocr = get_ocr(cfg.ocr_max_side, cfg.text_score, cfg.threads, cfg.det_box_threshold)
    gate = get_gate(cfg.gate_max_side, cfg.gate_box_threshold, cfg.threads, cfg.det_int8)
    reader = ocr  # what the text stage reads with; ``ocr`` also checks the released photos
    if args.no_cls:
        from rapidocr.ch_ppocr_cls import TextClsOutput

        from crowdlens.text.ocr import RapidOCREngine

        reader = RapidOCREngine(cfg.ocr_max_side, cfg.text_score, cfg.threads,
                                cfg.det_box_threshold)  # fmt: skip
        reader._engine.cls_and_rotate = lambda crops: (crops, TextClsOutput())
    analyzer = get_analyzer(cfg.languages, cfg.phone_regions)
    # Warm up every model once so that neither timing pays the loading.
    warm = np.asarray(photos[0][0])
    read_photo(warm, cfg, ocr=reader, analyzer=analyzer, gate=gate)

    t_gate = t_full = t_redact = t_verify = 0.0
    n_items = detected = 0
    pii_total = pii_hidden = plain_total = plain_kept = plain_read_before = plain_kept_of_read = 0
    pii_photos = pii_photos_gated_in = 0
    gate_passed = verified = withheld = strengthened = 0
    misses: list[str] = []
    for k, (photo, items) in enumerate(photos):
        photo, small = as_read(photo, args.jpeg, args.shared)
        if small is not None and max(small.size) < min(cfg.gate_max_side, max(photo.size)):
            small = None  # smaller than what the gate would shrink the photo to
        small = None if small is None else np.asarray(small)
        rgb = np.asarray(photo)
        has_pii = any(it.secret for it in items)
        if not args.skip_gate:
            t0 = time.perf_counter()
            gated = read_photo(rgb, cfg, ocr=reader, analyzer=analyzer, gate=gate, small=small)
            if gated.cover:
                redact(photo, gated.cover, cfg.redact_mode)
            t_gate += time.perf_counter() - t0
            gate_passed += not gated.gated_out
            pii_photos_gated_in += has_pii and not gated.gated_out
        t1 = time.perf_counter()
        if args.through_gate:  # what the text stage itself finds and covers
            full = gated
        else:
            full = read_photo(rgb, cfg, ocr=ocr, analyzer=analyzer, gate=None)
        t2 = time.perf_counter()
        released = redact(photo, full.cover, cfg.redact_mode) if full.cover else photo
        t3 = time.perf_counter()
        t_full += t3 - t1
        t_redact += t3 - t2
        if release_copy is not None:  # this tree verifies its releases
            out = release_copy(photo, full, cfg, ocr)
            t_verify += time.perf_counter() - t3 - (t3 - t2)  # what verifying adds
            released = out.image
            verified += out.verified is True
            withheld += out.verified is False
            strengthened += out.strengthened
        pii_photos += has_pii
        before = "\n".join(ln.text for ln in full.lines)
        after = "\n".join(ln.text for ln in ocr.read(np.asarray(released))) if released else ""
        for it in items:
            n_items += 1
            centre = it.polygon.mean(axis=0)
            detected += any(inside(ln.polygon, centre) for ln in full.lines)
            if it.secret:
                pii_total += 1
                leaked = readable(it.secret, it.kind, after)
                pii_hidden += not leaked
                if leaked:
                    misses.append(f"photo {k}: {it.kind} {it.text!r} readable after redaction")
            else:
                plain_total += 1
                kept = fuzzy_in(it.text, after)
                plain_kept += kept
                if fuzzy_in(it.text, before):
                    plain_read_before += 1
                    plain_kept_of_read += kept
                    if not kept:
                        misses.append(f"photo {k}: plain {it.text!r} no longer readable")
        if args.save:
            args.save.mkdir(parents=True, exist_ok=True)
            photo.save(args.save / f"{k:03d}_in.jpg")
            if released:
                released.save(args.save / f"{k:03d}_redacted.jpg")

    n = len(photos)

    def ratio(a: int, b: int) -> str:
        return f"{a / b:.3f} ({a}/{b})" if b else "n/a"

    print(f"photos: {n} (long side {args.side} px), items: {n_items}, ONNX threads: {args.threads}, "
          f"gate {cfg.gate_max_side} px, detector {'int8' if cfg.det_int8 else 'fp32'}")  # fmt: skip
    if args.jpeg or args.shared:
        print(f"read from JPEG q90; gate on the decode stage's copy: "
              f"{f'{args.shared} px draft' if args.shared else 'no'}")  # fmt: skip
    print(f"text detection recall:            {ratio(detected, n_items)}")
    if not args.skip_gate:
        print(f"gate recall on photos with PII:   {ratio(pii_photos_gated_in, pii_photos)}")
        print(f"gate pass rate (all photos):      {ratio(gate_passed, n)}")
    print(f"PII made unreadable:              {ratio(pii_hidden, pii_total)}   goal >= 0.97")
    print(f"non-PII kept readable:            {ratio(plain_kept, plain_total)}   goal >= 0.95")
    print(f"non-PII kept, of those OCR read:  {ratio(plain_kept_of_read, plain_read_before)}")
    if release_copy is not None:
        print(
            f"releases verified: {verified}, withheld: {withheld}, "
            f"lines redacted more strongly: {strengthened}"
        )
        print(f"verification s/photo (all photos): {t_verify / n:.3f}")
    print(f"text s/photo without gate (read + redact): {t_full / n:.3f}")
    if not args.skip_gate:
        print(f"photos/s without / with gate:     {n / t_full:.3f} / {n / t_gate:.3f}")
    for line in misses:
        print("  leak:", line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
