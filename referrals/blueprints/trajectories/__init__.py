from flask import Blueprint

bp = Blueprint("trajectories", __name__)

from referrals.blueprints.trajectories import (  # noqa: E402, F401
    closing,
    plan,
    questionnaires,
    session_corrections,
    training_sessions,
    views,
)
