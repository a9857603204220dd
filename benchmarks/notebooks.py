"""The data-scientist notebooks: how long each takes to run from top to bottom.

Target (issue 22): each notebook runs on its small simulated data in under 2 minutes. Each one
is executed with nbclient in a kernel of this interpreter (``python3``, which jupyter_client
starts with ``sys.executable``), from an empty temporary working
directory (a notebook simulates its data and keeps its MLflow store in a temporary folder of its
own), and timed from the kernel's start to the last cell's end.

    python benchmarks/notebooks.py [--output PATH]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from rich.console import Console
from rich.table import Table

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
RESULTS = Path(__file__).parent / "results"
LIMIT_S = 120.0


def run(path: Path) -> dict[str, object]:
    """Execute one notebook in an empty folder; its seconds and code cells."""
    notebook = nbformat.read(path, as_version=4)
    with tempfile.TemporaryDirectory(prefix="vitals-notebook-") as folder:
        client = NotebookClient(
            notebook,
            timeout=600,
            kernel_name="python3",  # jupyter_client starts it with this interpreter
            resources={"metadata": {"path": folder}},
        )
        started = time.perf_counter()
        client.execute()
        seconds = time.perf_counter() - started
    cells = sum(cell.cell_type == "code" for cell in notebook.cells)
    return {"notebook": path.name, "seconds": seconds, "code_cells": cells}


def main() -> None:
    """Run every notebook, print the table and the PASS/FAIL lines, write the JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=RESULTS / "notebooks.json")
    args = parser.parse_args()
    console = Console()
    results = [run(path) for path in sorted(NOTEBOOKS.glob("*.ipynb"))]
    table = Table(title="notebooks, run from top to bottom")
    for column in ("notebook", "code cells", "seconds"):
        table.add_column(column, justify="left" if column == "notebook" else "right")
    for result in results:
        table.add_row(result["notebook"], str(result["code_cells"]), f"{result['seconds']:.1f}")
    console.print(table)
    for result in results:
        verdict = "PASS" if result["seconds"] < LIMIT_S else "FAIL"
        console.print(f"{verdict}  {result['notebook']} under {LIMIT_S:.0f} s")
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps({"limit_s": LIMIT_S, "notebooks": results}, indent=2))
    console.print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
