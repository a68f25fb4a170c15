"""Therapists: groups, and logging sessions with attendance (changing one: session_corrections)."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from wtforms import SelectChoice

from referrals.blueprints.common import apply_service_error, drop_changes, refuse
from referrals.blueprints.trajectories import bp
from referrals.blueprints.trajectories.forms_training import (
    AddMemberForm,
    AttendanceForm,
    GroupForm,
    SessionDateForm,
    weekday_of,
)
from referrals.blueprints.trajectories.views import get_trajectory_or_404
from referrals.models import (
    GROUP_MIN_SIZE,
    Attendance,
    Therapist,
    TrainingGroup,
    Trajectory,
    local_today,
)
from referrals.permissions import Role, group_for, roles_required
from referrals.services import ServiceError
from referrals.services.therapists import therapist_of
from referrals.services.trajectories import groups, pages
from referrals.services.trajectories.training_sessions import (
    AttendanceEntry,
    log_session,
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
    groups.members_of(group)
    candidates = groups.candidates_for(group.therapist_id)
    add_form.trajectory.choices = [
        SelectChoice(t.id, f"{t.referral.participant.full_name} ({t.referral.reference})")
        for t in candidates
    ]
    pages.record_reads(current_user, group.members, group, "group page")
    pages.record_reads(current_user, candidates, group, "group page: participant to add")
    return render_template(
        "trajectories/group.html",
        group=group,
        form=form,
        add_form=add_form,
        candidates=candidates,
        sessions=groups.sessions_of(group),
        session_count=groups.session_count(group),
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


def entry_of(trajectory: Trajectory, form: AttendanceForm) -> AttendanceEntry:
    return AttendanceEntry(
        trajectory=trajectory,
        attendance=Attendance(form.attendance.data),
        done_run_min=form.done_run_min.data,
        done_total_min=form.done_total_min.data,
        borg=form.borg.data,
        note=form.note.data or "",
    )


def show_row_errors(error: ServiceError, rows, page_form) -> None:
    """Each message next to the field of the member it is about; the rest above the form. A
    question the page form asks with a box (confirm_near, confirm_date) goes next to that box."""
    forms = {t.id: form for t, form in rows}
    for key, message in error.errors.items():
        trajectory_id, name = key if isinstance(key, tuple) else (None, key)
        form = forms.get(trajectory_id, page_form)
        if form is page_form and name == getattr(page_form, "confirm_field", None):
            page_form.ask(message)
            continue
        field = form._fields.get(name) if name else None
        if field is not None:
            field.errors = [*field.errors, message]
        else:
            page_form.form_errors.append(message)


def name_row_errors(rows) -> None:
    """Every message of a participant's row starts with their name, so that it says whose it is
    next to the row and in the list at the top alike."""
    for trajectory, form in rows:
        name = trajectory.referral.participant.full_name
        for field in form:
            field.errors = [_("%(name)s: %(message)s", name=name, message=m) for m in field.errors]


def flash_ignored(trajectories: list[Trajectory]) -> None:
    """Say whose minutes or Borg were not stored because they were away."""
    if trajectories:
        names = ", ".join(t.referral.participant.full_name for t in trajectories)
        message = _(
            "Minutes and Borg were ignored for %(names)s: they were not at the session.",
            names=names,
        )
        flash(message, "info")


def _log(therapist: Therapist, members: list[Trajectory], group: TrainingGroup | None):
    """Validate every row, log the session in one transaction, or return the errors."""
    date_form = SessionDateForm()
    rows = _row_forms(members)
    if request.method != "POST":
        date_form.held_on.data = local_today()
        return date_form, rows, None
    valid = [date_form.validate_on_submit(), *(form.validate() for _, form in rows)]
    if not all(valid):
        name_row_errors(rows)
        return date_form, rows, None
    entries = [entry_of(t, form) for t, form in rows]
    try:
        session = log_session(
            therapist,
            actor=current_user,
            held_on=date_form.held_on.data,
            entries=entries,
            group=group,
            confirmed_near=date_form.confirmed(),
        )
    except ServiceError as error:
        drop_changes()
        show_row_errors(error, rows, date_form)
        name_row_errors(rows)
        return date_form, rows, None
    flash(_("Session logged."), "success")
    flash_ignored([t for t, form in rows if form.typed_while_away()])
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
