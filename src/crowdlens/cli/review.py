"""``crowdlens review``: serve the review queue of a results folder, or export it.

crowdlens review DIR            serve the web app (same as 'review serve DIR')
crowdlens review export DIR     write DIR/final.parquet and DIR/relabel_manifest.csv
"""

from __future__ import annotations

import argparse

from crowdlens.config import from_mapping, load_toml, replace
from crowdlens.errors import CrowdlensError

ACTIONS = ("serve", "export")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "review",
        help="review the doubtful photos of a run in a local web app; export the decisions",
        description="Serve the queue of photos whose decision is 'review' (most uncertain "
        "first) on 127.0.0.1 with a random access token, or export the final table "
        "(results joined with the reviewers' decisions) and a relabel manifest.",
        epilog="examples:\n  crowdlens review out/run1\n  crowdlens review out/run1 "
        "--photos-root photos/ --port 9000\n  crowdlens review export out/run1\n"
        "  crowdlens train --train out/run1/relabel_manifest.csv ...",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "first", metavar="[serve|export] DIR", help="the results folder (crowdlens moderate --out)"
    )
    p.add_argument("dir", nargs="?", metavar="", help=argparse.SUPPRESS)
    p.add_argument("--host", help="address to listen on (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=int, help="port (default 8765; 0 picks a free one)")
    p.add_argument(
        "--photos-root",
        action="append",
        metavar="FOLDER",
        help="a folder whose original photos may be shown (repeatable; by default only "
        "files inside DIR are served, e.g. the redacted copies)",
    )
    p.add_argument("--token", help="access token (default: a new random one, printed at start)")
    p.add_argument("--out", help="export: folder for final.parquet and the manifest (default DIR)")
    p.add_argument("--config", help="TOML config file; its [review] section sets the defaults")
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    p.set_defaults(func=run)


def parse_action(args: argparse.Namespace) -> tuple[str, str]:
    """``(action, DIR)`` from ``review DIR`` / ``review serve DIR`` / ``review export DIR``."""
    if args.dir is None:
        if args.first in ACTIONS:
            raise CrowdlensError(
                f"'crowdlens review {args.first}' needs the results folder: "
                f"crowdlens review {args.first} DIR"
            )
        return "serve", args.first
    if args.first not in ACTIONS:
        raise CrowdlensError(
            f"Unknown review action {args.first!r}: use 'crowdlens review DIR', "
            "'crowdlens review serve DIR' or 'crowdlens review export DIR'."
        )
    return args.first, args.dir


def run(args: argparse.Namespace) -> int:
    from crowdlens.review import ReviewConfig, export_reviewed, serve

    action, folder = parse_action(args)
    if action == "export":
        done = export_reviewed(folder, args.out)
        print(
            f"{done.rows} photos, {done.reviewed} reviewed, {done.relabelled} relabelled\n"
            f"final table: {done.final_table}\nrelabel manifest: {done.manifest}"
        )
        return 0
    section = load_toml(args.config).get("review", {})
    cfg = from_mapping(ReviewConfig, section, "[review]")
    roots = tuple(args.photos_root) if args.photos_root else None
    cfg = replace(cfg, host=args.host, port=args.port, token=args.token, photo_roots=roots)
    serve(folder, cfg)
    return 0
