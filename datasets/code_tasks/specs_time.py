"""Task specs for the families about spans and dates: ``intervals`` (merging, overlap, coverage, gaps and
insertion of integer intervals) and ``calendar`` (leap years, days of the year, weekdays and clock times).
Each function returns one family's :class:`~polyrlaif.datasets.code_tasks.build.TaskSpec` list;
``build.all_specs`` puts the families in order, and the builder renders and checks them. Calls
are argument source text: the first ``n_examples`` become docstring examples, so they are short, and the
edge cases come after.
"""

from __future__ import annotations

import functools

from polyrlaif.datasets.code_tasks.build import TaskSpec

__all__ = ["intervals", "calendar"]


def intervals() -> list[TaskSpec]:
    """Tasks on integer intervals: merging, overlap, coverage, gaps and insertion."""
    t = functools.partial(TaskSpec, "intervals")
    many = "intervals: List[Tuple[int, int]]"
    merge_body = """
          merged = []
          for start, end in sorted(intervals):
              if merged and start <= merged[-1][1]:
                  merged[-1] = (merged[-1][0], max(merged[-1][1], end))
              else:
                  merged.append((start, end))
          return merged
          """
    return [
        t(
            "merge_intervals",
            f"({many}) -> List[Tuple[int, int]]",
            "medium",
            "Each interval (start, end) is closed, with start <= end. Merge every group of intervals that "
            "overlap or touch (share an end point) and return the result sorted by start.",
            merge_body,
            ["[(1, 3), (2, 6), (8, 10)]", "[(1, 4), (4, 5)]", "[]", "[(5, 6), (1, 2)]", "[(1, 10), (2, 3)]"],
        ),
        t(
            "intervals_overlap",
            "(a: Tuple[int, int], b: Tuple[int, int]) -> bool",
            "easy",
            "a and b are closed intervals (start, end) with start <= end. Return True if they have at "
            "least one point in common.",
            """
          return a[0] <= b[1] and b[0] <= a[1]
          """,
            ["(1, 5), (4, 8)", "(1, 2), (3, 4)", "(1, 3), (3, 5)", "(0, 10), (2, 3)", "(6, 7), (1, 5)"],
        ),
        t(
            "covered_length",
            f"({many}) -> int",
            "medium",
            "Each interval (start, end) covers the stretch from start to end, a length of end - start. "
            "Return the total length covered by at least one interval, counting overlaps once.",
            """
          total = 0
          current_end = None
          for start, end in sorted(intervals):
              if current_end is None or start > current_end:
                  total += end - start
                  current_end = end
              elif end > current_end:
                  total += end - current_end
                  current_end = end
          return total
          """,
            [
                "[(1, 4), (2, 6)]",
                "[(0, 1), (5, 7)]",
                "[]",
                "[(0, 10), (2, 3)]",
                "[(3, 3)]",
                "[(1, 2), (2, 3)]",
            ],
        ),
        t(
            "intersect_intervals",
            "(a: Tuple[int, int], b: Tuple[int, int]) -> Optional[Tuple[int, int]]",
            "medium",
            "Return the intersection of the closed intervals a and b as a tuple (start, end), or None if "
            "they have no point in common.",
            """
          start, end = max(a[0], b[0]), min(a[1], b[1])
          if start > end:
              return None
          return (start, end)
          """,
            ["(1, 5), (3, 8)", "(1, 2), (5, 6)", "(0, 10), (2, 3)", "(4, 4), (4, 9)", "(7, 9), (1, 7)"],
        ),
        t(
            "in_any_interval",
            f"({many}, x: int) -> bool",
            "easy",
            "Return True if x lies in at least one of the closed intervals (start, end).",
            """
          return any(start <= x <= end for start, end in intervals)
          """,
            ["[(1, 3), (6, 9)], 7", "[(1, 3), (6, 9)], 4", "[], 0", "[(2, 2)], 2", "[(0, 5)], 5"],
        ),
        t(
            "count_containing",
            f"({many}, x: int) -> int",
            "easy",
            "Return how many of the closed intervals (start, end) contain x.",
            """
          return sum(1 for start, end in intervals if start <= x <= end)
          """,
            ["[(1, 5), (2, 3), (4, 9)], 4", "[(1, 2)], 3", "[], 1", "[(0, 0), (0, 1)], 0"],
        ),
        t(
            "max_overlap",
            f"({many}) -> int",
            "medium",
            "Return the largest number of the closed intervals (start, end) that all contain one common "
            "point. Return 0 for an empty list.",
            """
          best = 0
          for point, _ in intervals:
              best = max(best, sum(1 for s, e in intervals if s <= point <= e))
          return best
          """,
            [
                "[(1, 4), (2, 5), (7, 8)]",
                "[(1, 2), (3, 4)]",
                "[]",
                "[(1, 3), (3, 5), (3, 3)]",
                "[(0, 10), (1, 2), (3, 4), (5, 6)]",
            ],
        ),
        t(
            "insert_interval",
            f"({many}, new: Tuple[int, int]) -> List[Tuple[int, int]]",
            "medium",
            "intervals are closed, sorted by start and do not overlap. Insert the interval new, merging it "
            "with every interval it overlaps or touches, and return the sorted result.",
            merge_body.replace("sorted(intervals)", "sorted(intervals + [new])"),
            [
                "[(1, 3), (6, 9)], (2, 5)",
                "[], (4, 8)",
                "[(1, 2), (8, 9)], (4, 5)",
                "[(1, 2), (3, 4)], (2, 3)",
                "[(5, 6)], (1, 2)",
            ],
        ),
        t(
            "interval_gaps",
            f"({many}) -> List[Tuple[int, int]]",
            "medium",
            "Merge the closed intervals (start, end) that overlap or touch, then return the gaps between "
            "consecutive merged intervals as (end of one, start of the next) pairs, in order.",
            """
          merged = []
          for start, end in sorted(intervals):
              if merged and start <= merged[-1][1]:
                  merged[-1] = (merged[-1][0], max(merged[-1][1], end))
              else:
                  merged.append((start, end))
          return [(a[1], b[0]) for a, b in zip(merged, merged[1:])]
          """,
            ["[(1, 3), (6, 8)]", "[(1, 5), (2, 3)]", "[]", "[(10, 12), (1, 2), (4, 6)]", "[(1, 2), (2, 4)]"],
        ),
        t(
            "interval_lengths",
            f"({many}) -> List[int]",
            "easy",
            "Return the list of the lengths end - start of the intervals (start, end).",
            """
          return [end - start for start, end in intervals]
          """,
            ["[(1, 4), (2, 2)]", "[]", "[(-3, 3)]", "[(0, 1), (5, 10)]"],
        ),
        t(
            "shift_intervals",
            f"({many}, delta: int) -> List[Tuple[int, int]]",
            "easy",
            "Return the intervals (start, end) with delta added to both ends of each.",
            """
          return [(start + delta, end + delta) for start, end in intervals]
          """,
            ["[(1, 4), (6, 7)], 2", "[], 5", "[(0, 0)], -3", "[(5, 9)], 0"],
        ),
    ]


def calendar() -> list[TaskSpec]:
    """Tasks on dates and clock times: leap years, day of year, weekdays, 12- and 24-hour clocks."""
    t = functools.partial(TaskSpec, "calendar")
    leap = "(year % 4 == 0 and year % 100 != 0) or year % 400 == 0"
    return [
        t(
            "is_leap_year",
            "(year: int) -> bool",
            "easy",
            "Return True if year is a leap year in the Gregorian calendar: divisible by 4, except years "
            "divisible by 100 that are not divisible by 400.",
            f"""
          return {leap}
          """,
            ["2024", "2023", "1900", "2000", "2100"],
        ),
        t(
            "days_in_month",
            "(year: int, month: int) -> int",
            "easy",
            "Return the number of days in the given month (1 = January, ..., 12 = December) of the given "
            "year, taking leap years into account for February.",
            f"""
          if month == 2:
              return 29 if {leap} else 28
          return 30 if month in (4, 6, 9, 11) else 31
          """,
            ["2023, 1", "2024, 2", "2023, 2", "1900, 2", "2021, 4", "2021, 12"],
        ),
        t(
            "day_of_year",
            "(year: int, month: int, day: int) -> int",
            "medium",
            "Return the position of the given date within its year, where January 1st is day 1. Use the "
            "Gregorian leap year rule.",
            f"""
          lengths = [31, 29 if {leap} else 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
          return sum(lengths[:month - 1]) + day
          """,
            ["2023, 3, 1", "2024, 3, 1", "2023, 1, 1", "2024, 12, 31", "2023, 12, 31", "1900, 3, 1"],
        ),
        t(
            "minutes_between",
            "(start: str, end: str) -> int",
            "easy",
            "start and end are times 'HH:MM' on the same day and end is not earlier than start. Return the "
            "number of minutes from start to end.",
            """
          h1, m1 = (int(p) for p in start.split(":"))
          h2, m2 = (int(p) for p in end.split(":"))
          return (h2 * 60 + m2) - (h1 * 60 + m1)
          """,
            ["'09:30', '11:15'", "'00:00', '23:59'", "'12:00', '12:00'", "'08:45', '09:05'"],
        ),
        t(
            "add_minutes",
            "(clock: str, minutes: int) -> str",
            "medium",
            "clock is a 24-hour time 'HH:MM'. Return the time that is minutes later (minutes >= 0), "
            "also as 'HH:MM', wrapping around midnight.",
            """
          h, m = (int(p) for p in clock.split(":"))
          total = (h * 60 + m + minutes) % (24 * 60)
          return f"{total // 60:02d}:{total % 60:02d}"
          """,
            ["'10:15', 30", "'23:50', 20", "'00:00', 0", "'12:00', 1440", "'09:59', 1", "'22:00', 3000"],
        ),
        t(
            "weekday_after",
            "(day: str, n: int) -> str",
            "easy",
            "day is one of 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'. Return the name of the day "
            "that comes n days later (n >= 0).",
            """
          days = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
          return days[(days.index(day) + n) % 7]
          """,
            ["'Mon', 3", "'Sat', 2", "'Wed', 0", "'Sun', 7", "'Fri', 100"],
        ),
        t(
            "seconds_to_clock",
            "(seconds: int) -> str",
            "easy",
            "Format a number of seconds from 0 to 359999 as 'HH:MM:SS', with two digits in each field.",
            """
          return f"{seconds // 3600:02d}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"
          """,
            ["3725", "0", "59", "86399", "359999"],
        ),
        t(
            "to_24_hour_clock",
            "(clock: str) -> str",
            "medium",
            "clock is a 12-hour time like '07:15 PM' or '12:05 AM' (12 AM is midnight, 12 PM is noon). "
            "Return the same time on the 24-hour clock as 'HH:MM'.",
            """
          time_part, period = clock.split()
          h, m = (int(p) for p in time_part.split(":"))
          h = h % 12 + (12 if period == "PM" else 0)
          return f"{h:02d}:{m:02d}"
          """,
            ["'07:15 PM'", "'12:05 AM'", "'12:30 PM'", "'01:00 AM'", "'11:59 PM'"],
        ),
        t(
            "days_in_year",
            "(year: int) -> int",
            "easy",
            "Return 366 if year is a leap year in the Gregorian calendar and 365 otherwise.",
            f"""
          return 366 if {leap} else 365
          """,
            ["2024", "2023", "1900", "2000"],
        ),
        t(
            "weeks_and_days",
            "(days: int) -> Tuple[int, int]",
            "easy",
            "Split a non-negative number of days into whole weeks and the days left over; return "
            "(weeks, days).",
            """
          return (days // 7, days % 7)
          """,
            ["10", "0", "7", "6", "365"],
        ),
        t(
            "count_leap_years",
            "(start: int, end: int) -> int",
            "medium",
            "Return how many Gregorian leap years there are from start to end, both included. Return 0 "
            "if start > end.",
            """
          return sum(1 for y in range(start, end + 1) if (y % 4 == 0 and y % 100 != 0) or y % 400 == 0)
          """,
            ["2000, 2010", "2001, 2003", "1896, 1904", "2024, 2024", "2010, 2000", "1600, 2000"],
        ),
        t(
            "next_date",
            "(year: int, month: int, day: int) -> Tuple[int, int, int]",
            "medium",
            "Return the date of the day after the given valid Gregorian date, as (year, month, day).",
            f"""
          lengths = [31, 29 if {leap} else 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
          if day < lengths[month - 1]:
              return (year, month, day + 1)
          if month < 12:
              return (year, month + 1, 1)
          return (year + 1, 1, 1)
          """,
            ["2023, 5, 9", "2023, 12, 31", "2024, 2, 28", "2023, 2, 28", "2023, 4, 30", "1900, 2, 28"],
        ),
        t(
            "quarter_of_month",
            "(month: int) -> int",
            "easy",
            "Return the quarter of the year (1 to 4) that month belongs to, where month 1 is January and "
            "month 12 is December.",
            """
          return (month - 1) // 3 + 1
          """,
            ["2", "7", "1", "12", "3", "10"],
        ),
    ]
