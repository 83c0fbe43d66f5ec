"""The report tests share the review tests' synthetic-results factory."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

_FACTORY = Path(__file__).resolve().parents[1] / "review" / "results_factory.py"


def _factory():
    spec = importlib.util.spec_from_file_location("crowdlens_test_results_factory", _FACTORY)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


factory = _factory()


@pytest.fixture(scope="module")
def results_dir(shared_data, tmp_path_factory) -> Path:
    return factory.make_results(shared_data, tmp_path_factory.mktemp("results"))
