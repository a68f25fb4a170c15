from flask import Blueprint

bp = Blueprint("therapists", __name__)

from referrals.blueprints.therapists import views  # noqa: E402, F401
