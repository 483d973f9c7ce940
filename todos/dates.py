"""Due dates and reminders: the range they may take, and what a date without a time means.

One rule everywhere (the REST API, its filters, the chat): a date without a time is read in
TIME_ZONE, as the end of that day for a due date and a `due_before` bound, as its start for a
`due_after` bound, so that both bounds include the whole day, and as REMINDER_TIME for a reminder.
"""

from datetime import UTC, date, datetime, time

from django.utils import timezone

# Minutes, not seconds: "by friday" is shown as a day without a time (chat.dates.describe_due).
END_OF_DAY = time(23, 59)
# A reminder on a day should come while there is still time to act on it, not at its end.
REMINDER_TIME = time(9, 0)
# A day inside what a datetime can hold, so that showing a due date in any time zone (up to a day
# away from UTC) and moving it on by a recurrence never leaves the years 1 to 9999.
EARLIEST_DUE = datetime(1, 1, 2, tzinfo=UTC)
LATEST_DUE = datetime(9999, 12, 30, 23, 59, 59, 999999, tzinfo=UTC)


def day_at(day: date, moment: time) -> datetime:
    """`day` at `moment` on the wall clock of TIME_ZONE, aware."""
    return timezone.make_aware(datetime.combine(day, moment))


def end_of_day(day: date) -> datetime:
    """What a due date given as a day means: the end of that day in TIME_ZONE."""
    return day_at(day, END_OF_DAY)


def in_due_range(moment: datetime) -> bool:
    """Whether `moment` (aware) may be a due date."""
    try:
        return EARLIEST_DUE <= moment <= LATEST_DUE
    except OverflowError:  # comparing converts to UTC, which may leave the years 1 to 9999
        return False
