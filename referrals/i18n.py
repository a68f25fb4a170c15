"""Locale choice and Dutch formatting helpers for templates."""

from __future__ import annotations

from flask import Flask, current_app, g, has_request_context, request, url_for
from flask_babel import (
    Domain,
    format_date,
    format_datetime,
    format_decimal,
    get_locale,
    get_timezone,
    get_translations,
)


def select_locale() -> str:
    """Dutch unless the person chose English with the language switch (remembered in a cookie)."""
    if not has_request_context():
        return current_app.config["BABEL_DEFAULT_LOCALE"]  # CLI and workers
    config = current_app.config
    chosen = request.cookies.get(config["LANGUAGE_COOKIE"])
    if chosen in config["LANGUAGES"]:
        return config["LOCALE_OF_LANGUAGE"].get(chosen, chosen)
    return config["BABEL_DEFAULT_LOCALE"]


# Flask-Babel finds the request's locale, timezone and catalogue anew at every gettext and
# every date through a dozen context-local lookups (some 8 µs each time); a list page asks
# hundreds of times. It keeps what it chose in g._flask_babel (force_locale() changes it
# there for a while), so these read it from there with one lookup, and ask Flask-Babel itself
# whenever it has not chosen yet.


def _babel_context():
    """Flask-Babel's state for this app or request context (None outside any context, or
    before Flask-Babel chose anything in it)."""
    try:
        return g.get("_flask_babel")
    except RuntimeError:  # outside an application context
        return None


def request_locale():
    """get_locale(), cheaply once Flask-Babel has chosen the locale for this context."""
    locale = getattr(_babel_context(), "babel_locale", None)
    return locale if locale is not None else get_locale()


def _request_timezone():
    tzinfo = getattr(_babel_context(), "babel_tzinfo", None)
    return tzinfo if tzinfo is not None else get_timezone()


MEMO_SIZE = 20_000  # formatted dates kept per application; cleared when full


def register_template_filters(app: Flask) -> None:
    app.jinja_env.add_extension("jinja2.ext.do")
    register_context(app)
    install_gettext(app)
    # The same timestamp in the same format, language and timezone reads the same every time:
    # rows come back on every request, so each is formatted (by Babel, 20 µs) once.
    formatted: dict = {}

    def memo(formatter, value, fmt):
        key = (value, fmt, request_locale(), _request_timezone())
        try:
            return formatted[key]
        except KeyError:
            if len(formatted) >= MEMO_SIZE:
                formatted.clear()
            text = formatted[key] = formatter(value, fmt)
            return text

    app.jinja_env.filters["date"] = lambda value, fmt="long": (
        memo(format_date, value, fmt) if value else ""
    )
    app.jinja_env.filters["datetime"] = lambda value, fmt="medium": (
        memo(format_datetime, value, fmt) if value else ""
    )
    app.jinja_env.filters["decimal"] = lambda value: (
        format_decimal(value) if value is not None else ""
    )
    app.jinja_env.globals["url_pattern"] = url_pattern


class RequestDomain(Domain):
    """Flask-Babel's message domain, with the catalogue found once per request: Flask-Babel
    looks the context, the locale and its name up again for every gettext (a page with
    figures asks a hundred times or more). The catalogue is kept where force_locale() expects
    it (the context's babel_translations, which it clears for its block and restores)."""

    def get_translations(self):
        babel_context = _babel_context()
        if babel_context is None:
            return super().get_translations()
        catalogue = getattr(babel_context, "babel_translations", None)
        if catalogue is None:
            catalogue = babel_context.babel_translations = super().get_translations()
        return catalogue


def install_domain(app: Flask) -> None:
    """RequestDomain as the default domain (Flask-Babel keeps it on its Babel object, which
    every app of this process shares)."""
    configuration = app.extensions["babel"]
    if not isinstance(configuration.instance.__dict__.get("domain_instance"), RequestDomain):
        configuration.instance.domain_instance = RequestDomain(domain=configuration.default_domain)


def install_gettext(app: Flask) -> None:
    """The templates' _(), gettext and ngettext as Flask-Babel installs them, with the
    request's catalogue (RequestDomain) found in one lookup."""
    install_domain(app)

    def translations():
        babel_context = _babel_context()
        catalogue = getattr(babel_context, "babel_translations", None)
        return catalogue if catalogue is not None else get_translations()

    app.jinja_env.install_gettext_callables(
        gettext=lambda s: translations().ugettext(s),
        ngettext=lambda s, p, n: translations().ungettext(s, p, n),
        newstyle=True,
        pgettext=lambda c, s: translations().upgettext(c, s),
        npgettext=lambda c, s, p, n: translations().unpgettext(c, s, p, n),
    )


class WTFormsMessages:
    """WTForms' own messages ("Not a valid choice.") in the request's language, for the forms'
    Meta.get_translations. Flask-WTF reads WTForms' catalogue from disk again for every request
    that builds a form (half a millisecond); this keeps one catalogue per locale."""

    def __init__(self) -> None:
        self._catalogues: dict = {}

    def _catalogue(self):
        locale = request_locale()
        try:
            return self._catalogues[locale]
        except KeyError:
            from babel.support import Translations
            from wtforms.i18n import messages_path

            catalogue = Translations.load(messages_path(), [locale], domain="wtforms")
            self._catalogues[locale] = catalogue
            return catalogue

    def gettext(self, string: str) -> str:
        return self._catalogue().ugettext(string)

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        return self._catalogue().ungettext(singular, plural, n)


wtforms_messages = WTFormsMessages()


_SLOT = 987654321987


def url_pattern(endpoint: str, key: str, **values) -> str:
    """url_for(endpoint, **values) with an integer `key` still to fill in, as a str.format
    pattern: a list builds it once and formats it per row (url_for costs some 5 µs a row):
    `url_pattern("offers.offer", "offer_id").format(offer.id)` is
    `url_for("offers.offer", offer_id=offer.id)`."""
    url = url_for(endpoint, **values, **{key: _SLOT})
    slot = str(_SLOT)
    if url.count(slot) != 1:
        raise ValueError(f"{endpoint}: {key} is not one integer in the path")
    return url.replace("{", "{{").replace("}", "}}").replace(slot, "{}")


def current_language() -> str:
    locale = request_locale()
    return locale.language if locale else current_app.config["BABEL_DEFAULT_LOCALE"]


def register_context(app: Flask) -> None:
    from referrals.labels import template_labels

    app.context_processor(lambda: {"current_language": current_language(), **template_labels()})
