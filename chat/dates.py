"""When a task is due, read from English words in a chat message, relative to a given "now".

"tomorrow", "today at 5pm", "next monday", "friday morning", "in 3 days", "on 2026-12-01",
"1 december", "dec 1st at 9:30": `find_due` returns the moment (aware, in the current time
zone, i.e. TIME_ZONE) and the message without the words it used. A day without a time means
the end of that day (for a reminder, REMINDER_TIME); a time without a day means its next
occurrence.

Whatever the words, nothing here raises: a moment outside the range a due date may take
(todos.dates: EARLIEST_DUE .. LATEST_DUE, as the REST API checks it) is OutOfRange, for the
assistant to say so: "in 99999999 days", "on 9999-12-31" west of Greenwich, "in" and a thousand
nines.
"""

import enum
import re
import unicodedata
from datetime import date, datetime, time, timedelta

from django.utils import timezone

from todos.dates import EARLIEST_DUE, END_OF_DAY, LATEST_DUE, day_at

# "in N minutes" with more digits than this is past LATEST_DUE whatever N (10**10 minutes is
# 19,000 years), and int() refuses long digit strings (sys.get_int_max_str_digits).
_MAX_COUNT_DIGITS = 10


class OutOfRange(enum.Enum):
    """Words that name a moment no task can be due at: before EARLIEST_DUE or after LATEST_DUE."""

    PAST = "past"
    FUTURE = "future"


WEEKDAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
_WEEKDAY_ABBREVIATIONS = {
    "mon": 0,
    "tue": 1,
    "tues": 1,
    "wed": 2,
    "thu": 3,
    "thur": 3,
    "thurs": 3,
    "fri": 4,
    "sat": 5,
    "sun": 6,
}
WEEKDAY_NUMBERS = {**{name: number for number, name in enumerate(WEEKDAYS)}, **_WEEKDAY_ABBREVIATIONS}
MONTHS = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
]
MONTH_NUMBERS = {
    **{name: number for number, name in enumerate(MONTHS, 1)},
    **{name[:3]: number for number, name in enumerate(MONTHS, 1)},
    "sept": 9,
}
PARTS_OF_DAY = {"morning": time(9), "afternoon": time(15), "evening": time(19), "night": time(21)}
NUMBER_WORDS = {
    "a": 1,
    "an": 1,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
}

_PREFIX = r"(?:(?:due|by|before|on|for|until)\s+)?"
_WEEKDAY = "|".join(WEEKDAYS)
_WEEKDAY_SHORT = "|".join(sorted(_WEEKDAY_ABBREVIATIONS, key=len, reverse=True))
_MONTH = "|".join(sorted(MONTH_NUMBERS, key=len, reverse=True))
_PART = r"(?:\s+(?P<part>morning|afternoon|evening|night))?"
_END = r"(?![\w'])"

DAY_PATTERNS = [
    ("iso", rf"\b{_PREFIX}(?P<year>\d{{4}})-(?P<month>\d{{2}})-(?P<day>\d{{2}}){_END}"),
    ("after_tomorrow", rf"\b{_PREFIX}(?:the\s+)?day\s+after\s+tomorrow{_PART}{_END}"),
    ("today", rf"\b{_PREFIX}(?:today|this\s+(?P<part>morning|afternoon|evening)){_END}"),
    ("tonight", rf"\b{_PREFIX}tonight{_END}"),
    ("tomorrow", rf"\b{_PREFIX}(?:tomorrow|tmrw|tmr){_PART}{_END}"),
    ("next_week", rf"\b{_PREFIX}next\s+week{_END}"),
    ("in", rf"\bin\s+(?P<count>\d+|{'|'.join(NUMBER_WORDS)})\s+(?P<unit>minute|hour|day|week)s?{_END}"),
    ("weekday", rf"\b{_PREFIX}(?:(?P<which>next|this|coming)\s+)?(?P<weekday>{_WEEKDAY}){_PART}{_END}"),
    # "sun", "sat" and the like are words too: abbreviations count after "on", "next", ... only.
    (
        "weekday",
        rf"\b(?:(?:due|by|before|on|for|until)\s+|(?P<which>next|this|coming)\s+)"
        rf"(?P<weekday>{_WEEKDAY_SHORT}){_PART}{_END}",
    ),
    (
        "day_month",
        rf"\b{_PREFIX}(?:the\s+)?(?P<day>\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?(?P<month>{_MONTH})"
        rf"(?:,?\s+(?P<year>\d{{4}}))?{_END}",
    ),
    (
        "month_day",
        rf"\b{_PREFIX}(?P<month>{_MONTH})\s+(?P<day>\d{{1,2}})(?:st|nd|rd|th)?(?:,?\s+(?P<year>\d{{4}}))?{_END}",
    ),
]
TIME_PATTERNS = [
    ("ampm", rf"(?:\b(?:at|by|@)\s*)?\b(?P<hour>\d{{1,2}})(?::(?P<minute>\d{{2}}))?\s*(?P<ampm>am|pm){_END}"),
    ("24h", rf"(?:\b(?:at|by|@)\s*)\b(?P<hour>\d{{1,2}}):(?P<minute>\d{{2}}){_END}"),
    ("noon", rf"\b(?:(?:at|by)\s+)?(?:noon|midday){_END}"),
]
# "at 9", an hour of the 24-hour clock: read only where words say when to remind ("remind me
# tomorrow at 9"), since in a title ("add call bob at 3") it may mean the afternoon, or nothing.
BARE_HOUR = rf"\b(?:at|@)\s*(?P<hour>\d{{1,2}})(?:\s*o'?clock)?{_END}"
_DAY_RES = [(kind, re.compile(pattern, re.IGNORECASE)) for kind, pattern in DAY_PATTERNS]
_TIME_RES = [(kind, re.compile(pattern, re.IGNORECASE)) for kind, pattern in TIME_PATTERNS]
_TIME_AND_BARE_HOUR_RES = [*_TIME_RES, ("hour", re.compile(BARE_HOUR, re.IGNORECASE))]


def find_due(
    text: str, now: datetime, *, day_time: time = END_OF_DAY, bare_hours: bool = False
) -> tuple[datetime | OutOfRange | None, str]:
    """The due moment the words in `text` name (None when they name none, OutOfRange when it is
    one no task can have), and `text` without those words. A day without a time is at `day_time`;
    with `bare_hours`, "at 9" is 09:00 (BARE_HOUR)."""
    now = timezone.localtime(now)
    day, part_time, text = _find_day(text, now)
    if isinstance(day, datetime):  # "in 2 hours": an exact moment
        return _in_range(day), text
    # "on 9999-12-31 at 5pm": the time is part of the refused date
    clock, text = _find_time(text, _TIME_AND_BARE_HOUR_RES if bare_hours else _TIME_RES)
    if isinstance(day, OutOfRange):
        return day, text
    clock = clock or part_time
    if day is None:
        if clock is None:
            return None, text
        day = now.date() if clock > now.time() else _later(now.date(), days=1)
        if isinstance(day, OutOfRange):
            return day, text
    return _in_range(day_at(day, clock or day_time)), text


def _in_range(moment: datetime) -> datetime | OutOfRange:
    # Aware datetimes compare by their UTC moment without converting one, so this cannot overflow.
    if moment < EARLIEST_DUE:
        return OutOfRange.PAST
    if moment > LATEST_DUE:
        return OutOfRange.FUTURE
    return moment


def _later[When: date](start: When, **delta: int) -> When | OutOfRange:
    """`start` plus timedelta(**delta), or OutOfRange.FUTURE past what datetime holds."""
    try:
        return start + timedelta(**delta)
    except OverflowError:  # the timedelta itself (over 999,999,999 days) or the sum
        return OutOfRange.FUTURE


def _remove(text: str, match: re.Match[str]) -> str:
    return re.sub(r"\s{2,}", " ", f"{text[: match.start()]} {text[match.end() :]}").strip()


def _find_day(text: str, now: datetime) -> tuple[date | datetime | OutOfRange | None, time | None, str]:
    for kind, pattern in _DAY_RES:
        match = pattern.search(text)
        if match is None:
            continue
        found = _day(kind, match, now)
        if found is None:  # e.g. 31 february: not a date, leave the words alone
            continue
        groups = match.groupdict()
        part = (
            PARTS_OF_DAY["night"]
            if kind == "tonight"
            else PARTS_OF_DAY.get((groups.get("part") or "").lower())
        )
        return found, part, _remove(text, match)
    return None, None, text


def _day(kind: str, match: re.Match[str], now: datetime) -> date | datetime | OutOfRange | None:
    today = now.date()
    groups = {key: (value.lower() if value else value) for key, value in match.groupdict().items()}
    if kind == "iso":
        return _date(int(groups["year"]), int(groups["month"]), int(groups["day"]))
    if kind in ("today", "tonight"):
        return today
    if kind == "tomorrow":
        return _later(today, days=1)
    if kind == "after_tomorrow":
        return _later(today, days=2)
    if kind == "next_week":
        return _later(today, weeks=1)
    if kind == "in":
        count = _count(groups["count"])
        if count is None:
            return OutOfRange.FUTURE
        unit = f"{groups['unit']}s"
        if unit in ("minutes", "hours"):
            moment = _later(now, **{unit: count})
            return moment if isinstance(moment, OutOfRange) else moment.replace(second=0, microsecond=0)
        return _later(today, **{unit: count})
    if kind == "weekday":
        ahead = (WEEKDAY_NUMBERS[groups["weekday"]] - today.weekday()) % 7
        if ahead == 0 and groups["which"] != "this":
            ahead = 7  # "monday" said on a Monday is next week's
        return _later(today, days=ahead)
    # A day of a month without a year: its next occurrence from today.
    month, day = MONTH_NUMBERS[groups["month"]], int(groups["day"])
    if groups["year"]:
        return _date(int(groups["year"]), month, day)
    found = _date(today.year, month, day)
    if isinstance(found, date) and found < today:
        found = _date(today.year + 1, month, day)
    return found


def _count(words: str) -> int | None:
    """The number of "in 3 days", "in three days"; None when it has too many digits to be one."""
    if words in NUMBER_WORDS:
        return NUMBER_WORDS[words]
    # \d is any script's digit; int() reads them all, but only up to its limit on length.
    digits = "".join(str(unicodedata.decimal(digit)) for digit in words).lstrip("0")
    return int(digits or "0") if len(digits) <= _MAX_COUNT_DIGITS else None


def _date(year: int, month: int, day: int) -> date | OutOfRange | None:
    """The date, OutOfRange for a real day of year 0 or 10000, None for no day (31 february)."""
    try:
        date(2000, month, day)  # a leap year: the day exists in some year
    except ValueError:
        return None
    if year < date.min.year:
        return OutOfRange.PAST
    if year > date.max.year:
        return OutOfRange.FUTURE
    try:
        return date(year, month, day)
    except ValueError:  # 29 february of a common year
        return None


def _find_time(text: str, patterns: list[tuple[str, re.Pattern[str]]]) -> tuple[time | None, str]:
    for kind, pattern in patterns:
        match = pattern.search(text)
        if match is None:
            continue
        if kind == "noon":
            return time(12), _remove(text, match)
        hour, minute = int(match["hour"]), int(match.groupdict().get("minute") or 0)
        if kind == "ampm":
            if not 1 <= hour <= 12:
                continue
            hour = hour % 12 + (12 if match["ampm"].lower() == "pm" else 0)
        if hour > 23 or minute > 59:
            continue
        return time(hour, minute), _remove(text, match)
    return None, text


def describe_due(due: datetime, now: datetime) -> str:
    """ "today at 17:00", "tomorrow", "on Friday", "on Tue 1 Dec 2026": how a reply names a due date."""
    return _describe(due, now, with_time=False)


def describe_reminder(moment: datetime, now: datetime) -> str:
    """ "tomorrow at 09:00", "on Friday at 23:59": how a reply names a reminder, always with its time."""
    return _describe(moment, now, with_time=True)


def _describe(moment: datetime, now: datetime, *, with_time: bool) -> str:
    """The day in words, then the time unless `with_time` is false and it is END_OF_DAY."""
    now = timezone.localtime(now)
    try:
        local = timezone.localtime(moment)
    except OverflowError:  # a stored moment at the very end of datetime's range: in its own zone
        local = moment
    days = (local.date() - now.date()).days
    if days == 0:
        words = "today"
    elif days == 1:
        words = "tomorrow"
    elif days == -1:
        words = "yesterday"
    elif 1 < days < 7:
        words = f"on {local:%A}"
    else:
        words = f"on {local:%a} {local.day} {local:%b}" + (
            f" {local.year:04}" if local.year != now.year else ""
        )
    if with_time or local.time().replace(second=0, microsecond=0) != END_OF_DAY:
        words += f" at {local:%H:%M}"
    return words
