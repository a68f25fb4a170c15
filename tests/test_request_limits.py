"""Request bodies are limited before they are read: the register upload to its 2 MB file, every
other form to far less (MAX_CONTENT_LENGTH). Too large gets the Dutch 413 page, nothing saved."""

from __future__ import annotations

import io

import sqlalchemy as sa
from werkzeug.test import EnvironBuilder, run_wsgi_app

from referrals.models import Referral, RegisterImport, Role
from tests import factories
from tests.helpers import text
from tests.test_intake import form_data


class CountingStream(io.RawIOBase):
    """A request body of `size` bytes that is never held in memory, counting what is read."""

    def __init__(self, size: int):
        self.size, self.read_bytes = size, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        n = min(len(buffer), self.size - self.read_bytes)
        buffer[:n] = b"a" * n
        self.read_bytes += n
        return n


def test_an_anonymous_100_mb_login_post_is_refused_unread(app, client):
    stream = CountingStream(100 * 1024 * 1024)
    environ = EnvironBuilder(
        path="/login", method="POST", content_type="application/x-www-form-urlencoded"
    ).get_environ()
    environ.update({"wsgi.input": stream, "CONTENT_LENGTH": str(stream.size)})
    body, status, _headers = run_wsgi_app(app, environ, buffered=True)
    assert status.startswith("413")
    page = b"".join(body).decode()
    assert "<h1>Wat je stuurde is te groot</h1>" in page
    assert stream.read_bytes <= 64 * 1024  # at most what the server reads ahead, never 100 MB


def test_a_form_post_over_the_limit_saves_nothing(client, db, login_as):
    world = factories.make_world(therapist=False)
    login_as(user=world.gp)
    limit = client.application.config["MAX_CONTENT_LENGTH"]
    data = form_data(description="x" * limit)
    response = client.post(f"/referrals/new/{world.programme.id}", data=data)
    assert response.status_code == 413
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Referral)) == 0


def _upload(client, size: int):
    builder = EnvironBuilder(
        path="/admin/therapists/import",
        method="POST",
        data={"file": (io.BytesIO(b"x" * size), "register.csv")},
    )
    environ = builder.get_environ()
    try:
        return client.open(environ)
    finally:
        environ["wsgi.input"].close()
        builder.close()


def test_the_register_upload_takes_its_2_mb_file_and_no_more(client, db, login_as):
    login_as(Role.ADMIN)
    limit = client.application.config["MAX_CONTENT_LENGTH"]
    # Larger than any form may be, within the file's 2 MB: read, and answered by the form.
    response = _upload(client, limit * 4)
    assert response.status_code == 200
    assert "Kies het CSV-bestand" not in text(response)  # the file did arrive
    response = _upload(client, 3 * 1024 * 1024)
    assert response.status_code == 413
    assert db.session.scalar(sa.select(sa.func.count()).select_from(RegisterImport)) == 0
