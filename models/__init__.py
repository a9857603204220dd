"""Models stage of Vitals: the HealthModel that training assembles and serving loads."""

from vitals.models.calibration import Calibrator
from vitals.models.explain import ChangeExplanation, Explanation
from vitals.models.frames import InputError
from vitals.models.health_model import HealthModel
from vitals.models.profiles import ProfileModel
from vitals.models.rollup import RollUp, roll_up

__all__ = [
    "Calibrator",
    "ChangeExplanation",
    "Explanation",
    "HealthModel",
    "InputError",
    "ProfileModel",
    "RollUp",
    "roll_up",
]
