"""The import contract: one namespace, and imports that run one way.

``features <- training -> models <- serving``, the CLI on top, configuration at the bottom:
a module may import its own stage and the layers below it, never above it, and ``serving`` and
``training`` never import each other. The stages live in top-level folders that install as
``vitals.*`` (``package-dir`` in ``pyproject.toml``), so the contract is checked on the source
files themselves, whatever the install mode.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FOLDERS = {
    "vitals.features": ROOT / "features",
    "vitals.training": ROOT / "training",
    "vitals.models": ROOT / "models",
    "vitals.serving": ROOT / "serving",
    "vitals.cli": ROOT / "vitals" / "cli",
    "vitals.config": ROOT / "vitals" / "config",
}
LAYER = {
    "vitals.config": 0,
    "vitals.features": 1,
    "vitals.models": 2,
    "vitals.training": 3,
    "vitals.serving": 3,
    "vitals.cli": 4,
}
FORBIDDEN = {
    "vitals.models": {"mlflow", "optuna", "fastapi", "starlette", "uvicorn"},
    "vitals.features": {"lightgbm", "sklearn", "mlflow", "optuna", "fastapi"},
}
MLFLOW_ADAPTERS = {"vitals.models.mlflow_adapter", "vitals.models.pyfunc_model"}


def _modules() -> Iterator[tuple[str, str, Path]]:
    """(stage, module name, file) for every source file of every stage."""
    for stage, folder in FOLDERS.items():
        for path in sorted(folder.rglob("*.py")):
            parts = path.relative_to(folder).with_suffix("").parts
            name = ".".join((stage, *parts)).removesuffix(".__init__")
            yield stage, name, path


def _imports(path: Path) -> set[str]:
    """Absolute names of every module imported anywhere in the file (functions included)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def _stage_of(module: str) -> str | None:
    return next((s for s in LAYER if module == s or module.startswith(f"{s}.")), None)


def test_every_source_file_belongs_to_a_stage() -> None:
    stray = [p for p in (ROOT / "vitals").glob("*.py") if p.name != "__init__.py"]
    assert not stray, f"modules outside the CLI and config layers: {stray}"
    assert len(list(_modules())) > 50


def _against_the_layers(modules: Iterable[tuple[str, str, Path]]) -> list[str]:
    wrong = []
    for stage, name, path in modules:
        for target in _imports(path):
            other = _stage_of(target)
            if other is None and (target == "vitals" or target.startswith("vitals.")):
                wrong.append(f"{name} -> {target} (not a stage)")
            elif other is not None and other != stage and LAYER[other] >= LAYER[stage]:
                wrong.append(f"{name} -> {target}")
    return sorted(wrong)


def test_imports_run_one_way() -> None:
    wrong = _against_the_layers(_modules())
    assert not wrong, "imports against the layers:\n" + "\n".join(wrong)


@pytest.mark.parametrize("stage", sorted(FORBIDDEN))
def test_stages_stay_off_what_they_must_not_know(stage: str) -> None:
    wrong = []
    for owner, name, path in _modules():
        if owner != stage or name in MLFLOW_ADAPTERS:
            continue
        wrong += [f"{name} -> {t}" for t in _imports(path) if t.split(".")[0] in FORBIDDEN[stage]]
    assert not wrong, "\n".join(sorted(wrong))


def test_the_contract_catches_upward_and_sideways_imports(tmp_path: Path) -> None:
    source = tmp_path / "probe.py"
    source.write_text(
        "import vitals.features.catalog\n"
        "def later():\n    from vitals.serving.api import app\n"
        "from vitals.config.settings import Settings\n"
    )
    assert _against_the_layers([("vitals.models", "vitals.models.probe", source)]) == [
        "vitals.models.probe -> vitals.serving.api"
    ]
    sideways = _against_the_layers([("vitals.training", "vitals.training.probe", source)])
    assert sideways == ["vitals.training.probe -> vitals.serving.api"]
    assert _against_the_layers([("vitals.cli", "vitals.cli.probe", source)]) == []


def test_stages_install_only_under_the_vitals_namespace(tmp_path: Path) -> None:
    def imports(module: str) -> int:
        return subprocess.run(
            [sys.executable, "-c", f"import {module}"], cwd=tmp_path, capture_output=True
        ).returncode

    assert [imports(f"vitals.{s}") for s in ("features", "training", "models", "serving")] == [
        0
    ] * 4
    assert [imports(s) for s in ("features", "training", "models", "serving")] == [1] * 4


def test_the_console_imports_before_the_app() -> None:
    """The app mounts the console, and the console uses the API's dependencies: the console must
    import on its own, first in a process (the app's own order is every other test's)."""
    done = subprocess.run(
        [sys.executable, "-c", "import vitals.serving.console; import vitals.serving.api.app"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
