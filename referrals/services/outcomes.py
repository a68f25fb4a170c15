"""Outcome questionnaires entered item by item at intake, midway and end (issue 5)."""

from __future__ import annotations

from referrals.models import Trajectory


def outcome_summary(trajectory: Trajectory):
    """What the trajectory page shows of the questionnaires; None until built."""
    return None
