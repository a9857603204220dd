"""The data-scientist notebooks run from top to bottom, and are committed without outputs.

Each notebook is executed with nbclient in a kernel of this interpreter (the venv's python with
its ipykernel, whatever other kernels are installed; nothing is registered), from an empty
working directory, with an IPython profile folder of its own (unless ``IPYTHONDIR`` is set), so
that no startup script or configuration of the user's profile runs and nothing is written to
``~/.ipython``. A notebook simulates its own data in a temporary folder of its own, points
MLflow there, and removes it when the kernel stops: the working directory stays empty and the
folder is gone afterwards. Cells are found by their tags (``metadata.tags``) and their outputs
checked for what the notebook is there to show.

The notebooks use only the public Python API: every import of Vitals in a code cell is
``from vitals import <name>`` with ``<name>`` in ``vitals.__all__`` (checked on the cells'
source, without running them).
"""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from IPython.core.inputtransformer2 import TransformerManager
from jupyter_client.kernelspec import KernelSpec, KernelSpecManager
from jupyter_client.manager import AsyncKernelManager
from nbclient import NotebookClient
from traitlets import default

import vitals

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
CELL_TIMEOUT = 120  # seconds, per cell
MODELS = ("vitals", "rules", "logistic", "pooled")
TABLES = ("accounts", "subscriptions", "events", "tickets", "surveys", "sentiment")


class ThisPythonSpecs(KernelSpecManager):
    """Every kernel name starts ``sys.executable -m ipykernel_launcher``: the interpreter running
    the tests, with the packages of its environment, not a ``python3`` kernel found elsewhere."""

    def get_kernel_spec(self, kernel_name: str) -> KernelSpec:
        return KernelSpec(
            argv=[sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
            display_name=f"Python ({sys.executable})",
            language="python",
            name=kernel_name,
        )


class ThisPythonKernel(AsyncKernelManager):
    """nbclient's kernel manager, with the specs above (nbclient still owns and stops it)."""

    @default("kernel_spec_manager")
    def _this_python(self) -> KernelSpecManager:
        return ThisPythonSpecs()


def execute(name: str, tmp_path: Path) -> tuple[nbformat.NotebookNode, Path]:
    """Run a notebook in a fresh kernel, then stop the kernel; raise on the first cell error.

    Returns:
        The executed notebook, and the kernel's working directory (empty when it started).
    """
    notebook = nbformat.read(NOTEBOOKS / name, as_version=4)
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    env = {**os.environ, "IPYTHONDIR": os.environ.get("IPYTHONDIR") or str(tmp_path / "ipython")}
    client = NotebookClient(
        notebook,
        kernel_name="python3",
        kernel_manager_class=ThisPythonKernel,
        timeout=CELL_TIMEOUT,
        resources={"metadata": {"path": str(cwd)}},
    )
    client.execute(env=env)  # raises CellExecutionError naming the cell that failed
    return notebook, cwd


def outputs(notebook: nbformat.NotebookNode, tag: str) -> list[dict]:
    """Outputs of the code cell tagged ``tag`` (exactly one cell carries each tag)."""
    cells = [c for c in notebook.cells if tag in c.get("metadata", {}).get("tags", [])]
    assert len(cells) == 1, f"{len(cells)} cells tagged {tag!r}"
    assert cells[0].cell_type == "code"
    return cells[0].outputs


def text(notebook: nbformat.NotebookNode, tag: str) -> str:
    """Everything the tagged cell printed or displayed as text (streams, plain text, HTML)."""
    parts = []
    for output in outputs(notebook, tag):
        if output["output_type"] == "stream":
            parts.append(output["text"])
        for kind in ("text/plain", "text/html", "text/markdown"):
            parts.append(output.get("data", {}).get(kind, ""))
    return "\n".join(parts)


def images(notebook: nbformat.NotebookNode, tag: str) -> int:
    """How many PNG images the tagged cell displayed."""
    return sum("image/png" in o.get("data", {}) for o in outputs(notebook, tag))


def workspace(notebook: nbformat.NotebookNode) -> Path:
    """The temporary folder the notebook printed in its first code cell."""
    first = next(c for c in notebook.cells if c.cell_type == "code")
    printed = "".join(o.get("text", "") for o in first.outputs)
    found = re.search(r"working in (\S+)", printed)
    assert found, f"the first code cell should print its working folder, printed {printed!r}"
    return Path(found.group(1))


def check_left_nothing(notebook: nbformat.NotebookNode, cwd: Path) -> None:
    assert list(cwd.iterdir()) == [], "the notebook wrote into the working directory"
    assert not workspace(notebook).exists(), "the temporary folder outlived the kernel"


def test_explore_data(tmp_path: Path) -> None:
    notebook, cwd = execute("01_explore_data.ipynb", tmp_path)

    tables = text(notebook, "tables")
    for table in TABLES:
        assert table in tables
    assert "customers" in text(notebook, "churn-by-month")
    assert "monthly_churn_rate" in text(notebook, "churn-by-month")
    assert "churned_within_horizon" in text(notebook, "snapshots")
    assert "Product usage" in text(notebook, "catalog")
    for tag in ("customers", "churn-plots", "distributions", "deciles"):
        assert images(notebook, tag) >= 1, f"cell {tag!r} drew nothing"
    assert "decile" in text(notebook, "deciles")
    check_left_nothing(notebook, cwd)


@pytest.mark.slow  # two training runs: about 40 s on two cores
def test_train_and_compare(tmp_path: Path) -> None:
    notebook, cwd = execute("02_train_and_compare.ipynb", tmp_path)

    store = re.search(r"MLflow store: sqlite:///(\S+)", text(notebook, "setup"))
    assert store and Path(store.group(1)).is_relative_to(workspace(notebook))
    report = text(notebook, "report-metrics")
    side_by_side = text(notebook, "mlflow-side-by-side")
    for model in MODELS:
        assert model in report, f"{model} missing from the report's metrics"
        assert model in side_by_side, f"{model} missing from the MLflow comparison"
    assert "trials=0" in side_by_side and "trials=3" in side_by_side
    assert "auc" in side_by_side and "brier" in side_by_side
    runs = text(notebook, "mlflow-runs")
    assert runs.count("FINISHED") >= 2, "both training runs should be read back from MLflow"
    assert "pooled-trial-" in text(notebook, "mlflow-trials")
    assert images(notebook, "plots") == 3
    model = text(notebook, "mlflow-model")
    assert "stored report equals the run's: True" in model
    assert images(notebook, "mlflow-model") == 1
    check_left_nothing(notebook, cwd)


def test_explain_account_and_parent(tmp_path: Path) -> None:
    notebook, cwd = execute("03_explain_account_and_parent.ipynb", tmp_path)

    assert "health_points" in text(notebook, "account-reasons")
    assert images(notebook, "account-reasons") == 1
    assert images(notebook, "account-risk") == 1
    # the reasons for a change add up to it, for the account and for the parent
    change = re.search(
        r"score change ([+-][\d.]+); the contributions add up to ([+-][\d.]+)",
        text(notebook, "change-reasons"),
    )
    assert change, "the account's change and the sum of its contributions are printed"
    assert change.group(1) == change.group(2)
    parent = re.search(
        r"\(([+-][\d.]+)\); the children's effects add up to ([+-][\d.]+)",
        text(notebook, "parent-change"),
    )
    assert parent, "the parent's change and the sum of its children's effects are printed"
    assert parent.group(1) == parent.group(2)
    assert "band_moved" in text(notebook, "parent-change")
    rollup = text(notebook, "parent-rollup")
    assert "count" in rollup and "contract_value" in rollup and "share_good" in rollup
    assert "health_points_lost" in text(notebook, "parent-reasons")
    check_left_nothing(notebook, cwd)


def test_every_notebook_is_run_here() -> None:
    assert sorted(p.name for p in NOTEBOOKS.glob("*.ipynb")) == [
        "01_explore_data.ipynb",
        "02_train_and_compare.ipynb",
        "03_explain_account_and_parent.ipynb",
    ]


@pytest.mark.parametrize("path", sorted(NOTEBOOKS.glob("*.ipynb")), ids=lambda p: p.name)
def test_committed_without_outputs(path: Path) -> None:
    notebook = nbformat.read(path, as_version=4)
    nbformat.validate(notebook)
    for index, cell in enumerate(notebook.cells):
        if cell.cell_type != "code":
            continue
        assert cell.outputs == [], f"cell {index} of {path.name} has outputs"
        assert cell.execution_count is None, f"cell {index} of {path.name} has an execution count"
        assert "execution" not in cell.metadata, f"cell {index} of {path.name} has run timings"


def off_the_api(source: str) -> list[str]:
    """The imports of Vitals in ``source`` (a cell, magics allowed) that bypass ``vitals``'s API:
    a submodule (``import vitals.x``, ``from vitals.x import y``) or a name not in ``__all__``."""
    tree = ast.parse(TransformerManager().transform_cell(source))
    wrong = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            wrong += [f"import {a.name}" for a in node.names if a.name.startswith("vitals.")]
        elif isinstance(node, ast.ImportFrom) and node.module:
            if node.module.startswith("vitals."):
                wrong.append(f"from {node.module} import ...")
            elif node.module == "vitals":
                names = [a.name for a in node.names if a.name not in vitals.__all__]
                wrong += [f"from vitals import {name} (not in vitals.__all__)" for name in names]
    return wrong


@pytest.mark.parametrize("path", sorted(NOTEBOOKS.glob("*.ipynb")), ids=lambda p: p.name)
def test_notebooks_use_only_the_public_api(path: Path) -> None:
    notebook = nbformat.read(path, as_version=4)
    wrong = [
        f"{path.name}, cell {index} ({cell.get('id')}): {found}"
        for index, cell in enumerate(notebook.cells)
        if cell.cell_type == "code"
        for found in off_the_api(cell.source)
    ]
    assert not wrong, "imports beside the public API:\n" + "\n".join(wrong)
    assert any("from vitals import" in cell.source for cell in notebook.cells), (
        f"{path.name} imports nothing from vitals"
    )


def test_the_api_check_catches_deep_imports() -> None:
    source = (
        "%matplotlib inline\n"
        "import vitals\n"
        "import vitals.features.build\n"
        "from vitals import simulate, Dataset\n"
        "def later():\n    from vitals.serving.batch.plan import data_span\n"
    )
    assert off_the_api(source) == [
        "import vitals.features.build",
        "from vitals import Dataset (not in vitals.__all__)",
        "from vitals.serving.batch.plan import ...",
    ]


def test_every_public_name_resolves() -> None:
    assert len(set(vitals.__all__)) == len(vitals.__all__)
    for name in vitals.__all__:
        assert getattr(vitals, name) is not None, name
    assert set(vitals.__all__) <= set(dir(vitals))
    with pytest.raises(AttributeError, match="module 'vitals' has no attribute 'no_such_name'"):
        _ = vitals.no_such_name


def test_type_checkers_see_the_same_names() -> None:
    """The ``if TYPE_CHECKING:`` imports of ``vitals/__init__.py`` are exactly its exports."""
    tree = ast.parse(Path(vitals.__file__).read_text(encoding="utf-8"))
    block = next(
        n for n in tree.body if isinstance(n, ast.If) and ast.unparse(n.test) == "TYPE_CHECKING"
    )
    imported = {
        alias.name: f"{node.module}:{alias.name}"
        for node in block.body
        if isinstance(node, ast.ImportFrom)
        for alias in node.names
    }
    assert imported == {name: vitals._EXPORTS[name] for name in vitals.__all__}


def test_importing_vitals_stays_cheap(tmp_path: Path) -> None:
    heavy = ("pandas", "numpy", "lightgbm", "mlflow", "duckdb")
    probe = f"import sys, vitals; print([m for m in {heavy!r} if m in sys.modules])"
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=tmp_path, capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "[]"
