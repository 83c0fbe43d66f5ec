"""The ``crowdlens`` command.

Each sub-command lives in its own module with a ``register(subparsers)``
function that adds its parser and sets ``func``; this module only dispatches,
prints user errors as one line, and maps them to exit codes.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from crowdlens import __version__
from crowdlens.errors import CrowdlensError

# Sub-command modules, in the order --help lists them.
COMMAND_MODULES = (
    "crowdlens.cli.moderate",
    "crowdlens.cli.inspect",
    "crowdlens.cli.classify",
    "crowdlens.cli.export_model",
    "crowdlens.cli.import_onnx",
    "crowdlens.cli.quantize",
    "crowdlens.cli.train",
    "crowdlens.cli.evaluate",
    "crowdlens.cli.review",
    "crowdlens.cli.release",
    "crowdlens.cli.audit",
)

EPILOG = """\
examples:
  crowdlens moderate examples/sample --out out/sample
  crowdlens moderate manifest.csv --out out/run1 --master spark://host:7077
  crowdlens train --train data/train --val data/val --out models/grocery
  crowdlens review out/sample
  crowdlens release out/sample --to public/sample

Run 'crowdlens COMMAND --help' for the options of one command.
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="crowdlens",
        description=(
            "Moderate crowdsourced photos at scale on Apache Spark: decode safely, "
            "flag unusable photos, check the claimed item with a classifier, find and "
            "blur personal information, and leave people only the doubtful cases."
        ),
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"crowdlens {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:  # a command not written yet
                continue
            raise
        module.register(sub)
    return parser


def setup_logging(verbose: bool = False) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
        stream=sys.stderr,
    )
    for noisy in ("py4j", "urllib3", "matplotlib", "PIL", "asyncio"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    setup_logging(getattr(args, "verbose", False))
    try:
        return int(args.func(args) or 0)
    except CrowdlensError as exc:
        print(f"crowdlens: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("crowdlens: interrupted", file=sys.stderr)
        return 130
