"""Submitting referrals: the form, its checks, duplicates, and what the referrer then sees."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from referrals.models import (
    ROLES_BY_KIND,
    AuditAction,
    AuditEvent,
    Notification,
    NotificationKind,
    OrganisationKind,
    Participant,
    Referral,
    ReferralEvent,
    ReferralState,
    Role,
    local_today,
    utcnow,
)
from tests import factories
from tests.helpers import text

VALID_BSN = "111222333"


@pytest.fixture
def setup(db) -> factories.World:
    """A municipality's programme for PC4 2200-2299, fed by one GP practice and the
    municipality's own social team, with one coordinator."""
    return factories.make_world(social_team=True, therapist=False)


def form_data(**changes) -> dict:
    data = {
        "first_name": "Sanne",
        "last_name": "Visser",
        "date_of_birth": "1985-06-15",
        "postcode": "2201ab",
        "phone": "06 12345678",
        "email": "",
        "reasons": ["stress", "burnout"],
        "description": "Slaapt slecht sinds een reorganisatie.",
        "preferred_form": "group",
        "preferred_days": ["tue", "thu"],
        "consent_to_refer": "y",
        "consent_share_progress": "y",
    }
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


def count(db, model) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(model))


def post_referral(client, programme, **changes):
    return client.post(f"/referrals/new/{programme.id}", data=form_data(**changes))


def test_gp_submits_a_referral_and_sees_its_reference_and_page(client, db, login_as, setup):
    login_as(user=setup.gp)
    response = post_referral(client, setup.programme, bsn=VALID_BSN)
    assert response.status_code == 302
    referral = db.session.scalars(sa.select(Referral)).one()
    assert response.headers["Location"] == f"/referrals/{referral.id}"
    assert referral.reference == f"RT-{utcnow().year}-{referral.id:06d}"
    assert referral.state is ReferralState.SUBMITTED
    assert referral.participant.postcode == "2201 AB"
    assert referral.participant.bsn == VALID_BSN
    assert referral.reasons == ["burnout", "stress"]
    assert referral.preferred_days == ["tue", "thu"]
    page = text(client.get(response.headers["Location"]))
    assert referral.reference in page and "Sanne Visser" in page and VALID_BSN in page
    events = referral.events
    assert [(e.from_state, e.to_state, e.actor_id) for e in events] == [
        (None, ReferralState.SUBMITTED, setup.gp.id)
    ]


def test_a_new_referral_notifies_the_coordinator_without_health_details(
    client, db, login_as, setup
):
    login_as(user=setup.gp)
    post_referral(client, setup.programme)
    notification = db.session.scalars(sa.select(Notification)).one()
    assert notification.kind is NotificationKind.NEW_REFERRAL
    assert notification.recipient_email == setup.coordinator.email
    referral = db.session.scalars(sa.select(Referral)).one()
    assert f"/referrals/{referral.id}" in notification.body
    for detail in ["Sanne", "Visser", "2201", "1985", "Slaapt", "stress", "burnout"]:
        assert detail not in notification.body and detail not in notification.subject


def test_the_bsn_field_is_only_for_care_providers(client, db, login_as, setup):
    login_as(user=setup.social_worker)
    form = text(client.get(f"/referrals/new/{setup.programme.id}"))
    assert 'name="bsn"' not in form
    response = post_referral(client, setup.programme, bsn=VALID_BSN)
    assert response.status_code == 302
    assert db.session.scalars(sa.select(Participant)).one().bsn is None

    gp_client = client.application.test_client()
    login_as(user=setup.gp, into=gp_client)
    assert 'name="bsn"' in text(gp_client.get(f"/referrals/new/{setup.programme.id}"))


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"first_name": ""}, "first_name"),
        ({"last_name": " "}, "last_name"),
        ({"date_of_birth": ""}, "date_of_birth"),
        ({"date_of_birth": "15-06-1985x"}, "date_of_birth"),
        ({"date_of_birth": (local_today() + timedelta(days=3)).isoformat()}, "date_of_birth"),
        ({"date_of_birth": "1890-01-01"}, "date_of_birth"),
        (
            {"date_of_birth": (local_today() - timedelta(days=365 * 15)).isoformat()},
            "date_of_birth",
        ),
        ({"postcode": ""}, "postcode"),
        ({"postcode": "0201 AB"}, "postcode"),
        ({"postcode": "2201 SA"}, "postcode"),
        ({"postcode": "123"}, "postcode"),
        ({"postcode": "3511 AB"}, "postcode"),  # outside the programme's area
        ({"phone": "", "email": ""}, "phone"),
        ({"phone": "bel me"}, "phone"),
        ({"phone": "", "email": "geen-adres"}, "email"),
        ({"bsn": "123456789"}, "bsn"),
        ({"bsn": "12345"}, "bsn"),
        ({"reasons": []}, "reasons"),
        ({"reasons": ["boredom"]}, "reasons"),
        ({"description": ""}, "description"),
        ({"description": "x" * 4001}, "description"),
        ({"preferred_form": "online"}, "preferred_form"),
        ({"preferred_days": ["someday"]}, "preferred_days"),
        ({"consent_to_refer": None}, "consent_to_refer"),
    ],
)
def test_bad_input_is_explained_next_to_the_field_and_nothing_is_saved(
    client, db, login_as, setup, changes, field
):
    login_as(user=setup.gp)
    before = (count(db, Referral), count(db, Participant), count(db, Notification))
    response = post_referral(client, setup.programme, **changes)
    page = text(response)
    assert response.status_code == 200
    assert f'id="{field}-error"' in page, field
    # What the user typed is still there.
    assert 'value="Visser"' in page or changes.get("last_name") is not None
    if changes.get("postcode"):
        assert f'value="{changes["postcode"]}"' in page
    if "description" not in changes:
        assert "Slaapt slecht sinds een reorganisatie." in page
    assert (count(db, Referral), count(db, Participant), count(db, Notification)) == before


def test_all_problems_are_shown_at_once(client, db, login_as, setup):
    login_as(user=setup.gp)
    page = text(post_referral(client, setup.programme, postcode="9999 ZZ", phone="", reasons=[]))
    for field in ["postcode", "phone", "reasons"]:
        assert f'id="{field}-error"' in page


def _error_of(page: str, field: str) -> str:
    match = re.search(rf'<p class="field__error" id="{field}-error">(.*?)</p>', page, re.S)
    return match.group(1) if match else ""


def test_an_empty_form_says_everything_that_is_missing_at_once(client, db, login_as, setup):
    """Before, the phone-or-e-mail rule (the service's) came only on the second try."""
    login_as(user=setup.gp)
    response = client.post(f"/referrals/new/{setup.programme.id}", data={})
    page = text(response)
    assert response.status_code == 200
    for field in ["first_name", "last_name", "date_of_birth", "postcode", "reasons"]:
        assert _error_of(page, field), field
    assert "telefoonnummer of een e-mailadres" in _error_of(page, "phone")
    assert "1-3-1980" in _error_of(page, "date_of_birth")
    assert count(db, Referral) == 0


def test_a_date_of_birth_may_be_typed_the_dutch_way(client, db, login_as, setup):
    login_as(user=setup.gp)
    response = post_referral(client, setup.programme, date_of_birth="15-6-1985")
    assert response.status_code == 302
    assert db.session.scalars(sa.select(Participant)).one().date_of_birth == date(1985, 6, 15)


@pytest.mark.parametrize("letters", ["SA", "SD", "SS"])
def test_postcode_letters_that_are_never_used_are_named(client, db, login_as, setup, letters):
    login_as(user=setup.gp)
    page = text(post_referral(client, setup.programme, postcode=f"2201 {letters.lower()}"))
    message = _error_of(page, "postcode")
    assert f"letters {letters} bestaan niet" in message
    assert "4 cijfers" not in message
    assert f'value="2201 {letters.lower()}"' in page


def test_dutch_messages(client, db, login_as, setup):
    login_as(user=setup.gp)
    page = text(post_referral(client, setup.programme, postcode="3511 AB"))
    assert "buiten het werkgebied" in page


def test_a_possible_duplicate_is_flagged_before_saving_and_can_be_confirmed(
    client, db, login_as, setup
):
    login_as(user=setup.gp)
    post_referral(client, setup.programme)
    first = db.session.scalars(sa.select(Referral)).one()

    again = post_referral(client, setup.programme, first_name="SANNE", phone="0612345678")
    page = text(again)
    assert again.status_code == 200
    assert first.reference in page
    assert 'name="confirm_duplicate" type="hidden" value="yes"' in page
    assert count(db, Referral) == 1

    confirmed = post_referral(client, setup.programme, confirm_duplicate="yes")
    assert confirmed.status_code == 302
    assert count(db, Referral) == 2
    second = db.session.scalars(sa.select(Referral).order_by(Referral.id.desc())).first()
    assert second.events[0].reason == "duplicate_confirmed"


def test_the_form_carries_a_key_of_its_own(client, db, login_as, setup):
    login_as(user=setup.gp)
    keys = [
        re.search(r'name="submission_key" type="hidden" value="([^"]+)"', text(page)).group(1)
        for page in (client.get(f"/referrals/new/{setup.programme.id}") for _ in range(2))
    ]
    assert len(set(keys)) == 2
    assert all(len(key) >= 16 for key in keys)


def test_the_same_form_sent_twice_saves_one_referral(client, db, login_as, setup):
    login_as(user=setup.gp)
    key = "k" * 32
    first = post_referral(client, setup.programme, submission_key=key)
    again = post_referral(client, setup.programme, submission_key=key)
    referral = db.session.scalars(sa.select(Referral)).one()
    assert referral.submission_key == key
    assert first.headers["Location"] == again.headers["Location"] == f"/referrals/{referral.id}"
    shown = client.get(again.headers["Location"])
    assert f"Verwijzing {referral.reference} was met dit formulier al verstuurd" in text(shown)
    # Even "refer anyway" with the same form does not save it twice.
    post_referral(client, setup.programme, submission_key=key, confirm_duplicate="yes")
    assert count(db, Referral) == 1


def test_another_users_form_key_is_refused_not_followed(client, db, login_as, setup):
    login_as(user=setup.gp)
    post_referral(client, setup.programme, submission_key="k" * 32)
    colleague = factories.make_user(role=Role.REFERRER, organisation=setup.gp_practice)
    login_as(user=colleague)
    answer = post_referral(client, setup.programme, submission_key="k" * 32, last_name="Anders")
    assert answer.status_code == 200
    assert "Dit formulier kan niet nog eens worden verstuurd" in text(answer)
    assert count(db, Referral) == 1


def test_a_malformed_form_key_is_replaced_and_the_referral_saved(client, db, login_as, setup):
    login_as(user=setup.gp)
    answer = post_referral(client, setup.programme, submission_key="<script>")
    assert answer.status_code == 302
    saved = db.session.scalars(sa.select(Referral)).one()
    assert saved.submission_key not in (None, "<script>")


def test_the_same_bsn_is_a_duplicate_even_with_another_name(client, db, login_as, setup):
    login_as(user=setup.gp)
    post_referral(client, setup.programme, bsn=VALID_BSN)
    again = post_referral(client, setup.programme, bsn=VALID_BSN, first_name="Anna")
    assert 'value="yes"' in text(again)
    assert count(db, Referral) == 1


def test_a_closed_referral_is_no_duplicate(client, db, login_as, setup):
    from referrals.services.referrals.intake import withdraw_referral

    login_as(user=setup.gp)
    post_referral(client, setup.programme)
    first = db.session.scalars(sa.select(Referral)).one()
    withdraw_referral(first, actor=setup.gp, reason="verhuisd")
    db.session.commit()
    assert post_referral(client, setup.programme).status_code == 302


def test_referrers_only_choose_programmes_of_their_organisation(client, db, login_as, setup):
    other_programme = factories.make_programme(name="Elders")
    login_as(user=setup.gp)
    assert client.get(f"/referrals/new/{other_programme.id}").status_code == 404
    assert post_referral(client, other_programme).status_code == 404
    assert count(db, Referral) == 0
    page = client.get("/referrals/new")
    assert page.headers["Location"] == f"/referrals/new/{setup.programme.id}"


def test_a_programme_that_ended_takes_no_referrals(client, db, login_as, setup):
    programme = setup.programme
    programme.ends_on = local_today() - timedelta(days=1)
    programme.starts_on = date(2020, 1, 1)
    db.session.commit()
    login_as(user=setup.gp)
    assert post_referral(client, programme).status_code == 404


def make_referrals(setup, n=3):
    referrals = []
    for i, (first, last) in enumerate(
        [("Sanne", "Visser"), ("Jan", "Bakker"), ("Noor", "Smit")][:n]
    ):
        referrals.append(
            factories.make_referral(
                programme=setup.programme,
                referrer=setup.gp,
                first_name=first,
                last_name=last,
                postcode=f"220{i} AB",
            )
        )
    return referrals


def test_referrer_lists_filters_and_searches_with_audit(client, db, login_as, setup):
    referrals = make_referrals(setup)
    from referrals.services.referrals.intake import withdraw_referral

    withdraw_referral(referrals[1], actor=setup.gp, reason="Andere hulp gevonden")
    db.session.commit()
    login_as(user=factories.make_user(role=Role.REFERRER, organisation=setup.gp_practice))
    page = text(client.get("/referrals"))
    assert all(r.reference in page for r in referrals)
    page = text(client.get("/referrals?state=withdrawn"))
    assert referrals[1].reference in page and referrals[0].reference not in page
    page = text(client.get(f"/referrals?programme={setup.programme.id}&q=bakk"))
    assert "Jan Bakker" in page and "Sanne Visser" not in page
    page = text(client.get(f"/referrals?q={referrals[2].reference.lower()}"))
    assert "Noor Smit" in page and "Jan Bakker" not in page
    searches = db.session.scalars(
        sa.select(AuditEvent).where(AuditEvent.action == AuditAction.SEARCH)
    ).all()
    assert {e.participant_id for e in searches if e.participant_id} == {
        referrals[1].participant_id,
        referrals[2].participant_id,
    }
    assert all("Bakker" not in (e.detail or "") for e in searches)


def test_every_view_of_a_referral_is_audited_with_the_participant(client, db, login_as, setup):
    referral = factories.make_referral(programme=setup.programme, referrer=setup.gp)
    user = login_as(user=setup.coordinator)
    client.get(f"/referrals/{referral.id}")
    row = db.session.scalars(
        sa.select(AuditEvent)
        .where(AuditEvent.action == AuditAction.READ)
        .order_by(AuditEvent.id.desc())
    ).first()
    assert (row.user_id, row.participant_id, row.object_id) == (
        user.id,
        referral.participant_id,
        str(referral.id),
    )


def test_coordinators_do_not_see_the_bsn(client, db, login_as, setup):
    referral = factories.make_referral(programme=setup.programme, referrer=setup.gp, bsn=VALID_BSN)
    login_as(user=setup.coordinator)
    page = text(client.get(f"/referrals/{referral.id}"))
    assert referral.participant.full_name in page and VALID_BSN not in page


def test_waiting_days(db, setup):
    referral = factories.make_referral(programme=setup.programme, referrer=setup.gp)
    referral.submitted_at = utcnow() - timedelta(days=9, hours=1)
    assert referral.waiting_days(utcnow()) == 9


def test_waiting_ends_when_a_therapist_accepts(db, setup):
    from referrals.services.referrals import offers

    referral = factories.make_referral(programme=setup.programme, referrer=setup.gp)
    user = factories.make_user(role=Role.THERAPIST)
    therapist = factories.make_therapist(user=user, programmes=[setup.programme])
    offer = offers.offer_referral(referral, therapist, actor=setup.coordinator)
    offers.accept_offer(offer, actor=user)
    referral.submitted_at = utcnow() - timedelta(days=4, hours=1)
    # Accepted just now, after 4 days: still 4 days a month later, not 34.
    assert referral.waiting_days(utcnow() + timedelta(days=30)) == 4


def test_events_hold_the_timeline(db, setup):
    referral = factories.make_referral(programme=setup.programme, referrer=setup.gp)
    assert count(db, ReferralEvent) == 1
    assert referral.events[0].occurred_at <= utcnow()


def test_a_duplicate_from_another_organisation_is_flagged_without_its_details(
    app, db, login_as, setup
):
    other_practice = factories.make_organisation(kind=OrganisationKind.GP_PRACTICE)
    setup.programme.referrer_organisations.append(other_practice)
    first = factories.make_referral(programme=setup.programme, referrer=setup.gp, bsn=VALID_BSN)
    db.session.commit()
    client = app.test_client()
    other_gp = login_as(
        user=factories.make_user(role=Role.REFERRER, organisation=other_practice), into=client
    )
    response = post_referral(client, setup.programme, bsn=VALID_BSN, first_name="Iemand")
    page = text(response)
    assert 'value="yes"' in page  # flagged, to be confirmed
    assert first.reference not in page  # but nothing about the other practice's referral
    searched = db.session.scalars(
        sa.select(AuditEvent).where(
            AuditEvent.action == AuditAction.SEARCH, AuditEvent.user_id == other_gp.id
        )
    ).all()
    assert [e.participant_id for e in searched] == [first.participant_id]


def test_the_referral_list_reads_in_a_fixed_number_of_selects(app, db, setup, login_as, queries):
    def selects_for_list(referrals: int) -> int:
        practice = factories.make_organisation(kind=OrganisationKind.GP_PRACTICE)
        gp = factories.make_user(role=Role.REFERRER, organisation=practice)
        setup.programme.referrer_organisations.append(practice)
        for n in range(referrals):
            factories.make_referral(programme=setup.programme, referrer=gp, first_name=f"P{n}")
        db.session.commit()
        client = app.test_client()
        login_as(user=gp, into=client)
        with queries() as log:
            page = text(client.get("/referrals"))
        assert page.count('href="/referrals/') >= referrals
        return len(log.selects)

    assert selects_for_list(1) == selects_for_list(4)


@pytest.mark.parametrize(
    "kind",
    [k for k in OrganisationKind if not k.is_care_provider and Role.REFERRER in ROLES_BY_KIND[k]],
)
def test_the_service_never_stores_a_bsn_from_an_organisation_that_is_no_care_provider(
    db, setup, kind
):
    """The rule lives in the intake service: called directly with a BSN, a referral from a
    social team, school or employer is refused on the BSN field and nothing is saved."""
    from referrals.services.referrals.intake import InvalidReferral, submit_referral

    organisation = factories.make_organisation(kind=kind)
    setup.programme.referrer_organisations.append(organisation)
    referrer = factories.make_user(role=Role.REFERRER, organisation=organisation)
    with pytest.raises(InvalidReferral) as refused:
        submit_referral(
            referrer=referrer,
            programme=setup.programme,
            participant=factories.participant_details(bsn=VALID_BSN),
            details=factories.referral_details(),
        )
    assert set(refused.value.errors) == {"bsn"}
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Participant)) == 0
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Referral)) == 0


def test_the_service_stores_the_bsn_of_a_gp_referral(db, setup):
    from referrals.services.referrals.intake import submit_referral

    referral = submit_referral(
        referrer=setup.gp,
        programme=setup.programme,
        participant=factories.participant_details(bsn=VALID_BSN),
        details=factories.referral_details(),
    )
    assert referral.participant.bsn == VALID_BSN
