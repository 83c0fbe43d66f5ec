"""Input confinement as pure functions: which paths a manifest may make the workers read."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from crowdlens.config import IngestConfig
from crowdlens.errors import ConfigError
from crowdlens.io.confine import InputPolicy, confine, make_policy
from crowdlens.io.read import read_file


@pytest.fixture()
def tree(tmp_path: Path) -> Path:
    """manifest folder with a photo, a secret beside it, and a symlink out of it."""
    root = tmp_path / "batch"
    (root / "photos").mkdir(parents=True)
    (root / "photos" / "a.jpg").write_bytes(b"jpeg")
    (tmp_path / "secret.txt").write_text("secret")
    os.symlink(tmp_path / "secret.txt", root / "photos" / "link.jpg")
    return root


def test_default_confines_local_paths_to_the_input_folder(tree):
    policy = make_policy((), allow_remote=False, confine_to_input=True, input_root=str(tree))
    ok, why = confine(str(tree / "photos" / "a.jpg"), policy)
    assert ok == str((tree / "photos" / "a.jpg").resolve()) and why is None
    for escaping in (
        f"{tree}/../secret.txt",  # a relative '../' joined to the manifest's folder
        f"{tree}/photos/../../secret.txt",
        str(tree / "photos" / "link.jpg"),  # a symlink out of the tree
        "/etc/passwd",
        "file:///etc/passwd",
    ):
        target, why = confine(escaping, policy)
        assert target is None, escaping
        assert why.startswith("refused:") and "outside the input's folder" in why
        assert "--allowed-root" in why and "--no-confine" in why  # says what to change


def test_file_urls_are_paths(tree):
    policy = make_policy((), False, True, str(tree))
    url = "file://" + str(tree / "photos" / "a.jpg").replace(" ", "%20")
    assert confine(url, policy) == (str((tree / "photos" / "a.jpg").resolve()), None)
    assert confine("file://localhost" + str(tree / "photos" / "a.jpg"), policy)[1] is None


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:9/x.jpg", "https://a.example/x.jpg", "ftp://h/x", "c::http://h/x"]
)
def test_remote_schemes_are_refused_unless_enabled(url, tree):
    target, why = confine(url, make_policy((), False, True, str(tree)))
    assert target is None and "--allow-remote" in why and "allow_remote = true" in why
    assert confine(url, make_policy((), True, True, str(tree))) == (url, None)


def test_object_stores_stay_allowed(tree):
    assert confine("s3://bucket/a.jpg", make_policy((), False, True, str(tree)))[1] is None
    assert confine("gs://bucket/a.jpg", make_policy((), False, False, str(tree)))[1] is None


def test_allowed_roots_replace_the_default_and_bind_urls(tree, tmp_path):
    policy = make_policy((str(tmp_path), "s3://bucket/ok"), False, True, str(tree))
    assert confine(str(tmp_path / "secret.txt"), policy)[1] is None  # now inside a root
    assert confine("/etc/passwd", policy)[0] is None
    assert confine("s3://bucket/ok/a.jpg", policy) == ("s3://bucket/ok/a.jpg", None)
    for url in ("s3://bucket/ok/../other/a.jpg", "s3://bucket/okay/a.jpg", "s3://other/a.jpg"):
        target, why = confine(url, policy)
        assert target is None and "outside the allowed roots" in why, url


def test_no_confine_opts_out_for_local_paths_only(tree):
    policy = make_policy((), False, False, str(tree))
    assert policy == InputPolicy()
    assert confine("/etc/hostname", policy)[1] is None
    assert confine("http://127.0.0.1:9/x.jpg", policy)[0] is None


def test_read_file_refuses_before_opening(tree):
    policy = make_policy((), False, True, str(tree))
    data, why = read_file(f"{tree}/../secret.txt", 1000, policy)
    assert data is None and why.startswith("refused:")
    assert read_file(str(tree / "photos" / "a.jpg"), 1000, policy) == (b"jpeg", None)
    assert read_file(f"{tree}/../secret.txt", 1000) == (b"secret", None)  # no policy: as before


def test_allowed_roots_are_validated():
    with pytest.raises(ConfigError, match="'allowed_roots' parameter of IngestConfig"):
        IngestConfig(allowed_roots=("",))
