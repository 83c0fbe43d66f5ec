"""``crowdlens review``: serve the review queue of a results folder, add reviewers, export.

crowdlens review DIR                      serve the web app (same as 'review serve DIR')
crowdlens review add-reviewer DIR NAME    create a reviewer and print their token
crowdlens review export DIR               final.parquet, train/relabel manifests, audit CSV
"""

from __future__ import annotations

import argparse

from crowdlens.config import load_section, replace
from crowdlens.errors import CrowdlensError

ACTIONS = ("serve", "export", "add-reviewer")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "review",
        help="review the doubtful photos of a run in a local web app; export the decisions",
        description="Serve the queue of photos whose decision is 'review' (paged, filtered "
        "and sorted on the server) on 127.0.0.1 to named reviewers, each with their own "
        "token; or add a reviewer; or export the final table, a corrected training "
        "manifest and the audit trail of every decision.",
        epilog="examples:\n  crowdlens review out/run1\n  crowdlens review out/run1 "
        "--photos-root photos/ --port 9000\n  crowdlens review add-reviewer out/run1 alice\n"
        "  crowdlens review export out/run1\n"
        "  crowdlens train --train out/run1/train_manifest.csv --allowed-root photos/ "
        "--out models/corrected ...",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "first",
        metavar="[serve|export|add-reviewer] DIR",
        help="the results folder (crowdlens moderate --out), local or s3://",
    )
    p.add_argument("rest", nargs="*", metavar="", help=argparse.SUPPRESS)
    p.add_argument("--host", help="address to listen on (default 127.0.0.1: this machine only)")
    p.add_argument(
        "--allow-remote",
        action="store_true",
        default=None,
        help="allow a --host other than loopback (plain HTTP: put TLS in front)",
    )
    p.add_argument("--port", type=int, help="port (default 8765; 0 picks a free one)")
    p.add_argument(
        "--photos-root",
        action="append",
        metavar="FOLDER",
        help="a folder (or s3:// prefix) whose originals the detail view may show "
        "(repeatable; by default only released copies are shown)",
    )
    p.add_argument("--reviewer", help="who starts the server (default 'reviewer')")
    p.add_argument("--token", help="the starter's token (default: a new random one each start)")
    p.add_argument(
        "--double-review", type=float, help="share of photos two reviewers must decide (0-1)"
    )
    p.add_argument(
        "--state",
        metavar="FOLDER",
        help="folder of review.sqlite (default the results folder; for s3:// results a "
        "local ./review-<name>-<hash> folder)",
    )
    p.add_argument("--new-token", action="store_true", help="add-reviewer: replace their token")
    p.add_argument("--out", help="export: output folder (default: where review.sqlite is)")
    p.add_argument("--config", help="TOML config file; its [review] section sets the defaults")
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    p.set_defaults(func=run)


def parse_action(args: argparse.Namespace) -> tuple[str, str, list[str]]:
    """``(action, DIR, extra)`` from ``review DIR`` / ``review ACTION DIR [NAME]``."""
    if not args.rest:
        if args.first in ACTIONS:
            raise CrowdlensError(
                f"'crowdlens review {args.first}' needs the results folder: "
                f"crowdlens review {args.first} DIR"
                + (" NAME" if args.first == "add-reviewer" else "")
            )
        return "serve", args.first, []
    if args.first not in ACTIONS:
        raise CrowdlensError(
            f"Unknown review action {args.first!r}: use 'crowdlens review DIR', "
            "'crowdlens review serve DIR', 'crowdlens review add-reviewer DIR NAME' or "
            "'crowdlens review export DIR'."
        )
    want = 2 if args.first == "add-reviewer" else 1
    if len(args.rest) != want:
        usage = "DIR NAME" if want == 2 else "DIR"
        raise CrowdlensError(f"Use: crowdlens review {args.first} {usage}")
    return args.first, args.rest[0], args.rest[1:]


def run(args: argparse.Namespace) -> int:
    from crowdlens.review import ReviewConfig, export_reviewed, serve

    action, folder, extra = parse_action(args)
    if action == "export":
        done = export_reviewed(folder, args.out, state_dir=args.state)
        print(
            f"{done.rows} photos, {done.reviewed} reviewed, {done.relabelled} relabelled, "
            f"{done.conflicts} in conflict\nfinal table: {done.final_table}\n"
            f"training manifest ({done.train_rows} photos): {done.train_manifest}\n"
            f"relabel manifest: {done.manifest}\naudit trail: {done.audit}"
        )
        return 0
    if action == "add-reviewer":
        return add_reviewer(folder, extra[0], args)
    cfg = load_section(ReviewConfig, args.config, "review")
    roots = tuple(args.photos_root) if args.photos_root else None
    cfg = replace(
        cfg,
        host=args.host,
        port=args.port,
        token=args.token,
        reviewer=args.reviewer,
        photo_roots=roots,
        allow_remote=args.allow_remote,
        double_review=args.double_review,
        state_dir=args.state,
    )
    serve(folder, cfg)
    return 0


def add_reviewer(folder: str, name: str, args: argparse.Namespace) -> int:
    from crowdlens.review.location import results_folder, state_folder
    from crowdlens.review.store import DB_NAME, DecisionStore

    _, base = results_folder(folder)
    state = state_folder(str(base), args.state)
    state.mkdir(parents=True, exist_ok=True)
    store = DecisionStore(state / DB_NAME)
    try:
        token = store.add_reviewer(name, replace=args.new_token)
    finally:
        store.close()
    print(
        f"reviewer {name!r} added to {state / DB_NAME}\ntoken: {token}\n"
        f"they open http://<host>:<port>/?token={token} once the server runs "
        "(keep the token secret; --new-token replaces it)"
    )
    return 0
