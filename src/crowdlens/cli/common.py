"""Flags shared by the sub-commands that run Spark jobs."""

from __future__ import annotations

import argparse

from crowdlens.config import LOG_LEVELS, SparkConfig, parse_conf_pairs, replace


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
