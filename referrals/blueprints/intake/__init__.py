from flask import Blueprint

bp = Blueprint("intake", __name__)

from referrals.blueprints.intake import views  # noqa: E402, F401
