"""Saving a HealthModel to a directory and reading it back; nothing is pickled.

Layout::

    <directory>/manifest.json       everything but the trees (see below)
    <directory>/boosters/<n>.txt    one LightGBM model text file per distinct booster

The manifest holds the format version, the versions of LightGBM and Vitals that wrote it, the
feature list, the feature catalog, the routing rules (the settings' profiles), the default
profile, the band weights, the horizon, training's metadata (training window, model version, ...)
and per profile: its booster file, whether it is pooled, its base rate, band thresholds,
calibrator (as data) and the training categories of categorical features. A booster shared by
several profiles (the pooled one) is written once. LightGBM writes thresholds and leaf values
with full precision, so a loaded model predicts exactly as the saved one.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from importlib import metadata as importlib_metadata
from pathlib import Path

import lightgbm as lgb
from sklearn.exceptions import NotFittedError

from features.catalog import FeatureSpec
from models.calibration import Calibrator
from models.health_model import HealthModel
from models.profiles import ProfileModel
from vitals.config.settings import BandThresholds, ProfileConfig

FORMAT = "vitals-health-model"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"


def save_model(model: HealthModel, directory: str | Path) -> Path:
    """Write a fitted model to ``directory`` (created; must not hold a model already).

    Args:
        model: a fitted :class:`HealthModel`.
        directory: target directory.

    Returns:
        The directory.

    Raises:
        FileExistsError: the directory already holds a manifest.
        TypeError: metadata that JSON cannot hold.
    """
    target = Path(directory)
    if (target / MANIFEST).exists():
        raise FileExistsError(f"{target} already holds a saved model")
    if not hasattr(model, "profiles_"):
        raise NotFittedError("only a fitted HealthModel can be saved")
    pieces = [p.piece for p in model.profiles_.values()]
    (target / "boosters").mkdir(parents=True, exist_ok=True)
    files: dict[int, str] = {}
    for piece in pieces:
        if id(piece.booster) not in files:
            name = f"boosters/{len(files):02d}.txt"
            piece.booster.save_model(str(target / name))
            files[id(piece.booster)] = name
    manifest = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "saved_at": datetime.now(UTC).isoformat(),
        "versions": {"lightgbm": lgb.__version__, "vitals": _vitals_version()},
        "features": model.feature_names_,
        "catalog": [spec.to_dict() for spec in model.catalog],
        "routing": [rule.model_dump(mode="json") for rule in model.routing],
        "default_profile": model.default_profile,
        "band_weights": None if model.band_weights is None else dict(model.band_weights),
        "horizon_days": model.horizon_days,
        "metadata": model.metadata_,
        "profiles": [
            {
                "name": p.name,
                "booster": files[id(p.booster)],
                "pooled": p.pooled,
                "base_rate": p.base_rate,
                "bands": None if p.bands is None else p.bands.model_dump(),
                "calibrator": p.calibrator.to_dict(),
                "categories": {k: list(v) for k, v in (p.categories or {}).items()},
            }
            for p in pieces
        ],
    }
    try:
        text = json.dumps(manifest, indent=2, allow_nan=False)
    except (TypeError, ValueError) as error:
        raise TypeError(f"model metadata must be plain JSON data: {error}") from error
    (target / MANIFEST).write_text(text, encoding="utf-8")
    return target


def load_model(directory: str | Path) -> HealthModel:
    """Read a model written by :func:`save_model`.

    Args:
        directory: the model directory.

    Returns:
        The fitted :class:`HealthModel`.

    Raises:
        ValueError: not a Vitals model directory, or a newer format version.
    """
    source = Path(directory)
    manifest = json.loads((source / MANIFEST).read_text(encoding="utf-8"))
    if manifest.get("format") != FORMAT:
        raise ValueError(f"{source} does not hold a Vitals health model")
    if manifest["format_version"] > FORMAT_VERSION:
        raise ValueError(
            f"{source} has model format {manifest['format_version']}; this code reads up to "
            f"{FORMAT_VERSION}"
        )
    boosters: dict[str, lgb.Booster] = {}
    pieces = []
    for p in manifest["profiles"]:
        if p["booster"] not in boosters:
            boosters[p["booster"]] = lgb.Booster(model_file=str(source / p["booster"]))
        pieces.append(
            ProfileModel(
                name=p["name"],
                booster=boosters[p["booster"]],
                calibrator=Calibrator.from_dict(p["calibrator"]),
                base_rate=p["base_rate"],
                pooled=p["pooled"],
                bands=None if p["bands"] is None else BandThresholds(**p["bands"]),
                categories=p["categories"] or None,
            )
        )
    model = HealthModel(
        catalog=[FeatureSpec.from_dict(s) for s in manifest["catalog"]],
        routing=[ProfileConfig(**r) for r in manifest["routing"]],
        default_profile=manifest["default_profile"],
        band_weights=manifest["band_weights"],
        horizon_days=manifest["horizon_days"],
    ).fit(pieces, metadata=manifest["metadata"])
    if model.feature_names_ != manifest["features"]:
        raise ValueError(f"{source}: booster features differ from the manifest's feature list")
    return model


def _vitals_version() -> str | None:
    try:
        return importlib_metadata.version("vitals")
    except importlib_metadata.PackageNotFoundError:
        return None
