"""Flags shared by the sub-commands that run Spark jobs."""

from __future__ import annotations

import argparse

from crowdlens.config import LOG_LEVELS, IngestConfig, SparkConfig, parse_conf_pairs, replace


def add_spark_args(parser: argparse.ArgumentParser) -> None:
    g = parser.add_argument_group("Spark")
    g.add_argument(
        "--master",
        help="Spark master URL: local[*] (default: all cores of this machine), local[2], "
        "spark://host:7077, yarn, k8s://https://host:443",
    )
    g.add_argument(
        "--conf",
        action="append",
        metavar="KEY=VALUE",
        help="any Spark setting, repeatable (e.g. --conf spark.executor.memory=4g)",
    )
    g.add_argument(
        "--log-level",
        choices=LOG_LEVELS,
        help="Spark's own log level (default ERROR: quiet)",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")


def spark_config(args: argparse.Namespace, base: SparkConfig) -> SparkConfig:
    """The [spark] section of the config file, overridden by the flags given."""
    conf = {**base.conf, **parse_conf_pairs(args.conf)}
    return replace(base, master=args.master, log_level=args.log_level, conf=conf)


def add_confine_args(group: argparse._ActionsContainer) -> None:
    """The input-confinement flags (``[ingest]``; :mod:`crowdlens.io.confine`)."""
    group.add_argument(
        "--allowed-root",
        dest="allowed_roots",
        action="append",
        metavar="DIR",
        help="read photos only below this folder or URL prefix (repeatable; replaces the "
        "default, which is the input's own folder tree)",
    )
    group.add_argument(
        "--allow-remote",
        action="store_true",
        default=None,
        help="read http/https/ftp URLs named in a manifest (refused by default: a manifest "
        "must not make the workers send requests)",
    )
    group.add_argument(
        "--no-confine",
        dest="confine_to_input",
        action="store_false",
        default=None,
        help="let manifest paths point outside the manifest's folder tree (off by default)",
    )


def confine_config(args: argparse.Namespace, base: IngestConfig) -> IngestConfig:
    """The [ingest] section of the config file, its confinement overridden by the flags given."""
    return replace(
        base,
        allowed_roots=tuple(args.allowed_roots) if args.allowed_roots else None,
        allow_remote=args.allow_remote,
        confine_to_input=args.confine_to_input,
    )
