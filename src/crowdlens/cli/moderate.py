"""``crowdlens moderate``: run the pipeline on a folder or a manifest."""

from __future__ import annotations

import argparse
import logging

from crowdlens.cli.common import add_confine_args, add_spark_args, confine_config, spark_config
from crowdlens.config import load_config, replace
from crowdlens.params import choices
from crowdlens.pipeline_config import ModerateConfig
from crowdlens.text.config import TextConfig

log = logging.getLogger(__name__)

DESCRIPTION = """\
Moderate photos: one row per input photo in OUT/results.parquet.

INPUT is either
  a folder   scanned recursively for .jpg .jpeg .png .webp .tif .tiff .bmp .gif
             (and .heic/.heif); the label of a photo is its parent folder's name, or
  a manifest a .csv or .parquet file with a 'path' column (relative paths resolve
             against the manifest's folder), optional 'label' and 'image_id', and
             any other columns (country, contributor, ...), carried through.

Input confinement: by default every photo path must lie inside the input's own
folder tree (symlinks and '..' resolved); --allowed-root replaces that with your
folders, --no-confine lifts it. http/https/ftp URLs are refused unless
--allow-remote; s3:// (and other object stores) are read as usual. A refused
path is an error row saying what to change; the job goes on.

Photos that cannot be read or decoded become rows with status = 'error' and a
reason; they never fail the job. The results are written atomically.
"""

EPILOG = """\
examples:
  crowdlens moderate examples/sample/photos --out out/sample
  crowdlens moderate manifest.csv --out out/run --config crowdlens.toml
  crowdlens moderate /batches/b7/manifest.csv --out out/b7 --allowed-root /data/photos
  crowdlens moderate photos/ --out out/run --master spark://10.0.0.5:7077 \\
      --conf spark.executor.memory=4g

read the results:
  python -c "import pandas as pd; print(pd.read_parquet('out/sample/results.parquet'))"
  duckdb -c "select status, count(*) from 'out/sample/results.parquet/*.parquet' group by 1"
"""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "moderate",
        help="run the moderation pipeline on a folder or manifest of photos",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("input", metavar="INPUT", help="a folder of photos, or a .csv/.parquet manifest")
    p.add_argument("--out", required=True, metavar="DIR", help="output folder")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--overwrite", action="store_true", help="replace existing results in DIR")
    mode.add_argument(
        "--incremental",
        action="store_true",
        help="add to existing results in DIR: process only new or changed photos "
        "(by id and content hash); a re-run on the same input changes nothing",
    )
    p.add_argument("--config", metavar="FILE", help="TOML config file (see docs/configuration.md)")
    g = p.add_argument_group("input")
    g.add_argument(
        "--no-folder-labels",
        dest="folder_labels",
        action="store_false",
        default=None,
        help="do not take labels from folder names",
    )
    g.add_argument("--label-column", help="manifest column holding the claimed label")
    g.add_argument("--max-pixels", type=int, help="refuse photos above this many pixels")
    add_confine_args(g)
    st = p.add_argument_group("stages")
    st.add_argument(
        "--model",
        metavar="BUNDLE",
        help="classify photos with this model bundle (a folder made by 'crowdlens train', or "
        "a registry name such as efficientnet_lite0 for its ImageNet head); also turns on "
        "label validation",
    )
    st.add_argument("--no-quality", action="store_true", help="skip quality and duplicates")
    st.add_argument("--no-duplicates", action="store_true", help="skip duplicate detection")
    st.add_argument("--no-text", action="store_true", help="skip text detection, OCR and PII")
    st.add_argument("--no-report", action="store_true", help="do not write report.html")
    st.add_argument(
        "--redact-mode",
        choices=choices(TextConfig, "redact_mode"),
        help="how personal information is hidden",
    )
    add_spark_args(p)
    p.set_defaults(func=run)


def config_from_args(args: argparse.Namespace) -> ModerateConfig:
    cfg = load_config(ModerateConfig, args.config)
    off = {True: False, False: None}  # a --no-X flag given turns X off; absent keeps the config
    return replace(
        cfg,
        spark=spark_config(args, cfg.spark),
        ingest=replace(
            confine_config(args, cfg.ingest),
            folder_labels=args.folder_labels,
            label_column=args.label_column,
        ),
        decode=replace(cfg.decode, max_pixels=args.max_pixels),
        quality=replace(
            cfg.quality, enabled=off[args.no_quality], duplicates=off[args.no_duplicates]
        ),
        model=replace(cfg.model, bundle=args.model),
        text=replace(cfg.text, enabled=off[args.no_text], redact_mode=args.redact_mode),
        write_report=off[args.no_report],
    )


def run(args: argparse.Namespace) -> int:
    from crowdlens.io.ingest import check_input
    from crowdlens.io.results import RESULTS, prepare_output
    from crowdlens.pipeline import moderate
    from crowdlens.spark.session import get_spark

    cfg = config_from_args(args)
    # Fail on a bad input or --out before paying for Spark's start-up.
    check_input(args.input)
    prepare_output(args.out, args.overwrite or args.incremental, RESULTS)
    spark = get_spark(cfg.spark)
    summary = moderate(
        spark, args.input, args.out, cfg, overwrite=args.overwrite, incremental=args.incremental
    )
    print(summary.format())
    return 0
