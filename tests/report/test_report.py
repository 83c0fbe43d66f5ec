"""The HTML report: content from a realistic results table, escaping, and a real browser."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

from crowdlens import schema as S
from crowdlens.errors import ConfigError
from crowdlens.report import ReportConfig, thresholds_from, write_report
from crowdlens.report.draw import draw_polygons

XSS_TEXT = "<script>alert(1)</script>"
XSS_LABEL = "<img src=x onerror=alert(2)>"


def _browser():
    path = Path(__file__).resolve().parents[1] / "review" / "browser.py"
    spec = importlib.util.spec_from_file_location("crowdlens_test_browser", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def report(results_dir) -> tuple[Path, str]:
    from crowdlens.quality.config import QualityConfig

    out = write_report(
        results_dir / "results.parquet",
        results_dir / "report.html",
        quality=QualityConfig(sharpness_min=33.0),
    )
    return out, out.read_text(encoding="utf-8")


def test_report_sections_come_from_the_columns(report):
    _, html = report
    for heading in (
        "Summary",
        "Label validation",
        "Quality",
        "By country",
        "By contributor",
        "Examples",
        "Unreadable photos (1)",
    ):
        assert heading in html
    assert "label mismatch" in html and "quality: blurry" in html
    # Per-item figures (issue 12): the table of items most often confused.
    assert "Per item: agreement, suspects, mismatches" in html
    assert "truncated JPEG: the upload was cut off" in html
    # Self-contained: every image inline, nothing fetched.
    srcs = re.findall(r'src="([^"]*)"', html)
    assert srcs and all(s.startswith("data:image/") for s in srcs)
    assert "http://" not in html and "https://" not in html


def test_report_escapes_photo_strings(report):
    _, html = report
    assert XSS_TEXT not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert XSS_LABEL not in html and "&lt;img src=x onerror=alert(2)&gt;" in html


def test_missing_columns_are_skipped(tmp_path):
    import pandas as pd

    pq = tmp_path / "results.parquet"
    pd.DataFrame({S.IMAGE_ID: ["a", "b"], S.STATUS: ["ok", "ok"]}).to_parquet(pq)
    html = write_report(pq, tmp_path / "r.html").read_text()
    assert "Summary" in html and "Label validation" not in html and "By country" not in html


def test_unreadable_photos_are_named_by_id_without_their_paths(tmp_path):
    """A shared report must not carry the folders (and names) in the photo paths:
    the unreadable photos are listed by image id, and the errors and reasons
    that quote a path (read and decode errors do) show ``[path]`` instead."""
    import pandas as pd

    from crowdlens.io.confine import make_policy
    from crowdlens.io.read import read_file
    from crowdlens.report.redact import PATH_MASK

    folder = tmp_path / "uploads" / "Maria Garcia <b>"  # a blank and markup in the path
    folder.mkdir(parents=True)
    missing = str(folder / "IMG 0042.jpg")
    outside = str(tmp_path / "elsewhere" / "ana.lopez" / "x.jpg")
    # The reasons the read stage really gives for these two paths.
    policy = make_policy((), False, True, str(tmp_path / "uploads"))
    errors = [read_file(missing, 100, policy)[1], read_file(outside, 100, policy)[1]]
    assert "Maria Garcia" in errors[0] and "ana.lopez" in errors[1]
    df = pd.DataFrame(
        {
            S.IMAGE_ID: ["id-missing", "id-outside", "id-markup", "id-ok"],
            S.PATH: [missing, outside, str(folder / "m.jpg"), str(folder / "fine.jpg")],
            S.STATUS: [S.STATUS_ERROR] * 3 + [S.STATUS_OK],
            S.ERROR: [*errors, "corrupt JPEG image data (<script>alert(3)</script>)", None],
            S.DECISION: [S.DECISION_REJECT] * 3 + [S.DECISION_ACCEPT],
            S.REASONS: [[f"decode error: {e}"] for e in errors] + [["decode error: corrupt"], []],
        }
    )
    pq = tmp_path / "results.parquet"
    df.to_parquet(pq)
    html = write_report(pq, tmp_path / "r.html").read_text(encoding="utf-8")
    section = html[html.index('id="errors"') :]
    for name in ("Maria Garcia", "ana.lopez", "uploads", "elsewhere", str(tmp_path)):
        assert name not in html, name
    assert section.count("<tr><td>id-") == 3 and "id-ok" not in section
    assert "<td>id-markup</td><td>corrupt JPEG image data (&lt;script&gt;" in section
    assert "<script>" not in html
    assert f"<td>id-missing</td><td>file not found: {PATH_MASK} (check the path" in section
    assert f"<td>id-outside</td><td>refused: {PATH_MASK} resolves to {PATH_MASK}, outside" in html
    # The summary's reasons quote the same errors, masked the same way.
    assert f"decode error: file not found: {PATH_MASK}" in html


def test_report_temp_name_is_unique_and_left_nowhere(tmp_path):
    # The report once wrote to a fixed "<name>.tmp": a second writer, or a
    # leftover folder of that name, broke it. Its temp name is unique now.
    import pandas as pd

    pq = tmp_path / "results.parquet"
    pd.DataFrame({S.IMAGE_ID: ["a"], S.STATUS: ["ok"]}).to_parquet(pq)
    (tmp_path / "r.html.tmp").mkdir()  # what the old fixed name would collide with
    out = write_report(pq, tmp_path / "r.html")
    assert "Summary" in out.read_text(encoding="utf-8")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.html", "r.html.tmp", "results.parquet"]


def test_thresholds_from_quality_config():
    from crowdlens.quality.config import QualityConfig

    t = thresholds_from(QualityConfig(sharpness_min=12.0, contrast_min=None))
    assert t[S.SHARPNESS] == [12.0]
    assert sorted(t[S.BRIGHTNESS]) == sorted(
        [QualityConfig().brightness_min, QualityConfig().brightness_max]
    )
    assert S.CONTRAST not in t
    assert t[S.BLUR_EXTENT] == [QualityConfig().blur_extent_max]  # the blur flag's measure


def test_config_message():
    with pytest.raises(ConfigError, match="'thumbnail_px' parameter of ReportConfig"):
        ReportConfig(thumbnail_px=5)


def test_polygons_are_drawn_scaled():
    from PIL import Image

    im = Image.new("RGB", (100, 50), "white")
    regions = [{"polygon": [[0, 0], [198, 0], [198, 98], [0, 98]], "pii_types": ["PERSON"]}]
    out = draw_polygons(im, regions, source_size=(200, 100))
    assert im.getpixel((0, 0)) == (255, 255, 255)  # the input is untouched
    assert out.getpixel((50, 0))[0] > 200 and out.getpixel((50, 0))[1] < 80  # red outline
    assert out.getpixel((50, 25)) == (255, 255, 255)


def test_report_renders_in_chromium(report, tmp_path):
    path, _ = report
    browser = _browser()
    with browser.chromium(tmp_path / "profile") as ctx:
        page = ctx.new_page()
        dialogs: list[str] = []
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        page.goto(path.as_uri())
        assert page.locator("h1").inner_text() == "crowdlens moderation report"
        # Every inline image decoded (a broken data URI has naturalWidth 0).
        widths = page.eval_on_selector_all("img", "els => els.map(e => e.naturalWidth)")
        assert widths and min(widths) > 0
        assert page.get_by_text(XSS_TEXT, exact=False).count() >= 1  # shown as text
        shot = tmp_path / "report.png"
        page.screenshot(path=str(shot), full_page=True)
        assert shot.stat().st_size > 10_000
        assert dialogs == []  # no script from the photos ran


def test_report_masks_personal_text(report):
    _, html = report
    assert "0712 345 678" not in html  # the factory's phone region: PII, text withheld
    assert "[PHONE_NUMBER]" in html


def test_examples_show_released_copies_or_say_why(tmp_path):
    """Never the original: every photo without a usable released copy gets a reason."""
    from PIL import Image

    from crowdlens.report import examples as E

    original = tmp_path / "photos" / "a.jpg"
    original.parent.mkdir()
    Image.new("RGB", (64, 48), "red").save(original)
    (tmp_path / "redacted").mkdir()
    Image.new("RGB", (64, 48), "blue").save(tmp_path / "redacted" / "a.jpg")
    (tmp_path / "redacted" / "broken.jpg").write_bytes(b"not a jpeg")
    ok = {S.STATUS: "ok", S.PATH: str(original), S.REDACTED_PATH: "redacted/a.jpg"}
    cases = {
        E.NOT_DECODED: {**ok, S.STATUS: "error"},
        E.WITHHELD: {**ok, S.RELEASE_VERIFIED: False},
        E.TEXT_FAILED: {**ok, S.REDACTED_PATH: None, S.TEXT_ERROR: "text stage failed: x"},
        E.TEXT_OFF: {**ok, S.REDACTED_PATH: None},
        E.FILE_MISSING: {**ok, S.REDACTED_PATH: "redacted/gone.jpg"},
        E.UNREADABLE: {**ok, S.REDACTED_PATH: "redacted/broken.jpg"},
    }
    for why, row in cases.items():
        assert E.thumbnail(row, tmp_path, 64) == (None, why), why
        ex = E.example(row, tmp_path, 64)
        assert ex["src"] is None and ex["missing"] == why
    src, why = E.thumbnail({**ok, S.RELEASE_VERIFIED: True}, tmp_path, 64)
    assert why == "" and src.startswith("data:image/jpeg;base64,")
    assert _pixel(src)[2] > 200 and _pixel(src)[0] < 60  # blue: the released copy, not red
    # Relative to the results folder, never to the working directory.
    assert E.released_copy(ok, tmp_path / "elsewhere")[1] == E.FILE_MISSING


def _pixel(data_uri: str) -> tuple[int, int, int]:
    import base64
    import io

    from PIL import Image

    raw = base64.b64decode(data_uri.split(",", 1)[1])
    with Image.open(io.BytesIO(raw)) as im:
        return im.convert("RGB").getpixel((im.width // 2, im.height // 2))


def test_masked_text_keeps_ordinary_text_only():
    from crowdlens.report.examples import masked_text

    regions = [
        {"text": "Maria Garcia", "pii_types": ["PERSON"]},
        {"text": "tel 7700 900123", "pii_types": ["PHONE_NUMBER", "PERSON"]},
        {"text": "3.45", "pii_types": []},
        {"text": None, "pii_types": []},
    ]
    assert masked_text(regions) == "[PERSON] | [PHONE_NUMBER, PERSON] | 3.45"
    assert masked_text(None) == ""
