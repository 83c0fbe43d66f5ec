"""The PII analyzer loads without PyTorch (230 MB less per text worker), and torch still works after."""

from __future__ import annotations

import os
import subprocess
import sys

CODE = """
import sys
from crowdlens.text.pii import get_analyzer
analyzer = get_analyzer(("en", "fr"), ("US",))
found = analyzer.analyze("Please call Maria Garcia", language="en")
print("torch loaded:", "torch" in sys.modules)
print("person found:", any(r.entity_type == "PERSON" for r in found))
import torch
print("torch after:", float(torch.ones(3).sum()))
"""


def test_analyzer_runs_without_loading_torch_and_torch_imports_after():
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    out = subprocess.run(
        [sys.executable, "-c", CODE], capture_output=True, text=True, env=env, timeout=300
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert "torch loaded: False" in out.stdout
    assert "person found: True" in out.stdout
    assert "torch after: 3.0" in out.stdout
