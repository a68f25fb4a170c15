"""Dutch by default, English on request, the choice remembered."""

from __future__ import annotations

from tests.helpers import text


def test_dutch_is_the_default(client):
    page = text(client.get("/login"))
    assert '<html lang="nl">' in page
    assert "Inloggen" in page


def test_switching_to_english_is_remembered(client):
    response = client.post("/language", data={"language": "en", "next": "/login"})
    assert response.headers["Location"] == "/login"
    page = text(client.get("/login"))
    assert '<html lang="en">' in page and "Log in" in page
    assert '<html lang="en">' in text(client.get("/nowhere"))
    client.post("/language", data={"language": "nl", "next": "/login"})
    assert '<html lang="nl">' in text(client.get("/login"))


def test_the_language_survives_login(client, login_as):
    client.post("/language", data={"language": "en", "next": "/"})
    login_as("officer")
    assert "What you can do next" in text(client.get("/"))


def test_unknown_language_and_foreign_next_are_ignored(client):
    response = client.post("/language", data={"language": "xx", "next": "//evil.example"})
    assert response.headers["Location"] == "/"
    assert '<html lang="nl">' in text(client.get("/login"))


def test_dutch_date_format(app):
    from datetime import date

    with app.test_request_context():
        assert app.jinja_env.filters["date"](date(2026, 3, 1)) == "1 maart 2026"


def test_english_dates_are_british(app, client, login_as):
    from datetime import date

    from tests import factories

    client.post("/language", data={"language": "en", "next": "/"})
    world = factories.make_world(therapist=False)
    referral = factories.make_referral(programme=world.programme, referrer=world.gp)
    referral.participant.date_of_birth = date(1985, 6, 15)
    login_as(user=world.gp)
    page = text(client.get(f"/referrals/{referral.id}"))
    born = page[page.index("<dt>Date of birth</dt>") :].split("</dd>")[0]
    assert "15 June 1985" in born
    assert '<html lang="en">' in page


def test_a_forced_locale_translates_its_block_and_the_request_language_returns(app):
    """The catalogue kept for the request (referrals.i18n.RequestDomain) gives way to
    force_locale() for its block, in Python and in templates, and comes back after it."""
    from flask import render_template_string
    from flask_babel import force_locale, gettext, lazy_gettext

    page = (
        "{{ _('Referrals') }}|"
        "{{ ngettext('%(num)d referral waiting', '%(num)d referrals waiting', 2) }}"
    )
    label = lazy_gettext("Referrals")
    dutch, english = "Verwijzingen|2 verwijzingen wachten", "Referrals|2 referrals waiting"
    for chosen, other, words, other_words in (
        ("nl", "en", dutch, english),
        ("en", "nl", english, dutch),
    ):
        word, other_word = words.split("|")[0], other_words.split("|")[0]
        with app.test_request_context(headers={"Cookie": f"rt_lang={chosen}"}):
            assert gettext("Referrals") == word
            assert render_template_string(page) == words
            with force_locale(other):
                assert gettext("Referrals") == other_word
                assert str(label) == other_word
                assert render_template_string(page) == other_words
            assert gettext("Referrals") == word
            assert str(label) == word
            assert render_template_string(page) == words
