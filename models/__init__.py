"""Models stage of Vitals: the HealthModel that training assembles and serving loads."""

from models.calibration import Calibrator
from models.explain import ChangeExplanation, Explanation
from models.frames import InputError
from models.health_model import HealthModel
from models.profiles import ProfileModel
from models.rollup import RollUp, roll_up

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
