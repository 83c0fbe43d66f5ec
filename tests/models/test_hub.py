"""models/hub.py: a bundle by folder or by registry name, exported once into the cache."""

from __future__ import annotations

import shutil

import pytest

from crowdlens.models.bundle import BundleError
from crowdlens.models.hub import cache_dir, resolve_bundle


def test_cache_dir_follows_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("CROWDLENS_CACHE", str(tmp_path / "c"))
    assert cache_dir() == tmp_path / "c" / "bundles"
    monkeypatch.delenv("CROWDLENS_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_dir() == tmp_path / "xdg" / "crowdlens" / "bundles"


def test_an_unknown_name_lists_the_model_names(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(BundleError, match="neither a bundle directory nor a model name") as err:
        resolve_bundle("no_such_model")
    assert "mobilenet_v2" in str(err.value)


def test_a_folder_and_a_cached_name_give_the_same_bundle(mobilenet_bundle, tmp_path, monkeypatch):
    by_path = resolve_bundle(mobilenet_bundle)
    assert by_path.path == mobilenet_bundle.resolve() and by_path.architecture == "mobilenet_v2"
    monkeypatch.setenv("CROWDLENS_CACHE", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    shutil.copytree(mobilenet_bundle, cache_dir() / "mobilenet_v2")
    by_name = resolve_bundle("mobilenet_v2")  # found in the cache: not exported again
    assert by_name.path == (cache_dir() / "mobilenet_v2").resolve()
    assert by_name.to_json() == by_path.to_json()
