"""Due dates from English words, relative to a fixed "now" (a Wednesday afternoon)."""

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from chat.dates import OutOfRange, describe_due, describe_reminder, find_due
from chat.tests.conftest import at
from todos.dates import EARLIEST_DUE, LATEST_DUE


@pytest.mark.parametrize(
    ("words", "expected", "rest"),
    [
        ("buy milk tomorrow", "2026-11-26T23:59", "buy milk"),
        ("buy milk today", "2026-11-25T23:59", "buy milk"),
        ("call mum at 5pm", "2026-11-25T17:00", "call mum"),
        ("call mum at 1pm", "2026-11-26T13:00", "call mum"),  # 1pm has passed: tomorrow's
        ("call mum at 9:30 am tomorrow", "2026-11-26T09:30", "call mum"),
        ("x at 17:45", "2026-11-25T17:45", "x"),
        ("x by noon", "2026-11-26T12:00", "x"),
        ("x tonight", "2026-11-25T21:00", "x"),
        ("x tomorrow morning", "2026-11-26T09:00", "x"),
        ("x the day after tomorrow", "2026-11-27T23:59", "x"),
        ("report next monday", "2026-11-30T23:59", "report"),
        ("report on friday at noon", "2026-11-27T12:00", "report"),
        ("x on wednesday", "2026-12-02T23:59", "x"),  # said on a Wednesday: next week's
        ("x this wednesday", "2026-11-25T23:59", "x"),
        ("x on sun", "2026-11-29T23:59", "x"),
        ("x next week", "2026-12-02T23:59", "x"),
        ("x in 3 days", "2026-11-28T23:59", "x"),
        ("x in two weeks", "2026-12-09T23:59", "x"),
        ("x in 2 hours", "2026-11-25T16:30", "x"),
        ("pay rent on 2026-12-01", "2026-12-01T23:59", "pay rent"),
        ("meet 1 december at 9:30", "2026-12-01T09:30", "meet"),
        ("meet dec 1st", "2026-12-01T23:59", "meet"),
        ("party 3rd of january", "2027-01-03T23:59", "party"),  # past this year: next year's
        ("x march 5, 2028", "2028-03-05T23:59", "x"),
    ],
)
def test_found(now, words, expected, rest):
    due, left = find_due(words, now)

    assert (due.isoformat(), left) == (at(expected), rest)
    assert str(timezone.localtime(due).tzinfo) == "Europe/Paris"


@pytest.mark.parametrize(
    "words",
    ["buy sun cream", "read today's paper", "I may call", "x 31 february", "x 2026-02-30", "at 25:00 x"],
)
def test_words_that_are_not_dates_stay(now, words):
    assert find_due(words, now) == (None, words)


@pytest.mark.parametrize(
    ("words", "expected", "rest"),
    [
        ("call mum tomorrow", "2026-11-26T09:00", "call mum"),  # a day alone: at day_time
        ("call mum tomorrow at 9", "2026-11-26T09:00", "call mum"),
        ("call mum at 17 on friday", "2026-11-27T17:00", "call mum"),
        ("call mum at 7 o'clock", "2026-11-26T07:00", "call mum"),  # 07:00 has passed: tomorrow's
        ("call mum at 9pm", "2026-11-25T21:00", "call mum"),
        ("call mum tomorrow evening", "2026-11-26T19:00", "call mum"),
    ],
)
def test_a_reminder_is_read_with_its_day_time_and_bare_hours(now, words, expected, rest):
    moment, left = find_due(words, now, day_time=time(9), bare_hours=True)

    assert (moment.isoformat(), left) == (at(expected), rest)


def test_a_bare_hour_is_read_only_when_asked_for(now):
    assert find_due("call bob at 3", now) == (None, "call bob at 3")
    assert find_due("call bob at 3", now, bare_hours=True) == (
        datetime.fromisoformat(at("2026-11-26T03:00")),
        "call bob",
    )
    assert find_due("call bob at 24", now, bare_hours=True) == (None, "call bob at 24")  # no such hour


@pytest.mark.parametrize(
    ("moment", "words"),
    [
        ("2026-11-26T23:59", "tomorrow at 23:59"),
        ("2026-11-27T09:00", "on Friday at 09:00"),
    ],
)
def test_describe_reminder_always_says_the_time(now, moment, words):
    assert describe_reminder(datetime.fromisoformat(at(moment)), now) == words


@pytest.mark.parametrize(
    ("moment", "words"),
    [
        ("2026-11-25T17:00", "today at 17:00"),
        ("2026-11-26T23:59", "tomorrow"),
        ("2026-11-24T23:59", "yesterday"),
        ("2026-11-27T12:00", "on Friday at 12:00"),
        ("2026-12-09T23:59", "on Wed 9 Dec"),
        ("2027-01-03T23:59", "on Sun 3 Jan 2027"),
    ],
)
def test_describe_due(now, moment, words):
    assert describe_due(datetime.fromisoformat(at(moment)), now) == words


class TestRange:
    """A moment outside todos.dates' EARLIEST_DUE .. LATEST_DUE (UTC) is OutOfRange, never an error."""

    def test_the_last_day_in_range_and_the_next(self, now):
        days = (date(9999, 12, 30) - now.date()).days  # Paris: 9999-12-30 23:59 is 22:59 UTC

        assert find_due(f"x in {days} days", now) == (datetime.fromisoformat(at("9999-12-30T23:59")), "x")
        assert find_due(f"x in {days + 1} days", now) == (OutOfRange.FUTURE, "x")
        weeks = days // 7
        assert timezone.localtime(find_due(f"x in {weeks} weeks", now)[0]).date() == date(9999, 12, 29)
        assert find_due(f"x in {weeks + 1} weeks", now) == (OutOfRange.FUTURE, "x")

    @pytest.mark.parametrize("unit", ["hours", "minutes"])
    def test_the_last_hour_and_minute_in_range_and_the_next(self, now, unit):
        count = (LATEST_DUE - now) // timedelta(**{unit: 1})

        assert find_due(f"x in {count} {unit}", now) == (now + timedelta(**{unit: count}), "x")
        assert find_due(f"x in {count + 1} {unit}", now) == (OutOfRange.FUTURE, "x")

    def test_the_first_moment_in_range_and_the_one_before(self, settings):
        settings.TIME_ZONE = "UTC"
        now = datetime(2026, 11, 25, 14, 30, tzinfo=UTC)

        assert find_due("x on 0001-01-02 at 00:00", now) == (EARLIEST_DUE, "x")
        assert find_due("x on 0001-01-01 at 23:59", now) == (OutOfRange.PAST, "x")

    def test_the_range_is_in_utc_whatever_the_time_zone(self, settings):
        settings.TIME_ZONE = "America/New_York"  # UTC-5: the end of its 30 December is the 31st in UTC
        new_york = ZoneInfo("America/New_York")
        now = datetime(2026, 11, 25, 14, 30, tzinfo=new_york)

        assert find_due("x on 9999-12-30 at 6pm", now) == (datetime(9999, 12, 30, 18, tzinfo=new_york), "x")
        assert find_due("x on 9999-12-30", now) == (OutOfRange.FUTURE, "x")

    @pytest.mark.parametrize(
        ("words", "expected"),
        [
            ("x in 99999999 days", OutOfRange.FUTURE),
            ("x in 999999999999 hours", OutOfRange.FUTURE),
            ("x in 9999999999 minutes", OutOfRange.FUTURE),
            ("x in 99999999 weeks", OutOfRange.FUTURE),
            ("x in 1" + "0" * 5000 + " days", OutOfRange.FUTURE),  # 10**5000: past int()'s digit limit
            ("x in " + "9" * 100_000 + " minutes", OutOfRange.FUTURE),
            ("x on 9999-12-31", OutOfRange.FUTURE),
            ("x on 9999-12-31 at 5pm", OutOfRange.FUTURE),
            ("x 31 december 9999 at 11pm", OutOfRange.FUTURE),
            ("x dec 31, 9999 at 9:30 am", OutOfRange.FUTURE),
            ("x on 0001-01-01", OutOfRange.PAST),
            ("x on 0001-01-01 at 1am", OutOfRange.PAST),
            ("x on 0000-06-15", OutOfRange.PAST),
            ("x 1 january 0000 at noon", OutOfRange.PAST),
        ],
    )
    def test_out_of_range_words_are_taken_with_their_time(self, now, words, expected):
        assert find_due(words, now) == (expected, "x")

    def test_leading_zeros_do_not_count(self, now):
        assert find_due("x in " + "0" * 5000 + "3 days", now) == find_due("x in 3 days", now)

    def test_digits_of_any_script_count(self, now):
        assert find_due("x in \u0663 days", now) == find_due("x in 3 days", now)  # Arabic-Indic 3

    def test_a_day_that_is_in_no_year_stays_words(self, now):
        assert find_due("x on 0000-02-30", now) == (None, "x on 0000-02-30")

    @pytest.mark.parametrize(
        "words",
        ["x today", "x tonight", "x tomorrow", "x the day after tomorrow", "x next week", "x on monday",
         "x at 9am", "x by noon", "x in 1 minute", "x 5 january", "x in three weeks"],
    )  # fmt: skip
    def test_nothing_raises_at_the_end_of_time(self, settings, words):
        settings.TIME_ZONE = "UTC"
        now = datetime(9999, 12, 31, 12, 0, tzinfo=UTC)  # the last day datetime holds

        assert find_due(words, now) == (OutOfRange.FUTURE, "x")

    @pytest.mark.parametrize(
        "zone", ["UTC", "Europe/Paris", "America/New_York", "Pacific/Kiritimati", "Etc/GMT+12", "Etc/GMT-14"]
    )
    @pytest.mark.parametrize(
        "now",
        [EARLIEST_DUE, datetime(2026, 11, 25, 14, 30, tzinfo=UTC), LATEST_DUE],
        ids=["first", "2026", "last"],
    )
    def test_any_words_give_a_moment_in_range_or_say_why_not(self, settings, zone, now):
        settings.TIME_ZONE = zone
        phrases = [
            *(f"x in {n} {unit}" for n in ("1", "99999999", "9" * 20) for unit in ("minutes", "days")),
            "x tomorrow at 11pm", "x tonight", "x next monday", "x at 1am", "x 1 january", "x dec 31st",
            "x on 0001-01-01", "x on 0001-01-02 at 1am", "x on 9999-12-30 at 11pm", "x on 9999-12-31",
            "x 31 december 9999 at 11:59 pm", "x 1 jan 0001 at 00:00",
        ]  # fmt: skip
        for words in phrases:
            due, _rest = find_due(words, now)
            assert isinstance(due, OutOfRange) or EARLIEST_DUE <= due <= LATEST_DUE, (words, due)
            if isinstance(due, datetime):
                describe_due(due, now)  # and the reply can name it

    def test_a_stored_moment_at_the_very_end_is_still_described(self, now):
        last = datetime(9999, 12, 31, 23, 59, tzinfo=UTC)  # a day later in Paris than datetime holds

        assert describe_due(last, now) == "on Fri 31 Dec 9999"

    def test_far_years_are_written_in_full(self, settings):
        settings.TIME_ZONE = "UTC"
        now = datetime(2026, 11, 25, 14, 30, tzinfo=UTC)

        assert describe_due(EARLIEST_DUE, now) == "on Tue 2 Jan 0001 at 00:00"
        assert describe_due(LATEST_DUE, now) == "on Thu 30 Dec 9999"
