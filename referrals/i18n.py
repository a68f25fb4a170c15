"""Locale choice and Dutch formatting helpers for templates."""

from __future__ import annotations

from flask import Flask, current_app, has_request_context, request
from flask_babel import format_date, format_datetime, format_decimal, get_locale


def select_locale() -> str:
    """Dutch unless the person chose English with the language switch (remembered in a cookie)."""
    if not has_request_context():
        return current_app.config["BABEL_DEFAULT_LOCALE"]  # CLI and workers
    config = current_app.config
    chosen = request.cookies.get(config["LANGUAGE_COOKIE"])
    if chosen in config["LANGUAGES"]:
        return config["LOCALE_OF_LANGUAGE"].get(chosen, chosen)
    return config["BABEL_DEFAULT_LOCALE"]


def register_template_filters(app: Flask) -> None:
    app.jinja_env.add_extension("jinja2.ext.do")
    register_context(app)
    app.jinja_env.filters["date"] = lambda value, fmt="long": (
        format_date(value, fmt) if value else ""
    )
    app.jinja_env.filters["datetime"] = lambda value, fmt="medium": (
        format_datetime(value, fmt) if value else ""
    )
    app.jinja_env.filters["decimal"] = lambda value: (
        format_decimal(value) if value is not None else ""
    )


def current_language() -> str:
    locale = get_locale()
    return locale.language if locale else current_app.config["BABEL_DEFAULT_LOCALE"]


def register_context(app: Flask) -> None:
    from referrals.labels import template_labels

    app.context_processor(lambda: {"current_language": current_language(), **template_labels()})
