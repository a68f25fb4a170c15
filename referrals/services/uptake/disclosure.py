"""Disclosure control for the figures that officers and funders see.

Method: random rounding to base 5 over fixed reporting periods. Rounding of tables is one of
the standard methods of the ESSnet Handbook on Statistical Disclosure Control (Hundepool et
al.); Statistics New Zealand publishes its counts randomly rounded, to base 3.

- Every count is rounded to a multiple of 5, up or down, at random: a count of 5k + m goes up
  with chance m / 5, so that on average a rounded count is the true one (7 gives 5 three times
  in five and 10 twice). A multiple of 5 stays as it is. A count that rounds to 0 shows as
  "<5": 0 to 4. So a count from 1 to 4 never shows, and neither does a true 0.
- Each cell and each total is rounded on its own. Parts need not add up to their total, and a
  total minus its shown parts gives no part away: there is no secondary suppression to do.
- Shares and amounts are computed from the rounded counts, so they tell nothing more.
- The chance is drawn from a keyed hash (HMAC with the installation's secret) of the
  programme, the period, the period's contents (`fingerprint`: which referrals it holds, the
  attendance it counts) and the cell with its true count. Asking for the same figures again
  gives the same rounding, so they cannot be averaged out. Two periods that differ by one
  referral round every cell afresh, so that the difference of two tables is the difference of
  two independent roundings: a cell that changes by 5 can be one person or nobody. One
  quantity is rounded once wherever it shows (services.uptake_view.Roundings): a month's own
  row by what that month holds, the state at a period's end by the end date, a figure that
  does not depend on the period by the programme alone.
- The officer can only ask for fixed periods (services.uptake.periods), a bounded number
  that change only when a month closes.

Coordinators, who see the referrals one by one anyway, see exact figures (`EXACT`) on the
page; everything that leaves the product (the downloads, the funder report) is rounded.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

BASE = 5
SMALL = "<5"


@dataclass(frozen=True)
class Shown:
    """A count as it may be shown: the text, whether the true value is withheld, and the
    value shown (the rounded one, when rounded), None when it is withheld."""

    text: str
    withheld: bool = False
    value: int | None = None

    def __str__(self) -> str:
        return self.text


class Exact:
    """Counts as they are: for the coordinator's own page."""

    protected = False

    def count(self, count: int, *cell: object) -> Shown:
        if count < 0:
            raise ValueError("a count is never negative")
        return Shown(str(count), value=count)


EXACT = Exact()


def round_randomly(count: int, chance: float) -> int:
    """`count` rounded to a multiple of BASE: up when `chance` (in [0, 1)) is below the
    remainder's share of BASE, else down."""
    if count < 0:
        raise ValueError("a count is never negative")
    down, remainder = divmod(count, BASE)
    return BASE * (down + (1 if chance < remainder / BASE else 0))


class Rounded:
    """Counts randomly rounded to base 5, with the chance of each cell drawn from `key`."""

    protected = True

    def __init__(self, key: bytes):
        self.key = key

    def chance(self, count: int, cell: tuple) -> float:
        message = "\x1f".join(str(part) for part in (*cell, count)).encode()
        digest = hmac.new(self.key, message, hashlib.sha256).digest()
        return int.from_bytes(digest[:8], "big") / 2**64

    def count(self, count: int, *cell: object) -> Shown:
        value = round_randomly(count, self.chance(count, cell))
        return Shown(SMALL, True) if value == 0 else Shown(str(value), value=value)


def rounding_for(secret: str, *period: object) -> Rounded:
    """The rounding of one period's figures: `period` names the programme, the period and its
    fingerprint (services.uptake.Uptake.fingerprint)."""
    material = "\x1f".join(str(part) for part in ("uptake-rounding", *period)).encode()
    return Rounded(hmac.new(secret.encode(), material, hashlib.sha256).digest())


def possible_counts(shown: Shown) -> range:
    """The true counts that can give `shown` under the rounding: what a reader can infer."""
    if shown.withheld:
        return range(0, BASE)
    assert shown.value is not None
    return range(max(shown.value - BASE + 1, 1), shown.value + BASE)


def share(part: Shown, whole: Shown) -> str | None:
    """The percentage `part` is of `whole`, from the values shown (the rounded ones where
    rounded): None when either is withheld, the whole is zero or the part exceeds it."""
    if part.withheld or whole.withheld or not whole.value or part.value is None:
        return None
    if part.value > whole.value:
        return None
    return f"{round(100 * part.value / whole.value)}%"
