"""Random input to the referral form never gives a server error or a half-saved referral."""

from __future__ import annotations

import sqlalchemy as sa
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from referrals.models import (
    AuditEvent,
    Notification,
    Participant,
    Referral,
    ReferralEvent,
)
from tests import factories

FIELDS = [
    "first_name",
    "last_name",
    "date_of_birth",
    "postcode",
    "phone",
    "email",
    "bsn",
    "description",
    "preferred_form",
    "consent_to_refer",
    "consent_share_progress",
    "confirm_duplicate",
]
LIST_FIELDS = ["reasons", "preferred_days"]

# Plausible values mixed with hostile ones, so that some posts succeed and many fail.
value = st.one_of(
    st.text(max_size=60),
    st.sampled_from(
        [
            "",
            "y",
            "yes",
            "2201 AB",
            "2201ab",
            "1985-06-15",
            "2999-01-01",
            "111222333",
            "06 12345678",
            "a@b.nl",
            "group",
            "either",
            "stress",
            "tue",
            "0000-00-00",
            "\x00",
            "' OR 1=1 --",
        ]
    ),
)
list_value = st.lists(
    st.one_of(st.sampled_from(["stress", "burnout", "other", "mon", "sun"]), st.text(max_size=10)),
    max_size=4,
)
form = st.fixed_dictionaries(
    {},
    optional={**{name: value for name in FIELDS}, **{name: list_value for name in LIST_FIELDS}},
)


def counts(db) -> tuple[int, ...]:
    return tuple(
        db.session.scalar(sa.select(sa.func.count()).select_from(model))
        for model in (Referral, Participant, ReferralEvent, Notification)
    )


@settings(
    max_examples=60,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@example(
    data={
        "first_name": "Sanne",
        "last_name": "Visser",
        "date_of_birth": "1985-06-15",
        "postcode": "2201ab",
        "phone": "06 12345678",
        "reasons": ["stress"],
        "description": "x",
        "preferred_form": "either",
        "consent_to_refer": "y",
    }
)
@given(data=form)
def test_random_referral_posts(app, db, login_as, data):
    world = factories.make_world(therapist=False)
    client = app.test_client()
    login_as(user=world.gp, into=client)
    before = counts(db)

    response = client.post(f"/referrals/new/{world.programme.id}", data=data)

    assert response.status_code in (200, 302), response.status_code
    after = counts(db)
    if response.status_code == 302:
        referral = db.session.scalars(sa.select(Referral).order_by(Referral.id.desc())).first()
        assert referral.reference and referral.participant is not None
        assert after == (before[0] + 1, before[1] + 1, before[2] + 1, before[3] + 1)
        audit_row = db.session.scalar(
            sa.select(AuditEvent).where(
                AuditEvent.object_type == "referrals", AuditEvent.object_id == str(referral.id)
            )
        )
        assert audit_row.participant_id == referral.participant_id
    else:
        assert after == before
