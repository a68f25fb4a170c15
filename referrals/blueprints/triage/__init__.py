from flask import Blueprint

bp = Blueprint("triage", __name__)

from referrals.blueprints.triage import views  # noqa: E402, F401
