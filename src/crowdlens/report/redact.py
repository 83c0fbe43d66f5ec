"""No file paths in the shared report.

A photo's path names the contributor's folders, and often the contributor
(``/uploads/maria.garcia/IMG_0042.jpg``); the messages of the read and
decode stages quote it (``file not found: <path> ...``, ``refused: <path>
resolves to <path>, outside the input's folder <path> ...``). The report is
mailed and archived, so it names a photo by its ``image_id``, as every other
section does, and quotes errors and reasons with each path replaced by
:data:`PATH_MASK`.
"""

from __future__ import annotations

import os
import re

PATH_MASK = "[path]"

# What else a message may quote: an absolute local path (``/``, ``~/``,
# ``C:\``) or a URL, up to the next blank, quote, bracket or separator. The
# look-behind keeps ratios and formats ("3/4", "jpeg/png") intact.
_PATHLIKE = re.compile(
    r"(?<![\w./\\:])(?:[A-Za-z][\w+.-]*://|~/|/|[A-Za-z]:\\)[^\s;,'\"()<>\[\]]+"
    r"(?<![.:])"  # a sentence's full stop or colon is not part of the path
)


def _forms(path: str | None) -> list[str]:
    """The row's own path as a message may quote it: as given, and resolved."""
    if not path or len(path) < 2:
        return []
    forms = {path}
    if "://" not in path:
        forms.add(os.path.realpath(path))
    return sorted(forms, key=len, reverse=True)


def without_paths(text: object, path: str | None = None) -> str:
    """``text`` with the row's ``path`` (even one with blanks) and any other path masked.

    >>> without_paths("file not found: /home/ana/My Photos/a.jpg (check the path)",
    ...               "/home/ana/My Photos/a.jpg")
    'file not found: [path] (check the path)'
    >>> without_paths("refused: s3://b/k.jpg is outside the allowed roots /data/ok.")
    'refused: [path] is outside the allowed roots [path].'
    """
    if text is None or text != text:  # None or NaN
        return ""
    out = str(text)
    for known in _forms(path):
        out = out.replace(known, PATH_MASK)
    return _PATHLIKE.sub(PATH_MASK, out)
