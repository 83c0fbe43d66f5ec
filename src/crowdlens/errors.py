"""Errors a user can act on.

``CrowdlensError`` carries a message that says what was wrong and what to do;
the CLI prints it as one line and exits non-zero, without a stack trace.
"""

from __future__ import annotations


class CrowdlensError(Exception):
    """A problem with the user's input, arguments or environment."""


class ConfigError(CrowdlensError, ValueError):
    """A configuration value is invalid."""


def param_error(owner: str, name: str, expected: str, got: object) -> ConfigError:
    """Build the one message shape used for every bad parameter.

    >>> str(param_error("QualityConfig", "blur_threshold", "a float >= 0", -1))
    "The 'blur_threshold' parameter of QualityConfig must be a float >= 0. Got -1."
    """
    return ConfigError(f"The {name!r} parameter of {owner} must be {expected}. Got {got!r}.")
