from flask import Blueprint

bp = Blueprint("trajectories", __name__)

from referrals.blueprints.trajectories import views  # noqa: E402, F401
