"""Groups, session logging with attendance, and the participant's progress (issue 5).

Owned by the sessions work: see progress_summary for what the trajectory page shows.
"""

from __future__ import annotations

from referrals.models import Trajectory


def progress_summary(trajectory: Trajectory):
    """What the trajectory page shows of attendance and progress; None until built."""
    return None
