"""Buckets and drawing of the report's chart of fixes over time."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

from kernel.history import Fix, FixState
from kernel.report_chart import Period, bucket_fixes, render_chart


def fix_on(when: datetime, state: FixState = FixState.KEPT) -> Fix:
    return Fix(
        commit="0" * 40,
        subject="fix: repair calc.py",
        committed=when,
        heal_id="20250102T030405Z-abc123",
        fault_id="aaaa00000001",
        provider="offline",
        model=None,
        validation="1 passed",
        files=("calc.py",),
        state=state,
    )


def utc(year: int, month: int, day: int, hour: int = 12) -> datetime:
    return datetime(year, month, day, hour, tzinfo=timezone.utc)


def test_chart_buckets_by_day():
    fixes = [
        fix_on(utc(2025, 1, 4), FixState.REVERTED),
        fix_on(utc(2025, 1, 2)),
        fix_on(utc(2025, 1, 2), FixState.CHANGED),
    ]

    period, buckets = bucket_fixes(fixes)

    assert period is Period.DAY
    assert [bucket.label for bucket in buckets] == ["2025-01-02", "2025-01-03", "2025-01-04"]
    assert (buckets[0].kept, buckets[0].changed, buckets[0].reverted) == (1, 1, 0)
    assert buckets[1].total == 0
    assert buckets[2].reverted == 1


def test_chart_day_in_utc():
    # 23:30 at UTC-5 on January 2nd is January 3rd in UTC.
    late = datetime(2025, 1, 2, 23, 30, tzinfo=timezone(timedelta(hours=-5)))

    _, buckets = bucket_fixes([fix_on(late)])

    assert buckets[0].start == date(2025, 1, 3)


def test_chart_buckets_by_week():
    fixes = [fix_on(utc(2025, 1, 1)), fix_on(utc(2025, 3, 1)), fix_on(utc(2025, 3, 2))]

    period, buckets = bucket_fixes(fixes)

    assert period is Period.WEEK
    assert buckets[0].start == date(2024, 12, 30)  # the Monday of January 1st's week
    assert all(bucket.start.weekday() == 0 for bucket in buckets)
    assert buckets[-1].start == date(2025, 2, 24)
    assert buckets[-1].kept == 2
    assert sum(bucket.total for bucket in buckets) == 3


def test_chart_buckets_by_month_across_years():
    fixes = [fix_on(utc(2024, 11, 20)), fix_on(utc(2025, 12, 5)), fix_on(utc(2026, 2, 1))]

    period, buckets = bucket_fixes(fixes)

    assert period is Period.MONTH
    assert buckets[0].label == "2024-11"
    assert buckets[-1].label == "2026-02"
    assert len(buckets) == 16
    assert [bucket.label for bucket in buckets if bucket.total] == [
        "2024-11",
        "2025-12",
        "2026-02",
    ]


def test_chart_svg_has_title_and_axes():
    _, buckets = bucket_fixes([fix_on(utc(2025, 1, 2)) for _ in range(7)])

    svg = render_chart(Period.DAY, buckets)

    assert svg.startswith("<svg")
    assert 'role="img"' in svg
    assert '<title id="chart-title">Fixes per day (UTC), by state</title>' in svg
    assert "7 fixes from 2025-01-02 to 2025-01-02: 7 kept, 0 changed by hand" in svg
    assert ">fixes</text>" in svg
    assert ">day (UTC)</text>" in svg
    # Seven fixes make ticks of 2 up to 8.
    for tick in ("0", "2", "4", "6", "8"):
        assert f'text-anchor="end">{tick}</text>' in svg
