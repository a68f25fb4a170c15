"""Small-count protection for figures that funders and officers see.

Rule: a count from 1 to 4 is never shown; it shows as "<5". Zero is shown (nobody is
identified by an empty cell). Where a total is shown next to its parts, a single hidden part
could be worked out as the total minus the others, so one more part is hidden as well (the
smallest that is not zero): secondary suppression. Such a part is marked "x", never "<5", so
that a shown "<5" never lies about a count of five or more. A total that is itself from 1 to 4
is hidden too.

The functions here work on plain integers; the dashboard, the exports and the PDF all render
through them, so the rule is applied in one place.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

THRESHOLD = 5
SMALL = "<5"
HIDDEN = "x"


@dataclass(frozen=True)
class Shown:
    """A count as it may be shown: the text, whether the true value is withheld, and the
    value itself only when it is not (so that nothing downstream can show a withheld one)."""

    text: str
    withheld: bool = False
    value: int | None = None

    def __str__(self) -> str:
        return self.text


def is_small(count: int) -> bool:
    return 0 < count < THRESHOLD


def show(count: int) -> Shown:
    """One count on its own (no total next to it)."""
    if count < 0:
        raise ValueError("a count is never negative")
    return Shown(SMALL, True) if is_small(count) else Shown(str(count), value=count)


def protect_parts(parts: Sequence[int], *, with_total: bool = True) -> tuple[list[Shown], Shown]:
    """A partition (the parts add up to the total) with its total, protected together.

    Returns the shown parts in the same order and the shown total.
    """
    if any(p < 0 for p in parts):
        raise ValueError("a count is never negative")
    total = sum(parts)
    shown = [show(p) for p in parts]
    hidden = {i for i, p in enumerate(parts) if is_small(p)}
    total_shown = show(total)
    if with_total and not total_shown.withheld and len(hidden) == 1:
        # total - (the shown parts) would give the hidden one: hide the next smallest too.
        candidates = sorted((p, i) for i, p in enumerate(parts) if i not in hidden and p > 0)
        if candidates:
            _, index = candidates[0]
            shown[index] = Shown(HIDDEN, True)
        else:
            # The hidden part is the whole total: hide the total as well.
            total_shown = Shown(SMALL, True)
    return shown, total_shown


def protect_mapping(
    counts: Mapping[str, int], *, with_total: bool = True
) -> tuple[dict[str, Shown], Shown]:
    """protect_parts for labelled parts, keeping the labels."""
    keys = list(counts)
    shown, total = protect_parts([counts[k] for k in keys], with_total=with_total)
    return dict(zip(keys, shown, strict=True)), total


def share(numerator: int, denominator: int) -> str | None:
    """A percentage, or None when it would give away a count from 1 to 4: the numerator,
    the denominator, or the rest (denominator - numerator)."""
    if denominator <= 0 or numerator < 0 or numerator > denominator:
        return None
    if any(is_small(n) for n in (numerator, denominator, denominator - numerator)):
        return None
    return f"{round(100 * numerator / denominator)}%"


def share_of_shown(part: Shown, whole: Shown) -> str | None:
    """The percentage `part` is of `whole`, for two figures shown side by side (a part and its
    total in one table): it tells no more than the two figures do, so it is shown exactly
    when both are; None when either is withheld or the whole is zero."""
    if part.withheld or whole.withheld or not whole.value or part.value is None:
        return None
    return f"{round(100 * part.value / whole.value)}%"
