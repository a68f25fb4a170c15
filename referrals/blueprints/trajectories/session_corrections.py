"""Therapists: correcting a logged session's rows, moving it to another day, deleting it."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import format_date
from flask_babel import gettext as _
from flask_login import current_user

from referrals.blueprints.common import drop_changes, refuse
from referrals.blueprints.trajectories import bp
from referrals.blueprints.trajectories.forms_training import (
    AttendanceForm,
    SessionCorrectionForm,
    SessionDeleteForm,
)
from referrals.blueprints.trajectories.training_sessions import (
    entry_of,
    flash_ignored,
    name_row_errors,
    show_row_errors,
)
from referrals.models import SessionAttendance, TrainingSession, Trajectory
from referrals.permissions import Role, roles_required, session_for
from referrals.services import ServiceError
from referrals.services.trajectories import pages, session_corrections
from referrals.services.trajectories.session_corrections import closed_rows, correct_session
from referrals.services.trajectories.training_sessions import planned_of


def get_session_or_404(session_id: int) -> TrainingSession:
    """Only the sessions the therapist led exist for them."""
    session = session_for(current_user, session_id)
    if session is None:
        abort(404)
    return session


def _stored_row_forms(stored: list[SessionAttendance]) -> list[tuple[Trajectory, AttendanceForm]]:
    if request.method == "POST":
        return [(r.trajectory, AttendanceForm(prefix=f"m{r.trajectory_id}")) for r in stored]
    return [
        (
            r.trajectory,
            AttendanceForm(
                prefix=f"m{r.trajectory_id}",
                data={
                    "attendance": r.attendance.value,
                    "done_run_min": r.done_run_min,
                    "done_total_min": r.done_total_min,
                    "borg": r.borg,
                    "note": r.note or "",
                },
            ),
        )
        for r in stored
    ]


def _came_from(session: TrainingSession) -> int | None:
    """The trajectory page the therapist came from, if it is one of the session's."""
    came_from = request.args.get("trajectory", type=int)
    return came_from if came_from in [r.trajectory_id for r in session.attendances] else None


def _back_from(session: TrainingSession) -> str:
    """Back to the trajectory page the therapist came from, else the group or the participant."""
    came_from = _came_from(session)
    ids = [r.trajectory_id for r in session.attendances]
    if came_from or (session.group is None and ids):
        trajectory_id = came_from or ids[0]
        return url_for("trajectories.trajectory", trajectory_id=trajectory_id) + "#progress"
    return url_for("trajectories.group", group_id=session.group_id)


def _correction_form(session: TrainingSession, movable: bool) -> SessionCorrectionForm:
    form = SessionCorrectionForm()
    if not movable:  # the date is not on the page, so it is not asked for
        del form.held_on, form.confirm_date, form.confirm_for
    elif request.method != "POST":
        form.held_on.data = session.held_on
    return form


@bp.route("/sessions/<int:session_id>/edit", methods=["GET", "POST"])
@roles_required(Role.THERAPIST)
def edit_session(session_id: int):
    session = get_session_or_404(session_id)
    back = _back_from(session)
    closed = closed_rows(session)
    stored = [r for r in session.attendances if not r.trajectory.is_closed]
    movable = not closed
    form = _correction_form(session, movable)
    rows = _stored_row_forms(stored)
    if request.method == "POST" and rows:
        if all([form.validate_on_submit(), *(row.validate() for _, row in rows)]):
            try:
                correct_session(
                    session,
                    actor=current_user,
                    entries=[entry_of(t, f) for t, f in rows],
                    held_on=form.held_on.data if movable else None,
                    confirmed=movable and form.confirmed(),
                )
            except ServiceError as error:
                drop_changes()
                show_row_errors(error, rows, form)
            else:
                flash(_("Session corrected."), "success")
                flash_ignored([t for t, f in rows if f.typed_while_away()])
                return redirect(back)
        name_row_errors(rows)
    pages.record_reads(
        current_user,
        [r.trajectory for r in session.attendances],
        session,
        "session correction form",
    )
    return render_template(
        "trajectories/session_edit.html",
        heading=_("Correct the session of %(date)s", date=format_date(session.held_on, "long")),
        session=session,
        form=form,
        movable=movable,
        rows=rows,
        closed=closed,
        planned={r.trajectory_id: planned_of(r) for r in stored},
        back=back,
        came_from=_came_from(session),
    )


@bp.route("/sessions/<int:session_id>/delete", methods=["GET", "POST"])
@roles_required(Role.THERAPIST)
def delete_session(session_id: int):
    """The confirmation page (GET) and the deletion (POST) of a session logged by mistake."""
    session = get_session_or_404(session_id)
    came_from = _came_from(session)
    form = SessionDeleteForm()
    if form.validate_on_submit():
        try:
            gone = session_corrections.delete_session(session, actor=current_user)
        except ServiceError as error:
            refuse(error)
            return redirect(url_for("trajectories.edit_session", session_id=session_id))
        flash(
            _("The session of %(date)s was deleted.", date=format_date(gone.held_on, "long")),
            "success",
        )
        if gone.group_id is not None and came_from is None:
            return redirect(url_for("trajectories.group", group_id=gone.group_id))
        trajectory_id = came_from or next(iter(gone.trajectory_ids), None)
        if trajectory_id is None:
            return redirect(url_for("main.index"))
        return redirect(
            url_for("trajectories.trajectory", trajectory_id=trajectory_id) + "#progress"
        )
    pages.record_reads(
        current_user,
        [r.trajectory for r in session.attendances],
        session,
        "session delete confirmation",
    )
    return render_template(
        "trajectories/session_delete.html",
        session=session,
        form=form,
        closed=closed_rows(session),
        back=url_for("trajectories.edit_session", session_id=session.id, trajectory=came_from),
    )
