"""Therapists: groups, and logging and correcting sessions with attendance."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import format_date
from flask_babel import gettext as _
from flask_login import current_user
from wtforms import SelectChoice

from referrals.blueprints.common import apply_service_error, drop_changes, refuse
from referrals.blueprints.trajectories import bp
from referrals.blueprints.trajectories.forms_training import (
    AddMemberForm,
    AttendanceForm,
    GroupForm,
    SessionCorrectionForm,
    SessionDateForm,
    weekday_of,
)
from referrals.blueprints.trajectories.views import get_trajectory_or_404
from referrals.models import (
    GROUP_MIN_SIZE,
    Attendance,
    SessionAttendance,
    Therapist,
    TrainingGroup,
    TrainingSession,
    Trajectory,
    local_today,
)
from referrals.permissions import Role, group_for, roles_required, session_for
from referrals.services import ServiceError
from referrals.services.therapists import therapist_of
from referrals.services.trajectories import groups, pages
from referrals.services.trajectories.training_sessions import (
    AttendanceEntry,
    correct_session,
    log_session,
    planned_of,
    planned_on,
)


def own_therapist_or_404() -> Therapist:
    therapist = therapist_of(current_user)
    if therapist is None:
        abort(404)
    return therapist


def get_group_or_404(group_id: int) -> TrainingGroup:
    """Only the therapist's own groups exist for them."""
    group = group_for(current_user, group_id)
    if group is None:
        abort(404)
    return group


@bp.app_context_processor
def group_limits():
    return {"group_min_size": GROUP_MIN_SIZE}


# Groups


@bp.get("/groups")
@roles_required(Role.THERAPIST)
def groups_index():
    therapist = therapist_of(current_user)
    rows = groups.groups_of(therapist) if therapist else []
    return render_template("trajectories/groups.html", rows=rows)


def _group_values(form: GroupForm) -> dict:
    return {
        "name": form.name.data or "",
        "weekday": weekday_of(form.weekday.data),
        "starts_at": form.starts_at.data,
        "meeting_place": form.meeting_place.data or "",
        "max_size": form.max_size.data,
    }


@bp.route("/groups/new", methods=["GET", "POST"])
@roles_required(Role.THERAPIST)
def new_group():
    therapist = own_therapist_or_404()
    form = GroupForm()
    if form.validate_on_submit():
        try:
            group = groups.create_group(therapist, actor=current_user, **_group_values(form))
        except ServiceError as error:
            apply_service_error(form, error)
        else:
            flash(_("Group created."), "success")
            return redirect(url_for("trajectories.group", group_id=group.id))
    return render_template("trajectories/group_form.html", form=form)


def _render_group(group: TrainingGroup, form: GroupForm, add_form: AddMemberForm | None = None):
    add_form = add_form or AddMemberForm(formdata=None)
    candidates = groups.candidates_for(group.therapist)
    add_form.trajectory.choices = [
        SelectChoice(t.id, f"{t.referral.participant.full_name} ({t.referral.reference})")
        for t in candidates
    ]
    pages.record_reads(current_user, group.members, group, "group page")
    pages.record_reads(current_user, candidates, group, "group page: participant to add")
    return render_template(
        "trajectories/group.html", group=group, form=form, add_form=add_form, candidates=candidates
    )


def _group_form(group: TrainingGroup, **kwargs) -> GroupForm:
    form = GroupForm(obj=group, **kwargs)
    form.weekday.data = group.weekday.value
    return form


@bp.route("/groups/<int:group_id>", methods=["GET", "POST"])
@roles_required(Role.THERAPIST)
def group(group_id: int):
    group = get_group_or_404(group_id)
    form = GroupForm() if request.method == "POST" else _group_form(group)
    if form.validate_on_submit():
        try:
            groups.update_group(group, actor=current_user, **_group_values(form))
        except ServiceError as error:
            apply_service_error(form, error)
        else:
            flash(_("Group saved."), "success")
            return redirect(url_for("trajectories.group", group_id=group.id))
    return _render_group(group, form)


@bp.post("/groups/<int:group_id>/members")
@roles_required(Role.THERAPIST)
def add_member(group_id: int):
    group = get_group_or_404(group_id)
    add_form = AddMemberForm()
    if add_form.validate_on_submit():
        trajectory = get_trajectory_or_404(add_form.trajectory.data)
        try:
            groups.add_member(group, trajectory, actor=current_user)
        except ServiceError as error:
            apply_service_error(add_form, error)
        else:
            flash(_("Participant added to the group."), "success")
            return redirect(url_for("trajectories.group", group_id=group.id))
    return _render_group(group, _group_form(group, formdata=None), add_form)


@bp.post("/groups/<int:group_id>/members/<int:trajectory_id>/remove")
@roles_required(Role.THERAPIST)
def remove_member(group_id: int, trajectory_id: int):
    group = get_group_or_404(group_id)
    trajectory = get_trajectory_or_404(trajectory_id)
    try:
        groups.remove_member(group, trajectory, actor=current_user)
    except ServiceError as error:
        refuse(error)
    else:
        flash(_("Participant removed from the group."), "success")
    return redirect(url_for("trajectories.group", group_id=group.id))


# Sessions


def _row_forms(members: list[Trajectory]) -> list[tuple[Trajectory, AttendanceForm]]:
    rows = []
    for trajectory in members:
        prefix = f"m{trajectory.id}"
        if request.method == "POST":
            rows.append((trajectory, AttendanceForm(prefix=prefix)))
            continue
        planned = planned_on(trajectory, local_today())
        data = {"done_run_min": planned.run_min, "done_total_min": planned.total_min}
        rows.append((trajectory, AttendanceForm(prefix=prefix, data=data)))
    return rows


def _entry(trajectory: Trajectory, form: AttendanceForm) -> AttendanceEntry:
    return AttendanceEntry(
        trajectory=trajectory,
        attendance=Attendance(form.attendance.data),
        done_run_min=form.done_run_min.data,
        done_total_min=form.done_total_min.data,
        borg=form.borg.data,
        note=form.note.data or "",
    )


def _show_row_errors(error: ServiceError, rows, page_form) -> None:
    """Each message next to the field of the member it is about; the rest above the form."""
    forms = {t.id: form for t, form in rows}
    for key, message in error.errors.items():
        trajectory_id, name = key if isinstance(key, tuple) else (None, key)
        form = forms.get(trajectory_id, page_form)
        field = form._fields.get(name) if name else None
        if field is not None:
            field.errors = [*field.errors, message]
        else:
            page_form.form_errors.append(message)


def _log(therapist: Therapist, members: list[Trajectory], group: TrainingGroup | None):
    """Validate every row, log the session in one transaction, or return the errors."""
    date_form = SessionDateForm()
    rows = _row_forms(members)
    if request.method != "POST":
        date_form.held_on.data = local_today()
        return date_form, rows, None
    valid = [date_form.validate_on_submit(), *(form.validate() for _, form in rows)]
    if not all(valid):
        return date_form, rows, None
    try:
        session = log_session(
            therapist,
            actor=current_user,
            held_on=date_form.held_on.data,
            entries=[_entry(t, form) for t, form in rows],
            group=group,
        )
    except ServiceError as error:
        drop_changes()
        _show_row_errors(error, rows, date_form)
        return date_form, rows, None
    return date_form, rows, session


def _planned_for_page(date_form: SessionDateForm, rows) -> dict:
    held_on = date_form.held_on.data
    if held_on is None or held_on > local_today():
        held_on = local_today()
    return {t.id: planned_on(t, held_on) for t, _form in rows}


@bp.route("/groups/<int:group_id>/sessions/new", methods=["GET", "POST"])
@roles_required(Role.THERAPIST)
def new_group_session(group_id: int):
    group = get_group_or_404(group_id)
    members = [t for t in group.members if not t.is_closed and t.plan is not None]
    date_form, rows, session = _log(group.therapist, members, group)
    if session is not None:
        flash(_("Session logged."), "success")
        return redirect(url_for("trajectories.group", group_id=group.id))
    pages.record_reads(current_user, members, group, "session form")
    return render_template(
        "trajectories/session_new.html",
        heading=_("Log a session of %(group)s", group=group.name),
        group=group,
        trajectory=None,
        date_form=date_form,
        rows=rows,
        planned=_planned_for_page(date_form, rows),
    )


@bp.route("/trajectories/<int:trajectory_id>/sessions/new", methods=["GET", "POST"])
@roles_required(Role.THERAPIST)
def new_individual_session(trajectory_id: int):
    trajectory = get_trajectory_or_404(trajectory_id)
    back = url_for("trajectories.trajectory", trajectory_id=trajectory.id)
    if trajectory.is_closed or trajectory.plan is None:
        flash(_("Sessions can only be logged for an open trajectory with an intake."), "error")
        return redirect(back)
    date_form, rows, session = _log(trajectory.therapist, [trajectory], None)
    if session is not None:
        flash(_("Session logged."), "success")
        return redirect(back + "#progress")
    pages.record_reads(current_user, [trajectory], trajectory, "session form")
    return render_template(
        "trajectories/session_new.html",
        heading=_("Log a session with %(name)s", name=trajectory.referral.participant.full_name),
        group=None,
        trajectory=trajectory,
        date_form=date_form,
        rows=rows,
        planned=_planned_for_page(date_form, rows),
    )


# Correcting a logged session


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


def _back_from(session: TrainingSession) -> str:
    """Back to the trajectory page the therapist came from, else the group or the participant."""
    came_from = request.args.get("trajectory", type=int)
    ids = [r.trajectory_id for r in session.attendances]
    if came_from in ids or (session.group is None and ids):
        trajectory_id = came_from if came_from in ids else ids[0]
        return url_for("trajectories.trajectory", trajectory_id=trajectory_id) + "#progress"
    return url_for("trajectories.group", group_id=session.group_id)


@bp.route("/sessions/<int:session_id>/edit", methods=["GET", "POST"])
@roles_required(Role.THERAPIST)
def edit_session(session_id: int):
    session = get_session_or_404(session_id)
    back = _back_from(session)
    stored = [r for r in session.attendances if not r.trajectory.is_closed]
    closed = [r for r in session.attendances if r.trajectory.is_closed]
    form = SessionCorrectionForm()
    rows = _stored_row_forms(stored)
    submitted = request.method == "POST" and rows
    if submitted and all([form.validate_on_submit(), *(row.validate() for _, row in rows)]):
        try:
            correct_session(session, actor=current_user, entries=[_entry(t, f) for t, f in rows])
        except ServiceError as error:
            drop_changes()
            _show_row_errors(error, rows, form)
        else:
            flash(_("Session corrected."), "success")
            return redirect(back)
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
        rows=rows,
        closed=closed,
        planned={r.trajectory_id: planned_of(r) for r in stored},
        back=back,
    )
