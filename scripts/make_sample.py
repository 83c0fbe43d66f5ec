"""Build the bundled sample (examples/sample/) from the grocery-store data.

    python scripts/make_sample.py [--data ../shared/data/grocery-store]

Deterministic: the same data gives the same files. The photos come from the
dataset's *val* split, so a model trained on its train split is evaluated
honestly on them. Two deliberately bad files show how errors are reported, and
eight "problem" photos show what the pipeline flags: blurred, dark, bright,
tiny, a re-submitted near copy, an exact copy, a photo with a handwritten note
carrying a name, phone number and e-mail (and GPS metadata), and a photo filed
under the wrong item.
"""

from __future__ import annotations

import argparse
import csv
import shutil
from pathlib import Path

from PIL import Image

CLASSES = [
    "Arla-Standard-Milk", "Avocado", "Banana", "Carrots", "Cucumber", "Granny-Smith",
    "Kiwi", "Lemon", "Oatly-Oat-Milk", "Orange", "Red-Bell-Pepper", "Yellow-Onion",
]  # fmt: skip
PER_CLASS = 5
COUNTRIES = ["KE", "MX", "PH", "BR", "FR"]


FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
HAND = "/usr/share/fonts/opentype/comic-neue/ComicNeue-Regular.otf"


def note_photo(src: Path) -> Image.Image:
    """A phone-sized photo with a paper note: personal data and a price."""
    from PIL import ImageDraw, ImageFont

    photo = Image.open(src).convert("RGB").resize((1392, 1392), Image.Resampling.BICUBIC)
    lines = ["Maria Garcia", "Tel +44 7700 900123", "maria.garcia@correo.es"]
    font = ImageFont.truetype(HAND if Path(HAND).exists() else FONT, 56)
    note = Image.new("RGBA", (760, 300), (255, 248, 190, 255))
    draw = ImageDraw.Draw(note)
    for i, line in enumerate(lines):
        draw.text((30, 25 + i * 88), line, font=font, fill=(20, 30, 120, 255))
    note = note.rotate(8, expand=True, resample=Image.Resampling.BICUBIC)
    photo.paste(note, (80, 120), note)
    tag = Image.new("RGB", (420, 130), (255, 255, 255))
    ImageDraw.Draw(tag).text(
        (25, 22), "Price 3.45", font=ImageFont.truetype(FONT, 72), fill=(0, 0, 0)
    )
    photo.paste(tag, (880, 1150))
    return photo


def with_gps(photo: Image.Image, path: Path) -> None:
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # camera make
    exif[0x8825] = {1: "N", 2: (52.0, 31.0, 12.0), 3: "E", 4: (13.0, 24.0, 36.0)}
    photo.save(path, "JPEG", quality=90, exif=exif.tobytes())


def make_problem_photos(photos: Path, data: Path) -> list[dict]:
    """Photos with the problems the pipeline must flag, each next to its item.

    Blurred, dark, bright and tiny photos are made from *train* photos, so that
    they are not also near copies of a sample photo; the re-submitted and the
    exact copy are copies of sample photos on purpose.
    """
    import numpy as np

    from crowdlens.quality import synthetic

    rng = np.random.default_rng(7)
    made = []

    def derive(cls: str, name: str, fn, src: Path | None = None) -> None:
        if src is None:
            (src_dir,) = [d for d in (data / "train").rglob(cls) if d.is_dir()]
            src = sorted(src_dir.glob("*.jpg"))[0]
        out = photos / cls / f"{src.stem}_{name}.jpg"
        fn(Image.open(src).convert("RGB"), rng).save(out, "JPEG", quality=90)
        made.append((out, cls))

    derive("Kiwi", "blurred", synthetic.gaussian_blur)
    derive("Lemon", "dark", synthetic.underexpose)
    derive("Orange", "overexposed", synthetic.overexpose)
    derive("Carrots", "thumbnail", synthetic.downscale)
    derive(
        "Cucumber", "resubmitted", synthetic.near_copy, sorted((photos / "Cucumber").glob("*"))[2]
    )
    src = sorted((photos / "Avocado").glob("*.jpg"))[0]
    copy = photos / "Avocado" / f"{src.stem}_copy.jpg"
    shutil.copyfile(src, copy)
    made.append((copy, "Avocado"))
    bananas = sorted(next(d for d in (data / "train").rglob("Banana") if d.is_dir()).glob("*.jpg"))
    note = photos / "Banana" / "Banana_with_note.jpg"
    with_gps(note_photo(bananas[1]), note)
    made.append((note, "Banana"))
    # A banana filed as a Granny Smith apple: the classifier should disagree.
    wrong = photos / "Granny-Smith" / "Granny-Smith_filed_wrong.jpg"
    shutil.copyfile(bananas[2], wrong)
    made.append((wrong, "Granny-Smith"))
    return [
        {"path": p.relative_to(photos.parent).as_posix(), "label": cls, "parent_label": cls,
         "country": "MX", "contributor": "c42"}
        for p, cls in made
    ]  # fmt: skip


def main() -> None:
    repo = Path(__file__).resolve().parents[1]
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--data", default=str(repo.parent / "shared/data/grocery-store"))
    ap.add_argument("--out", default=str(repo / "examples/sample"))
    args = ap.parse_args()
    data, out = Path(args.data), Path(args.out)
    photos = out / "photos"
    if photos.exists():
        shutil.rmtree(photos)
    rows = []
    for ci, cls in enumerate(CLASSES):
        (src_dir,) = [d for d in (data / "val").rglob(cls) if d.is_dir()]
        coarse = (
            src_dir.parent.name
            if src_dir.parent.name not in ("Fruit", "Vegetables", "Packages")
            else cls
        )
        for i, src in enumerate(sorted(src_dir.glob("*.jpg"))[:PER_CLASS]):
            dst = photos / cls / src.name
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, dst)
            rows.append(
                {
                    "path": dst.relative_to(out).as_posix(),
                    "label": cls,
                    "parent_label": coarse,
                    "country": COUNTRIES[(ci + i) % len(COUNTRIES)],
                    "contributor": f"c{(ci * 7 + i * 3) % 9:02d}",
                }
            )
    photos_made = len(rows)
    # Two bad uploads: a photo cut off mid-transfer and a web page saved as .jpg.
    good = photos / "Banana" / sorted(p.name for p in (photos / "Banana").glob("*.jpg"))[0]
    data_bytes = good.read_bytes()
    (photos / "Banana" / "upload_cut_off.jpg").write_bytes(data_bytes[: len(data_bytes) // 3])
    (photos / "Lemon" / "saved_web_page.jpg").write_text(
        "<!DOCTYPE html><html><head><title>Error 404</title></head><body>Not found</body></html>\n"
    )
    for name, label in (
        ("Banana/upload_cut_off.jpg", "Banana"),
        ("Lemon/saved_web_page.jpg", "Lemon"),
    ):
        rows.append({"path": f"photos/{name}", "label": label, "parent_label": label,
                     "country": "KE", "contributor": "c99"})  # fmt: skip
    rows.extend(make_problem_photos(photos, data))
    with open(out / "manifest.csv", "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    shutil.copyfile(data / "LICENSE", out / "LICENSE")
    print(f"wrote {len(rows)} files to {out} ({photos_made} originals)")


if __name__ == "__main__":
    main()
