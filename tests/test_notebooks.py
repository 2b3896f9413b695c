"""The notebooks in notebooks/ run from top to bottom without an error.

They are executed with nbclient on a kernel that runs this test's own Python (the project venv),
registered in a temporary Jupyter data directory, so it works in a fresh clone where only
`pip install -e '.[dev,browser]'` ran and whatever `python3` kernel a user has installed is
ignored. The demo log the notebooks read is written once into a temporary directory
(`ARENA_DEMO_LOG`), not into the checkout. The notebooks are committed without outputs.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))
KERNEL = "arena-test-venv"


@pytest.fixture(scope="module")
def notebook_env(tmp_path_factory: pytest.TempPathFactory, monkeypatch_module) -> Path:
    """A kernelspec for this Python on JUPYTER_PATH, and the demo log; returns the log path."""
    jupyter = tmp_path_factory.mktemp("jupyter")
    spec_dir = jupyter / "kernels" / KERNEL
    spec_dir.mkdir(parents=True)
    (spec_dir / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "arena (test venv)", "language": "python",
    }))
    monkeypatch_module.setenv("JUPYTER_PATH", str(jupyter))
    log = tmp_path_factory.mktemp("demo") / "battles.jsonl"
    subprocess.run([sys.executable, str(REPO / "examples" / "make_demo_log.py"), "--out",
                    str(log)], check=True, capture_output=True, timeout=300)
    monkeypatch_module.setenv("ARENA_DEMO_LOG", str(log))
    return log


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as patch:
        yield patch


def test_there_are_notebooks_and_they_are_committed_without_outputs():
    assert {p.name for p in NOTEBOOKS} >= {"leaderboard.ipynb", "bias.ipynb", "judge.ipynb"}
    for path in NOTEBOOKS:
        notebook = nbformat.read(path, as_version=4)
        leftovers = [i for i, c in enumerate(notebook.cells)
                     if c.cell_type == "code" and (c.outputs or c.execution_count)]
        assert not leftovers, f"{path.name}: cells {leftovers} have outputs; clear them"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs_without_errors(path: Path, notebook_env: Path):
    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(notebook, kernel_name=KERNEL, timeout=300,
                            resources={"metadata": {"path": str(path.parent)}})
    client.execute()  # raises CellExecutionError naming the cell on any error
    outputs = [o for c in notebook.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    assert any("image/png" in o.get("data", {}) for o in outputs), f"{path.name} drew nothing"
    blank = [i for i, c in enumerate(notebook.cells) if c.cell_type == "code"
             and "plt.show()" in c.source
             and not any("image/png" in o.get("data", {}) for o in c.outputs)]
    assert not blank, f"{path.name}: cells {blank} call plt.show() but show no figure"
