"""Closing a trajectory and the closing letter to the referrer (issue 5)."""

from __future__ import annotations

from referrals.models import Trajectory


def closing_summary(trajectory: Trajectory):
    """What the trajectory page shows about closing; None until built."""
    return None
