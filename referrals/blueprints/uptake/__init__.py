from flask import Blueprint

bp = Blueprint("uptake", __name__)

from referrals.blueprints.uptake import views  # noqa: E402, F401
