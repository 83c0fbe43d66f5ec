"""End to end on real Spark: ingest, decode, results contract, atomic output."""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import pandas as pd
import pytest
from PIL import Image

from crowdlens import schema as S
from crowdlens.config import IngestConfig, replace
from crowdlens.errors import CrowdlensError
from crowdlens.pipeline import moderate
from crowdlens.pipeline_config import ModerateConfig
from crowdlens.text.config import TextConfig

pytestmark = pytest.mark.spark

# The foundation's tests: every stage but OCR (the text stage has its own tests,
# and reading text costs about a second per photo) and no report.
BASIC = ModerateConfig(text=TextConfig(enabled=False), write_report=False)

SAMPLE_PHOTOS = Path(__file__).resolve().parents[1] / "examples" / "sample" / "photos"


def jpeg(color=(200, 40, 40), size=(40, 30), orientation: int | None = None) -> bytes:
    im = Image.new("RGB", size, color)
    buf = io.BytesIO()
    if orientation:
        exif = Image.Exif()
        exif[0x0112] = orientation
        im.save(buf, "JPEG", exif=exif.tobytes())
    else:
        im.save(buf, "JPEG")
    return buf.getvalue()


@pytest.fixture()
def awkward_folder(tmp_path: Path) -> Path:
    root = tmp_path / "photos"
    (root / "Banana").mkdir(parents=True)
    (root / "Kiwi" / "deeper").mkdir(parents=True)
    (root / "Banana" / "ok.jpg").write_bytes(jpeg())
    (root / "Banana" / "ROTATED.JPG").write_bytes(jpeg(size=(40, 30), orientation=6))
    (root / "Banana" / "empty.jpg").write_bytes(b"")
    (root / "Kiwi" / "page.jpg").write_text("<html><body>not a photo</body></html>")
    (root / "Kiwi" / "deeper" / "näme with spaces.png").write_bytes(jpeg())
    (root / "Kiwi" / "notes.txt").write_text("ignored: not a photo by extension")
    (root / "top.jpg").write_bytes(jpeg())
    return root


def read(out: Path) -> pd.DataFrame:
    return pd.read_parquet(out / "results.parquet")


def test_folder_rows_in_equal_rows_out(spark, awkward_folder, tmp_path):
    out = tmp_path / "out"
    summary = moderate(spark, awkward_folder, out, BASIC)
    df = read(out)
    assert len(df) == summary.n_rows == 6  # notes.txt is not a photo
    assert df[S.IMAGE_ID].is_unique
    by_name = {Path(p).name: r for p, r in zip(df[S.PATH], df.to_dict("records"), strict=True)}
    assert by_name["ok.jpg"][S.STATUS] == "ok"
    assert (by_name["ok.jpg"][S.WIDTH], by_name["ok.jpg"][S.HEIGHT]) == (40, 30)
    assert (by_name["ROTATED.JPG"][S.WIDTH], by_name["ROTATED.JPG"][S.HEIGHT]) == (30, 40)
    assert by_name["empty.jpg"][S.STATUS] == "error"
    assert "empty file" in by_name["empty.jpg"][S.ERROR]
    assert "HTML" in by_name["page.jpg"][S.ERROR]
    assert by_name["näme with spaces.png"][S.STATUS] == "ok"
    assert by_name["näme with spaces.png"][S.LABEL] == "deeper"
    assert by_name["ok.jpg"][S.LABEL] == "Banana"
    assert by_name["top.jpg"][S.LABEL] is None  # directly in the root: no folder label
    assert summary.status_counts == {"ok": 4, "error": 2}
    # No working columns leak into the results.
    assert not set(S.INTERNAL) & set(df.columns)


def test_ids_are_stable_across_runs_and_folder_moves(spark, awkward_folder, tmp_path):
    moderate(spark, awkward_folder, tmp_path / "a", BASIC)
    moved = tmp_path / "moved"
    shutil.copytree(awkward_folder, moved)
    moderate(spark, moved, tmp_path / "b", BASIC)
    a = read(tmp_path / "a").set_index(S.IMAGE_ID)
    b = read(tmp_path / "b").set_index(S.IMAGE_ID)
    assert sorted(a.index) == sorted(b.index)
    assert a.loc[b.index, S.SHA256].equals(b[S.SHA256])
    assert a.loc[b.index, S.LABEL].equals(b[S.LABEL])


def test_no_folder_labels(spark, awkward_folder, tmp_path):
    cfg = replace(BASIC, ingest=IngestConfig(folder_labels=False))
    moderate(spark, awkward_folder, tmp_path / "out", cfg)
    assert read(tmp_path / "out")[S.LABEL].isna().all()


def test_manifest_passes_metadata_and_resolves_relative_paths(spark, tmp_path):
    (tmp_path / "imgs").mkdir()
    (tmp_path / "imgs" / "a.jpg").write_bytes(jpeg())
    (tmp_path / "imgs" / "b.jpg").write_bytes(jpeg((0, 0, 255)))
    absolute = tmp_path / "abs.jpg"
    absolute.write_bytes(jpeg())
    manifest = pd.DataFrame(
        {
            "path": ["imgs/a.jpg", "imgs/b.jpg", str(absolute), "imgs/missing.jpg", "imgs/a.jpg"],
            "label": ["Banana", "Kiwi", None, "Lemon", "Banana"],
            "country": ["KE", "MX", "PH", "BR", "KE"],
            "contributor": ["c1", "c2", "c3", "c4", "c1"],
        }
    )
    manifest.to_csv(tmp_path / "m.csv", index=False)
    summary = moderate(spark, tmp_path / "m.csv", tmp_path / "out", BASIC)
    df = read(tmp_path / "out")
    assert len(df) == 5 == summary.n_input
    assert df[S.IMAGE_ID].is_unique  # the repeated path keeps its own row and id
    assert list(df.columns[:5]) == [S.IMAGE_ID, S.PATH, S.LABEL, "country", "contributor"]
    missing = df[df[S.PATH].str.endswith("missing.jpg")].iloc[0]
    assert missing[S.STATUS] == "error" and missing[S.ERROR].startswith("file not found")
    assert missing["country"] == "BR" and missing[S.LABEL] == "Lemon"
    assert (df[S.STATUS] == "ok").sum() == 4


def test_parquet_manifest_with_ids(spark, tmp_path):
    (tmp_path / "a.jpg").write_bytes(jpeg())
    pd.DataFrame(
        {"image_id": ["x1", "x2"], "path": ["a.jpg", "nope.jpg"], "item": ["A", "B"]}
    ).to_parquet(tmp_path / "m.parquet")
    moderate(spark, tmp_path / "m.parquet", tmp_path / "out", BASIC)
    df = read(tmp_path / "out").set_index(S.IMAGE_ID)
    assert df.loc["x1", S.STATUS] == "ok" and df.loc["x2", S.STATUS] == "error"
    assert df.loc["x2", "item"] == "B"


def test_manifest_errors_are_clear(spark, tmp_path):
    pd.DataFrame({"file": ["a.jpg"]}).to_csv(tmp_path / "nopath.csv", index=False)
    with pytest.raises(CrowdlensError, match="no 'path' column"):
        moderate(spark, tmp_path / "nopath.csv", tmp_path / "o1", BASIC)
    pd.DataFrame({"image_id": ["a", "a"], "path": ["x.jpg", "y.jpg"]}).to_csv(
        tmp_path / "dup.csv", index=False
    )
    with pytest.raises(CrowdlensError, match="image_id is not unique"):
        moderate(spark, tmp_path / "dup.csv", tmp_path / "o2", BASIC)
    pd.DataFrame({"path": ["x.jpg"], "status": ["ok"]}).to_csv(tmp_path / "clash.csv", index=False)
    with pytest.raises(CrowdlensError, match="crowdlens writes itself: status"):
        moderate(spark, tmp_path / "clash.csv", tmp_path / "o3", BASIC)


def test_existing_output_is_refused_unless_overwrite(spark, awkward_folder, tmp_path):
    out = tmp_path / "out"
    moderate(spark, awkward_folder, out, BASIC)
    with pytest.raises(CrowdlensError, match="--overwrite"):
        moderate(spark, awkward_folder, out, BASIC)
    (awkward_folder / "Banana" / "new.jpg").write_bytes(jpeg())
    moderate(spark, awkward_folder, out, BASIC, overwrite=True)
    assert len(read(out)) == 7
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # no leftovers


def test_failed_job_leaves_no_results(spark, awkward_folder, tmp_path, monkeypatch):
    """A job that dies while writing must not leave a half-written results table."""
    import crowdlens.pipeline as pipeline

    real_finalize = pipeline.finalize

    def exploding(df):
        from pyspark.sql import functions as F

        # Fails on the workers, in the middle of the write.
        boom = F.raise_error(F.lit("simulated executor failure"))
        return real_finalize(df).withColumn(S.ERROR, F.when(F.col(S.STATUS) == "ok", boom))

    monkeypatch.setattr(pipeline, "finalize", exploding)
    out = tmp_path / "out"
    with pytest.raises(Exception, match="simulated executor failure"):
        moderate(spark, awkward_folder, out, BASIC)
    assert not (out / "results.parquet").exists()
    assert not [p for p in out.iterdir() if p.name.startswith(".results")]


def test_sample_is_read_with_duckdb(spark, tmp_path):
    duckdb = pytest.importorskip("duckdb")
    moderate(spark, SAMPLE_PHOTOS, tmp_path / "out", BASIC)
    con = duckdb.connect()
    rows = dict(
        con.execute(
            f"select status, count(*) from '{tmp_path}/out/results.parquet/*.parquet' group by 1"
        ).fetchall()
    )
    assert rows == {"ok": 68, "error": 2}


def test_incremental_run_processes_only_new_photos(spark, awkward_folder, tmp_path):
    out = tmp_path / "out"
    first = moderate(spark, awkward_folder, out, BASIC)
    before = read(out).sort_values(S.IMAGE_ID).reset_index(drop=True)
    assert first.n_processed == 6

    again = moderate(spark, awkward_folder, out, BASIC, incremental=True)
    assert again.n_processed == 0 and again.n_rows == 6
    after = read(out).sort_values(S.IMAGE_ID).reset_index(drop=True)
    pd.testing.assert_frame_equal(before, after)  # running twice changes nothing

    (awkward_folder / "Banana" / "new.jpg").write_bytes(jpeg((1, 2, 3)))
    (awkward_folder / "Banana" / "ok.jpg").write_bytes(jpeg((9, 9, 9), size=(50, 20)))  # changed
    third = moderate(spark, awkward_folder, out, BASIC, incremental=True)
    assert third.n_processed == 2 and third.n_rows == 7
    df = read(out)
    assert df[S.IMAGE_ID].is_unique
    changed = df[df[S.PATH].str.endswith("ok.jpg")].iloc[0]
    assert (changed[S.WIDTH], changed[S.HEIGHT]) == (50, 20)
    kept = df[df[S.PATH].str.endswith("top.jpg")].iloc[0]
    assert kept[S.RUN_ID] == before[before[S.PATH].str.endswith("top.jpg")].iloc[0][S.RUN_ID]


def test_manifest_cannot_make_workers_read_outside_files_or_urls(spark, tmp_path):
    """Parent-escaping paths, file:// and http:// entries: error rows, exit 0, no request."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from crowdlens.cli import main

    requests: list[str] = []

    class Count(BaseHTTPRequestHandler):
        def do_GET(self):
            requests.append(self.path)
            self.send_response(200)
            self.end_headers()
            self.wfile.write(jpeg())

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Count)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/x.jpg"
    batch = tmp_path / "batch"
    batch.mkdir()
    (batch / "ok.jpg").write_bytes(jpeg())
    (tmp_path / "outside.jpg").write_bytes(jpeg())
    escape = "../" * len(batch.parts) + "etc/passwd"
    paths = ["ok.jpg", escape, "../outside.jpg", "file:///etc/passwd", url]
    pd.DataFrame({"path": paths}).to_csv(batch / "m.csv", index=False)
    try:
        args = ["moderate", str(batch / "m.csv"), "--out", str(tmp_path / "out")]
        assert main([*args, "--no-text", "--no-report", "--master", "local[2]"]) == 0
    finally:
        server.shutdown()
    assert requests == []  # the URL was refused before any request was sent
    df = read(tmp_path / "out")
    assert len(df) == len(paths)
    err = df[df[S.STATUS] == "error"].set_index(S.PATH)[S.ERROR]
    assert len(err) == 4 and (df[S.STATUS] == "ok").sum() == 1
    assert all(e.startswith("refused:") for e in err)
    assert all("outside the input's folder" in e and "--allowed-root" in e for e in err.iloc[:3])
    assert "--allow-remote" in err[url]
    assert "/etc/passwd" in err.index  # file:// normalised to a path
    refused = df[df[S.STATUS] == "error"]
    assert refused[S.SHA256].isna().all() and refused[S.FILE_SIZE].isna().all()  # nothing read
    # The opt-outs are explicit: an allowed root covering the outside photo reads it.
    args = ["moderate", str(batch / "m.csv"), "--out", str(tmp_path / "out2")]
    assert main([*args, "--no-text", "--no-report", "--allowed-root", str(tmp_path)]) == 0
    df = read(tmp_path / "out2").set_index(S.PATH)
    assert df.loc[str(batch / "../outside.jpg"), S.STATUS] == "ok"
    assert df[S.STATUS].eq("ok").sum() == 2 and requests == []
