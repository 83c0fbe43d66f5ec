"""``crowdlens release``: write the public dataset of a results folder."""

from __future__ import annotations

import argparse

DESCRIPTION = """\
Write the public dataset of a moderated run into RELEASE_DIR:

  images/<image_id>.jpg   the released copy (personal information blurred,
                          re-encoded without EXIF/XMP/ICC/GPS) of every
                          ACCEPTED photo, and of no other photo
  manifest.csv/.parquet   image_id, label (the reviewer's correction, else the
                          claimed label), file, and the --public-column columns

Reviewer decisions override the pipeline's when 'crowdlens review export DIR'
has written DIR/final.parquet. No OCR text, no path of an original, no hash
and no EXIF is published. The release is refused, naming the photos, when an
accepted photo failed release verification or has no released copy. The
folder appears whole or not at all; an existing one is kept unless --overwrite.
"""

EPILOG = """\
examples:
  crowdlens release out/sample --to public/sample
  crowdlens review export out/sample && crowdlens release out/sample --to public/sample \\
      --public-column country --overwrite
"""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "release",
        help="write the public dataset: released copies of accepted photos and a manifest",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("results", metavar="RESULTS_DIR", help="the folder 'crowdlens moderate' wrote")
    p.add_argument("--to", required=True, metavar="RELEASE_DIR", help="the folder to create")
    p.add_argument(
        "--public-column",
        action="append",
        dest="public_columns",
        metavar="COLUMN",
        help="a metadata column of the input manifest to publish (repeatable, e.g. country)",
    )
    p.add_argument("--overwrite", action="store_true", help="replace an existing RELEASE_DIR")
    p.add_argument("--config", metavar="FILE", help="TOML config file; its [release] section")
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from crowdlens.config import replace
    from crowdlens.release import load_release_config, release

    cfg = load_release_config(args.config)
    if args.public_columns:
        cfg = replace(cfg, public_columns=(*cfg.public_columns, *args.public_columns))
    print(release(args.results, args.to, cfg, overwrite=args.overwrite).format())
    return 0
