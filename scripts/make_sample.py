"""Build the bundled sample (examples/sample/) from the grocery-store data.

    python scripts/make_sample.py [--data ../shared/data/grocery-store]

Deterministic: the same data gives the same files. The photos come from the
dataset's *val* split, so a model trained on its train split is evaluated
honestly on them. Two deliberately bad files show how errors are reported.
"""

from __future__ import annotations

import argparse
import csv
import shutil
from pathlib import Path

CLASSES = [
    "Arla-Standard-Milk", "Avocado", "Banana", "Carrots", "Cucumber", "Granny-Smith",
    "Kiwi", "Lemon", "Oatly-Oat-Milk", "Orange", "Red-Bell-Pepper", "Yellow-Onion",
]  # fmt: skip
PER_CLASS = 5
COUNTRIES = ["KE", "MX", "PH", "BR", "FR"]


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
    with open(out / "manifest.csv", "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    shutil.copyfile(data / "LICENSE", out / "LICENSE")
    print(f"wrote {len(rows)} photos to {out}")


if __name__ == "__main__":
    main()
