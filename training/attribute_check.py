"""Account attributes earn their place on the validation window, or training leaves them out.

An extra account column with many levels (a country, a plan name, an industry) lets categorical
splits sort its levels by the training labels and buy accuracy by memorising: on the
third-party socialnet7 data a 26-level ``country`` has ten times the split gain of a shuffled copy
of itself in the training window, yet costs about 0.02 AUC out of time. Each categorical
attribute is therefore checked once: a pooled booster without it is fitted with the same
parameters and early stopping, and when its validation AUC (the calibration window, later than
every training row) is at least that of the booster with every attribute, the attribute is left
out. The segment is exempt: health profiles route on it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from vitals.config.settings import TrainingSettings
from vitals.models.frames import SEGMENT
from vitals.training.data import design_matrix, labels
from vitals.training.fit import Sample, fit_booster
from vitals.training.splits import TimeSplit


@dataclass(frozen=True)
class AttributeCheck:
    """What the check kept and left out.

    Attributes:
        features: the features to train on, in order.
        dropped: the attributes left out.
        report: per checked attribute, the validation AUC with every attribute and without it.
    """

    features: list[str]
    dropped: list[str]
    report: dict[str, dict[str, float]]


def check_attributes(
    split: TimeSplit,
    features: list[str],
    categories: Mapping[str, Sequence[str]],
    params: Mapping[str, object],
    config: TrainingSettings,
) -> AttributeCheck:
    """Leave out each attribute whose removal does not lower the validation AUC.

    Args:
        split: the time split (training rows; the calibration window validates).
        features: the candidate features, in order.
        categories: training levels of each categorical feature (the attributes and segment).
        params: LightGBM parameters of the pooled booster.
        config: ``check_attributes`` (off: nothing is checked), boosting rounds and early
            stopping.
    """
    candidates = [n for n in categories if n != SEGMENT] if config.check_attributes else []
    if not candidates:
        return AttributeCheck(list(features), [], {})
    train, later = split.train, split.calibration
    train = Sample(design_matrix(train, features, categories), labels(train))
    valid = Sample(design_matrix(later, features, categories), labels(later))

    def auc(columns: list[str]) -> float:
        fitted = fit_booster(
            params,
            Sample(train.X[columns], train.y),
            Sample(valid.X[columns], valid.y),
            num_boost_round=config.num_boost_round,
            early_stopping_rounds=config.early_stopping_rounds,
        )
        return fitted.best_score

    everything = auc(list(features))
    report, dropped = {}, []
    for name in candidates:
        without = auc([f for f in features if f != name])
        report[name] = {"validation_auc_with": everything, "validation_auc_without": without}
        if without >= everything:
            dropped.append(name)
    kept = [f for f in features if f not in dropped]
    return AttributeCheck(kept, dropped, report)
