"""examples/quickstart.ipynb runs from top to bottom (nbclient, a real kernel)."""

from __future__ import annotations

from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

NOTEBOOK = Path(__file__).resolve().parents[1] / "examples" / "quickstart.ipynb"


def test_quickstart_notebook_executes(tmp_path, monkeypatch):
    import nbformat
    from nbclient import NotebookClient

    out = tmp_path / "quickstart-out"
    # The kernel inherits this environment: the notebook writes under tmp_path.
    monkeypatch.setenv("CROWDLENS_QUICKSTART_OUT", str(out))
    monkeypatch.setenv("SPARK_LOCAL_IP", "127.0.0.1")
    nb = nbformat.read(NOTEBOOK, as_version=4)
    client = NotebookClient(
        nb,
        timeout=600,
        kernel_name="python3",
        resources={"metadata": {"path": str(NOTEBOOK.parent)}},
    )
    client.execute()  # raises CellExecutionError with the cell's traceback

    errors = [o for c in nb.cells for o in c.get("outputs", []) if o.output_type == "error"]
    assert not errors
    # It trained a bundle, moderated every sample file and drew the report's plots.
    assert (out / "model" / "bundle.json").is_file()
    assert (out / "run" / "report.html").is_file()
    texts = "".join(
        o.get("text", "") + str(o.get("data", {}).get("text/plain", ""))
        for c in nb.cells
        for o in c.get("outputs", [])
    )
    n_files = sum(1 for p in (NOTEBOOK.parent / "sample" / "photos").rglob("*") if p.is_file())
    assert f"{n_files} rows" in texts
    images = [o for c in nb.cells for o in c.get("outputs", []) if "image/png" in o.get("data", {})]
    assert len(images) >= 2  # the loss curve and the decisions bar chart
    assert "0 plots in the report" not in texts
