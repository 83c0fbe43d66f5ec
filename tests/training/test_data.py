"""Listing labelled photos, bad input, the label hierarchy and evaluation reports
(pure helpers; tiny photos generated in the test)."""

from __future__ import annotations

import logging

import numpy as np
import pytest
from PIL import Image

from crowdlens import schema as S
from crowdlens.errors import CrowdlensError
from crowdlens.models.preprocess import PreprocessSpec
from crowdlens.training.data import PhotoDataset, drop_rare_classes, list_labelled_photos
from crowdlens.training.distributed import extract_traceback
from crowdlens.training.evaluate import fit_temperature, summarize
from crowdlens.training.hierarchy import parent_accuracy, parents_from_layout


def _photo(path, colour) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (40, 30), colour).save(path)


@pytest.fixture()
def tree(tmp_path):
    """<Group>/<Coarse>/<Fine>/x.jpg and <Group>/<Fine>/x.jpg, plus one corrupt photo."""
    root = tmp_path / "train"
    for i in range(3):
        _photo(root / "Fruit" / "Apple" / "Granny" / f"g{i}.jpg", (0, 200, 0))
        _photo(root / "Fruit" / "Apple" / "Pink" / f"p{i}.jpg", (250, 150, 150))
        _photo(root / "Fruit" / "Banana" / f"b{i}.jpg", (240, 220, 0))
    (root / "Fruit" / "Banana" / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    _photo(root / "Fruit" / "Kiwi" / "k0.jpg", (120, 100, 40))
    return root


def test_folder_labels_and_parents_from_layout(tree):
    table = list_labelled_photos(tree)
    assert set(table[S.LABEL]) == {"Granny", "Pink", "Banana", "Kiwi"}
    parents = dict(zip(table[S.LABEL], table[S.PARENT_LABEL]))
    assert parents == {"Granny": "Apple", "Pink": "Apple", "Banana": "Banana", "Kiwi": "Kiwi"}
    assert parents_from_layout(tree, list(table[S.PATH]))["Pink"] == "Apple"


def test_manifest_with_parent_column_and_relative_paths(tree, tmp_path):
    manifest = tmp_path / "m.csv"
    manifest.write_text(
        "path,item,group\ntrain/Fruit/Banana/b0.jpg,Banana,Fruit\n"
        "train/Fruit/Kiwi/k0.jpg,Kiwi,Fruit\n"
    )
    table = list_labelled_photos(manifest, label_column="item", parent_label_column="group")
    assert list(table[S.LABEL]) == ["Banana", "Kiwi"]
    assert list(table[S.PARENT_LABEL]) == ["Fruit", "Fruit"]
    assert (tmp_path / "train/Fruit/Kiwi/k0.jpg").samefile(table[S.PATH][1])
    with pytest.raises(CrowdlensError, match="lacks the column"):
        list_labelled_photos(manifest, label_column="nope")
    with pytest.raises(CrowdlensError, match="no parent label column 'grp'"):
        list_labelled_photos(manifest, label_column="item", parent_label_column="grp")


def test_missing_input_is_a_clear_error(tmp_path):
    with pytest.raises(CrowdlensError, match="does not exist"):
        list_labelled_photos(tmp_path / "nowhere")


def test_rare_classes_are_dropped_with_a_warning_naming_them(tree, caplog):
    table = list_labelled_photos(tree)
    with caplog.at_level(logging.WARNING):
        kept, dropped = drop_rare_classes(table, min_per_class=2)
    assert dropped == ["Kiwi"]
    assert "Kiwi (1)" in caplog.text
    assert "Kiwi" not in set(kept[S.LABEL])
    with pytest.raises(CrowdlensError, match="empty after dropping"):
        drop_rare_classes(table, min_per_class=100)


def test_undecodable_photo_is_skipped_and_counted(tree):
    table = list_labelled_photos(tree)
    labels = sorted(set(table[S.LABEL]))
    spec = PreprocessSpec(input_size=16, resize=16)
    ds = PhotoDataset.from_table(table, labels, spec, train=True, seed=1)
    items = [ds[i] for i in range(len(ds))]
    assert sum(it is None for it in items) == 1
    assert len(ds.failed) == 1 and "broken.jpg" in ds.paths[next(iter(ds.failed))]
    x, _ = next(it for it in items if it is not None)
    assert x.shape == (3, 16, 16) and x.dtype == np.float32
    # Same (seed, epoch, index) -> same augmentation: what makes resume exact.
    good = next(i for i, it in enumerate(items) if it is not None)
    again = PhotoDataset.from_table(table, labels, spec, train=True, seed=1)
    assert np.array_equal(again[good][0], items[good][0])


def test_summarize_reports_top_k_per_class_confusion_and_parent_accuracy():
    labels = ["Granny", "Pink", "Banana"]
    logits = np.array([[3.0, 2, 1], [3, 2, 1], [1, 2, 3], [1, 3, 2]])
    actual = ["Granny", "Pink", "Banana", "Kiwi"]
    parents = {"Granny": "Apple", "Pink": "Apple", "Banana": "Banana"}
    r = summarize(logits, actual, labels, parents, skipped=2)
    assert r["n"] == 4 and r["skipped"] == 2
    assert r["top1"] == pytest.approx(2 / 4)
    assert r["top5"] == pytest.approx(3 / 4)  # Kiwi is not a label: always wrong
    assert r["per_class"]["Pink"] == {"n": 1, "top1": 0.0}
    assert r["confusion"]["matrix"][1] == [1, 0, 0]  # Pink predicted as Granny
    assert r["unknown_labels"] == ["Kiwi"]
    assert r["parent_top1"] == pytest.approx(3 / 4)  # Pink->Granny is right at the Apple level
    assert parent_accuracy(["Pink"], ["Granny"], parents) == 1.0


def test_fit_temperature_recovers_the_temperature_of_sampled_labels():
    rng = np.random.default_rng(0)
    true_logits = rng.normal(size=(4000, 5)) * 3
    p = np.exp(true_logits - true_logits.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    y = np.array([rng.choice(5, p=row) for row in p])
    assert fit_temperature(true_logits * 2.5, y) == pytest.approx(2.5, rel=0.1)


def test_extract_traceback_from_torchrun_output():
    out = (
        "noise\n[rank0]: Traceback (most recent call last):\n"
        '[rank0]:   File "x.py", line 3, in f\n[rank0]:     raise ValueError("boom")\n'
        "[rank0]: ValueError: boom\nE0101 torch.distributed.elastic ... failed\n"
    )
    tb = extract_traceback(out)
    assert tb is not None
    assert tb.startswith("Traceback") and tb.endswith("ValueError: boom")
    assert extract_traceback("all fine") is None


# --- input confinement: the same policy and message as `crowdlens moderate` ---


def _outside_manifest(tree, tmp_path):
    """A manifest in its own folder naming photos of ``tree`` (outside that folder):
    once by absolute path, once by ``..``."""
    folder = tmp_path / "lists"
    folder.mkdir()
    manifest = folder / "m.csv"
    manifest.write_text(
        f"path,label\n{tree / 'Fruit/Banana/b0.jpg'},Banana\n../train/Fruit/Kiwi/k0.jpg,Kiwi\n"
    )
    return manifest


def test_manifest_outside_its_folder_is_refused_with_moderates_reason(tree, tmp_path):
    from crowdlens.io.confine import make_policy
    from crowdlens.io.read import read_file

    manifest = _outside_manifest(tree, tmp_path)
    with pytest.raises(CrowdlensError) as info:
        list_labelled_photos(manifest)
    # What moderate's read stage records for this path (io/ingest.py builds the
    # policy from the manifest's folder, io/read.py refuses before opening).
    photo = str(tree / "Fruit/Banana/b0.jpg")
    policy = make_policy((), False, True, str(manifest.parent.resolve()))
    _, reason = read_file(photo, 1 << 20, policy)
    assert reason.startswith("refused:")
    assert str(info.value).endswith(reason)
    assert "2 of 2 photo paths" in str(info.value)
    assert "--allowed-root" in reason and "--no-confine" in reason


def test_allowed_roots_and_no_confine_let_the_same_manifest_through(tree, tmp_path):
    from crowdlens.config import IngestConfig

    manifest = _outside_manifest(tree, tmp_path)
    allowed = list_labelled_photos(manifest, ingest=IngestConfig(allowed_roots=(str(tree),)))
    assert list(allowed[S.LABEL]) == ["Banana", "Kiwi"]
    anywhere = list_labelled_photos(manifest, ingest=IngestConfig(confine_to_input=False))
    assert list(anywhere[S.PATH]) == list(allowed[S.PATH])
    elsewhere = IngestConfig(allowed_roots=(str(tmp_path / "lists"),))
    with pytest.raises(CrowdlensError, match="outside the allowed roots"):
        list_labelled_photos(manifest, ingest=elsewhere)


def test_a_symlink_out_of_a_training_folder_is_refused(tree, tmp_path):
    secret = tmp_path / "private" / "face.jpg"
    _photo(secret, (10, 10, 10))
    (tree / "Fruit" / "Kiwi" / "k1.jpg").symlink_to(secret)
    with pytest.raises(CrowdlensError, match=r"1 of \d+ photo paths.*outside the input's folder"):
        list_labelled_photos(tree)


def test_train_and_evaluate_commands_confine_with_moderates_escapes(tree, tmp_path, capsys):
    """Confinement is judged before Spark or a model is needed: a refused manifest
    stops at once; with the escape the command gets past the listing (and stops
    on a later, cheap error)."""
    from crowdlens.cli import main

    manifest = _outside_manifest(tree, tmp_path)
    train = ["train", "--train", str(manifest), "--out", str(tmp_path / "b")]
    assert main(train) == 2
    assert "may not be read; the first: refused:" in capsys.readouterr().err
    too_few = ["--min-per-class", "5"]  # two photos: empty after the listing
    assert main([*train, *too_few, "--no-confine"]) == 2
    assert "empty after dropping" in capsys.readouterr().err
    config = tmp_path / "crowdlens.toml"
    config.write_text(f"[ingest]\nallowed_roots = [{str(tree)!r}]\n")
    assert main([*train, *too_few, "--config", str(config)]) == 2
    assert "empty after dropping" in capsys.readouterr().err

    evaluate = ["evaluate", "--model", str(tmp_path / "no-bundle"), "--data", str(manifest)]
    assert main(evaluate) == 2
    assert "may not be read" in capsys.readouterr().err
    assert main([*evaluate, "--allowed-root", str(tree)]) == 2
    err = capsys.readouterr().err
    assert "may not be read" not in err and "no-bundle" in err


def test_audit_refuses_an_outside_manifest_before_starting_spark(
    tree, tmp_path, monkeypatch, capsys
):
    import crowdlens.spark.session as session
    from crowdlens.cli import main

    def no_spark(*a, **k):
        raise AssertionError("Spark must not start before the photos are listed and confined")

    monkeypatch.setattr(session, "get_spark", no_spark)
    manifest = _outside_manifest(tree, tmp_path)
    assert main(["audit", str(manifest), "--out", str(tmp_path / "out")]) != 0
    err = capsys.readouterr().err
    assert "2 of 2 photo paths" in err and "--allowed-root" in err
