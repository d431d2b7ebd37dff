"""Who is on call: rotations follow local wall time across DST changes, in two time zones, and
overrides beat the rotation (the latest made wins)."""

from datetime import UTC, date, datetime, time, timedelta

from services.paging.config import ScheduleEntry
from services.paging.shifts import Override, Shift, next_handoff, on_call, rotation_shift


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


LONDON = ScheduleEntry(name="payments-primary", time_zone="Europe/London", shift=timedelta(weeks=1),
                       handoff=time(9, 0), start=date(2026, 10, 19), people=["ada@contoso.com", "grace@contoso.com"])
# Daily turns in New York; the US changes clocks on other days than Europe.
NEW_YORK = ScheduleEntry(name="web", time_zone="America/New_York", shift=timedelta(days=1), handoff=time(9, 0),
                         start=date(2027, 3, 12), people=["a@x", "b@x", "c@x"])


def test_a_weekly_handoff_stays_at_nine_local_across_the_autumn_change_in_london():
    # Turn 1 starts Mon 19 Oct 09:00 BST (08:00 UTC); clocks go back on Sun 25 Oct; turn 2 starts
    # Mon 26 Oct 09:00 GMT (09:00 UTC): that turn lasted 169 hours.
    first = on_call(LONDON, utc(2026, 10, 26, 8, 59))
    assert first == Shift("ada@contoso.com", utc(2026, 10, 19, 8), utc(2026, 10, 26, 9))
    assert first.ends_at - first.starts_at == timedelta(hours=169)
    assert on_call(LONDON, utc(2026, 10, 26, 9)).person == "grace@contoso.com"
    assert on_call(LONDON, utc(2026, 11, 2, 9)).person == "ada@contoso.com"  # round again


def test_nobody_is_on_call_before_the_first_turn():
    assert on_call(LONDON, utc(2026, 10, 19, 7, 59)) is None
    assert next_handoff(LONDON, utc(2026, 10, 19, 7)) == Shift("ada@contoso.com", utc(2026, 10, 19, 8),
                                                               utc(2026, 10, 26, 9))


def test_a_daily_turn_is_23_hours_when_new_york_springs_forward():
    # Sat 13 Mar 09:00 EST (14:00 UTC) to Sun 14 Mar 09:00 EDT (13:00 UTC).
    saturday = on_call(NEW_YORK, utc(2027, 3, 14, 12, 59))
    assert saturday == Shift("b@x", utc(2027, 3, 13, 14), utc(2027, 3, 14, 13))
    assert saturday.ends_at - saturday.starts_at == timedelta(hours=23)
    assert on_call(NEW_YORK, utc(2027, 3, 14, 13)).person == "c@x"
    # London has not changed yet that day: its turn is a plain week.
    week = on_call(LONDON, utc(2027, 3, 14, 12))
    assert week.ends_at - week.starts_at == timedelta(weeks=1)


def test_a_handoff_inside_the_spring_gap_starts_when_the_clock_jumps():
    gap = ScheduleEntry(name="gap", time_zone="America/New_York", shift=timedelta(days=1), handoff=time(2, 30),
                        start=date(2027, 3, 13), people=["a@x", "b@x"])
    # 02:30 on 14 March does not exist in New York: b's turn starts at 03:30 EDT (07:30 UTC).
    assert on_call(gap, utc(2027, 3, 14, 7, 29)).person == "a@x"
    assert on_call(gap, utc(2027, 3, 14, 7, 30)) == Shift("b@x", utc(2027, 3, 14, 7, 30), utc(2027, 3, 15, 6, 30))


def test_twelve_hour_turns_in_the_repeated_autumn_hour_are_counted_by_the_instant():
    halves = ScheduleEntry(name="halves", time_zone="America/New_York", shift=timedelta(hours=12),
                           handoff=time(1, 30), start=date(2027, 10, 30), people=["a@x", "b@x"])
    # 1 Nov 2027? No: the US falls back on Sun 7 Nov 2027 at 02:00 EDT -> 01:00 EST; 01:30 happens twice.
    halves = halves.model_copy(update={"start": date(2027, 11, 6)})
    turn = on_call(halves, utc(2027, 11, 7, 5, 0))  # 01:00 EDT, the first 01:00 of the night
    assert turn.person == "b@x" and turn.starts_at == utc(2027, 11, 6, 17, 30)  # 13:30 EDT Saturday
    # The next turn starts at the first 01:30 (05:30 UTC), and lasts 13 real hours to 13:30 EST.
    after = on_call(halves, utc(2027, 11, 7, 6, 0))
    assert after == Shift("a@x", utc(2027, 11, 7, 5, 30), utc(2027, 11, 7, 18, 30))


def test_an_override_covers_part_of_a_turn_across_the_change_and_the_latest_wins():
    made = utc(2026, 10, 20)
    cover = Override("payments-primary", "grace@contoso.com", utc(2026, 10, 24, 18), utc(2026, 10, 25, 12), made)
    later = Override("payments-primary", "lin@contoso.com", utc(2026, 10, 25, 0), utc(2026, 10, 25, 6),
                     made + timedelta(hours=1), id=2)
    other = Override("another-schedule", "lin@contoso.com", utc(2026, 10, 20), utc(2026, 10, 30), made, id=3)
    overrides = [cover, later, other]
    # Before the override ada's turn is cut short where grace's cover begins.
    assert on_call(LONDON, utc(2026, 10, 24, 17), overrides) == Shift("ada@contoso.com", utc(2026, 10, 19, 8),
                                                                      utc(2026, 10, 24, 18))
    assert on_call(LONDON, utc(2026, 10, 24, 23), overrides).person == "grace@contoso.com"
    # Across the night the clocks go back, the later override wins.
    assert on_call(LONDON, utc(2026, 10, 25, 1, 30), overrides) == Shift(
        "lin@contoso.com", utc(2026, 10, 25, 0), utc(2026, 10, 25, 6), "override")
    assert on_call(LONDON, utc(2026, 10, 25, 13), overrides).person == "ada@contoso.com"
    assert next_handoff(LONDON, utc(2026, 10, 24, 17), overrides).person == "grace@contoso.com"
    assert next_handoff(LONDON, utc(2026, 10, 25, 13), overrides) == Shift(
        "grace@contoso.com", utc(2026, 10, 26, 9), utc(2026, 11, 2, 9))


def test_feed_shifts_replace_the_rotation_and_overrides_still_win():
    feed = [Shift("zoe@x", utc(2026, 11, 1), utc(2026, 11, 2), "ical")]
    assert on_call(LONDON, utc(2026, 11, 1, 12), feed=feed).person == "zoe@x"
    assert on_call(LONDON, utc(2026, 11, 3), feed=feed) is None
    cover = Override("payments-primary", "ada@contoso.com", utc(2026, 11, 1, 10), utc(2026, 11, 1, 14),
                     utc(2026, 10, 30))
    assert on_call(LONDON, utc(2026, 11, 1, 12), [cover], feed).person == "ada@contoso.com"


def test_later_turns_by_offset():
    assert rotation_shift(LONDON, utc(2026, 10, 20), offset=1).person == "grace@contoso.com"
    assert rotation_shift(LONDON, utc(2026, 10, 20), offset=2).starts_at == utc(2026, 11, 2, 9)
