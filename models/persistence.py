"""Writing a HealthModel's parts to a directory and reading them back; nothing is pickled.

Layout::

    <directory>/manifest.json       everything but the trees (see below)
    <directory>/boosters/<n>.txt    one LightGBM model text file per distinct booster

The manifest holds the format version, the versions of LightGBM and Vitals that wrote it, the
exact feature set the model reads (:class:`~vitals.features.catalog.FeatureSet`: entity and
timestamp columns, typed features, key product features, horizon and grace gap, version), the
profile rules, the default profile, the band weights, training's metadata (training window, model
version, ...) and per profile: its booster file, whether it is pooled, its base rate, band
thresholds, calibrator (as data), the training categories of categorical features, and its risk
piece: the horizon and step boosters' files, their calibrators, the step length and the curve's
recalibrators per horizon. A booster shared by several profiles (the pooled one) is written once.
LightGBM writes thresholds and leaf values with full precision, so a loaded model predicts exactly
as the saved one.

Older formats are still read. Format 2 (before the survival curve) has no risk pieces and no
health span: its one booster per profile gives both health and risk, as it did. Format 1 (before
the feature set was declared) also has its catalog, and the key features, horizon and grace gap
training kept in the metadata, become the feature set.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import Any

import lightgbm as lgb

from vitals.features.catalog import FeatureSet, FeatureSpec, Vocabulary
from vitals.models.calibration import Calibrator
from vitals.models.profiles import ProfileModel, ProfileRule
from vitals.models.scoring import Bands
from vitals.models.survival import RiskPiece

FORMAT = "vitals-health-model"
FORMAT_VERSION = 3
MANIFEST = "manifest.json"


@dataclass(frozen=True)
class SavedModel:
    """Everything a HealthModel is built from.

    Attributes:
        feature_set: the exact features the boosters read, in their order.
        routing: the profile rules, in priority order.
        default_profile: profile of accounts no rule matches.
        band_weights: band weights of the roll-up (``None``: the defaults).
        metadata: training's JSON-able facts.
        pieces: one fitted piece per profile.
        health_span_days: the health score's span (``None`` before the survival curve).
    """

    feature_set: FeatureSet
    routing: list[ProfileRule]
    default_profile: str
    band_weights: dict[str, float] | None
    metadata: dict[str, Any]
    pieces: list[ProfileModel]
    health_span_days: int | None = None


def write_model(directory: str | Path, saved: SavedModel) -> Path:
    """Write a model's parts to ``directory`` (created; must not hold a model already).

    Returns:
        The directory.

    Raises:
        FileExistsError: the directory already holds a manifest.
        TypeError: metadata that JSON cannot hold.
    """
    target = Path(directory)
    if (target / MANIFEST).exists():
        raise FileExistsError(f"{target} already holds a saved model")
    (target / "boosters").mkdir(parents=True, exist_ok=True)
    files: dict[int, str] = {}

    def file_of(booster: lgb.Booster) -> str:
        if id(booster) not in files:
            name = f"boosters/{len(files):02d}.txt"
            booster.save_model(str(target / name))
            files[id(booster)] = name
        return files[id(booster)]

    manifest = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "saved_at": datetime.now(UTC).isoformat(),
        "versions": {"lightgbm": lgb.__version__, "vitals": _vitals_version()},
        "feature_set": saved.feature_set.to_dict(),
        "routing": [rule.to_dict() for rule in saved.routing],
        "default_profile": saved.default_profile,
        "band_weights": saved.band_weights,
        "health_span_days": saved.health_span_days,
        "metadata": saved.metadata,
        "profiles": [
            {
                "name": p.name,
                "booster": file_of(p.booster),
                "pooled": p.pooled,
                "base_rate": p.base_rate,
                "bands": None if p.bands is None else p.bands.to_dict(),
                "calibrator": p.calibrator.to_dict(),
                "categories": {k: list(v) for k, v in (p.categories or {}).items()},
                "risk": None if p.risk is None else _risk_to_dict(p.risk, file_of),
            }
            for p in saved.pieces
        ],
    }
    try:
        text = json.dumps(manifest, indent=2, allow_nan=False)
    except (TypeError, ValueError) as error:
        raise TypeError(f"model metadata must be plain JSON data: {error}") from error
    (target / MANIFEST).write_text(text, encoding="utf-8")
    return target


def read_model(directory: str | Path) -> SavedModel:
    """Read the parts written by :func:`write_model` (format 1, 2 or 3).

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

    def booster_of(name: str) -> lgb.Booster:
        if name not in boosters:
            boosters[name] = lgb.Booster(model_file=str(source / name))
        return boosters[name]

    pieces = []
    for p in manifest["profiles"]:
        risk = p.get("risk")
        pieces.append(
            ProfileModel(
                name=p["name"],
                booster=booster_of(p["booster"]),
                calibrator=Calibrator.from_dict(p["calibrator"]),
                base_rate=p["base_rate"],
                pooled=p["pooled"],
                bands=None if p["bands"] is None else Bands(**p["bands"]),
                categories=p["categories"] or None,
                risk=None if risk is None else _risk_from_dict(risk, booster_of),
            )
        )
    return SavedModel(
        feature_set=_feature_set(manifest, source),
        routing=[ProfileRule.from_dict(r) for r in manifest["routing"]],
        default_profile=manifest["default_profile"],
        band_weights=manifest["band_weights"],
        metadata=manifest["metadata"],
        pieces=pieces,
        health_span_days=manifest.get("health_span_days"),
    )


def _risk_to_dict(risk: RiskPiece, file_of: Callable[[lgb.Booster], str]) -> dict[str, Any]:
    return {
        "booster": file_of(risk.booster),
        "calibrator": risk.calibrator.to_dict(),
        "step_booster": file_of(risk.step_booster),
        "step_calibrator": risk.step_calibrator.to_dict(),
        "step_days": risk.step_days,
        "recalibrators": {str(d): c.to_dict() for d, c in risk.recalibrators.items()},
    }


def _risk_from_dict(data: dict[str, Any], booster_of: Callable[[str], lgb.Booster]) -> RiskPiece:
    return RiskPiece(
        booster=booster_of(data["booster"]),
        calibrator=Calibrator.from_dict(data["calibrator"]),
        step_booster=booster_of(data["step_booster"]),
        step_calibrator=Calibrator.from_dict(data["step_calibrator"]),
        step_days=int(data["step_days"]),
        recalibrators={int(d): Calibrator.from_dict(c) for d, c in data["recalibrators"].items()},
    )


def _feature_set(manifest: dict[str, Any], source: Path) -> FeatureSet:
    if "feature_set" in manifest:
        return FeatureSet.from_dict(manifest["feature_set"])
    metadata = manifest["metadata"]
    if "key_features" not in metadata or "grace_days" not in metadata:
        raise ValueError(
            f"{source} was saved before models recorded their key features and grace gap: "
            "retrain it with this version of Vitals"
        )
    catalog = {s["name"]: FeatureSpec.from_dict(s) for s in manifest["catalog"]}
    return FeatureSet(
        tuple(catalog[name] for name in manifest["features"]),
        Vocabulary(features=tuple(metadata["key_features"])),
        int(manifest["horizon_days"]),
        int(metadata["grace_days"]),
        version=1,
    )


def _vitals_version() -> str | None:
    try:
        return importlib_metadata.version("vitals")
    except importlib_metadata.PackageNotFoundError:
        return None
