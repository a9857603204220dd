"""The packages pyproject.toml lists are every package in the source tree (a wheel has them all)."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_every_source_package_is_listed_for_the_wheel() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(config["packages"])
    folders = config["package-dir"]  # package name -> its folder
    found = {
        ".".join((package, *init.parent.relative_to(ROOT / folder).parts))
        for package, folder in folders.items()
        for init in (ROOT / folder).rglob("__init__.py")
    }
    assert found - listed == set(), "packages missing from pyproject.toml's [tool.setuptools]"
    assert listed - found == set(), "pyproject.toml lists packages that do not exist"
