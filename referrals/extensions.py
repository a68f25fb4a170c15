"""Flask extensions, created unbound here and bound to the app in create_app."""

import ipaddress

from flask_babel import Babel
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_sqlalchemy.session import Session as FlaskSession
from flask_wtf import CSRFProtect

from referrals.models.base import Base


class Session(FlaskSession):
    """Honour an explicit bind, so tests can run each test inside one outer transaction."""

    def get_bind(self, mapper=None, clause=None, bind=None, **kwargs):
        if bind is None and self.bind is not None:
            return self.bind
        return super().get_bind(mapper=mapper, clause=clause, bind=bind, **kwargs)


db = SQLAlchemy(model_class=Base, session_options={"class_": Session})
migrate = Migrate(compare_type=True, render_as_batch=True)
login_manager = LoginManager()
csrf = CSRFProtect()
babel = Babel()


def client_network(address: str | None) -> str:
    """A client address for counting: IPv4 as it is, IPv6 as its /64 network (one household
    or server gets a whole /64, so its addresses are one client)."""
    try:
        ip = ipaddress.ip_address(address or "")
    except ValueError:
        return address or "unknown"
    if ip.version == 4:
        return str(ip)
    if ip.ipv4_mapped is not None:
        return str(ip.ipv4_mapped)
    return str(ipaddress.ip_network(f"{ip}/64", strict=False))


def rate_limit_key() -> str:
    return client_network(get_remote_address())


limiter = Limiter(key_func=rate_limit_key, default_limits=[])
