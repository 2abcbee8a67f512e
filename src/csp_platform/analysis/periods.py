"""Periods of whole months: parsing ``YYYY-MM..YYYY-MM``, labels and month numbers.

police.uk dates have month precision, so every period the analysis works on is a run of whole
months, both ends included, each month held as the date of its first day. Month *numbers*
(``year * 12 + month - 1``) are what :mod:`csp_analytics.forecast` and the Knox test take.
"""

from __future__ import annotations

import calendar
import re
from datetime import date

from csp_platform.core.errors import BadQuery

Period = tuple[date, date]

_MONTH = re.compile(r"^(\d{4})-(\d{2})$")


def month_parse(text: str | None, option: str) -> date:
    """``"2021-06"`` -> ``date(2021, 6, 1)``; BadQuery naming the option otherwise."""
    match = _MONTH.match((text or "").strip())
    if not match or not 1 <= int(match.group(2)) <= 12:
        raise BadQuery(f"{option} must be a month like 2021-06, not {text!r}")
    return date(int(match.group(1)), int(match.group(2)), 1)


def period_parse(text: str | None, option: str = "--period") -> Period:
    """``"2021-01..2021-12"`` (or one month, ``"2021-06"``) -> (first month, last month)."""
    value = (text or "").strip()
    first_text, sep, last_text = value.partition("..")
    if not sep:
        last_text = first_text
    try:
        first = month_parse(first_text, option)
        last = month_parse(last_text, option)
    except BadQuery:
        raise BadQuery(
            f"{option} must be months like 2021-01..2021-12 (first..last), not {text!r}"
        ) from None
    return period_check((first, last), option)


def period_check(period: Period, option: str = "period") -> Period:
    first, last = period
    if first.day != 1 or last.day != 1:
        raise BadQuery(f"{option}: months are given by their first day")
    if first > last:
        raise BadQuery(f"{option} starts after it ends ({first:%Y-%m} > {last:%Y-%m})")
    return period


def add_months(d: date, n: int) -> date:
    return month_date(month_number(d) + n)


def month_number(d: date) -> int:
    """Consecutive month numbers: ``year * 12 + month - 1``."""
    return d.year * 12 + d.month - 1


def month_date(number: int) -> date:
    return date(number // 12, number % 12 + 1, 1)


def period_months(period: Period) -> list[date]:
    """Every month of the period, in order."""
    first, last = month_number(period[0]), month_number(period[1])
    return [month_date(i) for i in range(first, last + 1)]


def month_label(d: date) -> str:
    return f"{d:%Y-%m}"


def period_label(period: Period) -> str:
    """Words for a period, as SIA reports write them.

    A financial year (April to March) is "2022/23", a calendar year "2022", one month
    "Jun 2021", anything else "Oct 2018 to Feb 2019".
    """
    first, last = period
    if first == last:
        return f"{calendar.month_abbr[first.month]} {first.year}"
    span = month_number(last) - month_number(first) + 1
    if span == 12 and first.month == 4:
        return f"{first.year}/{(first.year + 1) % 100:02d}"
    if span == 12 and first.month == 1:
        return str(first.year)
    return (
        f"{calendar.month_abbr[first.month]} {first.year} to "
        f"{calendar.month_abbr[last.month]} {last.year}"
    )
