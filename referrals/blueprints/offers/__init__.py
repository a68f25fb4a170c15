from flask import Blueprint

bp = Blueprint("offers", __name__)

from referrals.blueprints.offers import views  # noqa: E402, F401
