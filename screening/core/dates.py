"""Calendar arithmetic for ages and waiting periods: no I/O, no rule set."""

from __future__ import annotations

import calendar
import datetime as dt


def add_months(day: dt.date, months: int) -> dt.date:
    """``day`` plus whole months; a day the month lacks rolls to the 1st of the next.

    31 August + 6 months is 1 March, not 28 February: a waiting period is
    never shorter than the calendar months it names.
    """
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    if day.day <= calendar.monthrange(year, month)[1]:
        return dt.date(year, month, day.day)
    return dt.date(year + month // 12, month % 12 + 1, 1)


def age_on(birth: dt.date, today: dt.date) -> int:
    """Completed years; someone born on 29 February turns a year older on 1 March."""
    return today.year - birth.year - ((today.month, today.day) < (birth.month, birth.day))


def years_before(day: dt.date, years: int) -> dt.date:
    """The same day ``years`` earlier; 29 February becomes 28 February."""
    year = day.year - years
    return dt.date(year, day.month, min(day.day, calendar.monthrange(year, day.month)[1]))


def shift_date(day: dt.date, unit: str, amount: int) -> dt.date:
    """``day`` plus ``amount`` days, weeks or months."""
    if unit == "months":
        return add_months(day, amount)
    return day + dt.timedelta(days=amount * (7 if unit == "weeks" else 1))
