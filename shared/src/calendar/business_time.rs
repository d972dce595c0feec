//! The operations on business time: [`Calendar::is_open`],
//! [`Calendar::next_open`], [`Calendar::add`] and [`Calendar::elapsed`].
//!
//! All four walk the same sequence of open stretches: for each local date
//! from the day before the instant onward, the weekday's intervals (none on
//! a holiday), each turned into a pair of UTC instants by the zone's rule
//! ([`super::zone`]). Because that rule never goes backwards, the stretches
//! come out sorted and disjoint (touching at most), across days too, and
//! the work is proportional to the number of days spanned and intervals in
//! them, never to the number of seconds; a configured holiday range is
//! crossed in one step.

use chrono::{DateTime, Duration, NaiveDate, NaiveTime, Utc};

use super::holidays::Holidays;
use super::schedule::{Interval, TimeOfDay, WeekSchedule};
use super::zone::TimeZone;
use super::{Calendar, Hours, Weekly};

/// What operations return when the answer lies beyond chrono's range (a
/// calendar that never opens again, or an absurd duration).
const FOREVER: DateTime<Utc> = DateTime::<Utc>::MAX_UTC;

impl Calendar {
    /// Whether `at` is inside working time. Intervals include their start
    /// and exclude their end: a `09:00-18:00` day is open at 09:00:00 and
    /// closed at 18:00:00.
    pub fn is_open(&self, at: DateTime<Utc>) -> bool {
        let Hours::Weekly(weekly) = &self.hours else {
            return true;
        };
        for (start, end) in Spans::around(self.zone, weekly, at) {
            if start > at {
                return false;
            }
            if at < end {
                return true;
            }
        }
        false
    }

    /// `at` if the calendar is open then, otherwise the next opening. For a
    /// calendar that never opens again, `DateTime::<Utc>::MAX_UTC`.
    pub fn next_open(&self, at: DateTime<Utc>) -> DateTime<Utc> {
        let Hours::Weekly(weekly) = &self.hours else {
            return at;
        };
        Spans::around(self.zone, weekly, at)
            .find(|&(_, end)| end > at)
            .map_or(FOREVER, |(start, _)| start.max(at))
    }

    /// The earliest instant `t >= start` with `elapsed(start, t) == business`:
    /// the deadline `business` of working time after `start`.
    ///
    /// - Counting begins at `start`, or at the next opening if closed then.
    /// - A zero (or negative) duration returns `start` itself, open or not.
    /// - A deadline that uses up an interval exactly is that interval's end
    ///   (Friday 18:00, not Monday 09:00); both have the same business time.
    /// - Beyond chrono's range the answer is `DateTime::<Utc>::MAX_UTC`.
    ///
    /// So `elapsed(start, add(start, d)) == d` for every `d >= 0`, and `add`
    /// never decreases as `d` grows.
    pub fn add(&self, start: DateTime<Utc>, business: Duration) -> DateTime<Utc> {
        if business <= Duration::zero() {
            return start;
        }
        // Business time never runs faster than the wall clock.
        let Some(earliest) = start.checked_add_signed(business) else {
            return FOREVER;
        };
        let Hours::Weekly(weekly) = &self.hours else {
            return earliest;
        };
        let mut left = business;
        for (open, close) in Spans::around(self.zone, weekly, start) {
            if close <= start {
                continue;
            }
            let open = open.max(start);
            let here = close - open;
            if here >= left {
                return open + left;
            }
            left -= here;
        }
        FOREVER
    }

    /// Working time between `from` and `to`; zero if `to <= from`. Exact to
    /// the nanosecond, so additive: `elapsed(a, b) + elapsed(b, c) ==
    /// elapsed(a, c)` for `a <= b <= c`.
    pub fn elapsed(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Duration {
        if to <= from {
            return Duration::zero();
        }
        let Hours::Weekly(weekly) = &self.hours else {
            return to - from;
        };
        let mut total = Duration::zero();
        for (open, close) in Spans::around(self.zone, weekly, from) {
            if open >= to {
                break;
            }
            let (open, close) = (open.max(from), close.min(to));
            if close > open {
                total += close - open;
            }
        }
        total
    }
}

/// The open stretches, as UTC instants, in order, starting with those of
/// the local day before a given instant.
struct Spans<'a> {
    zone: TimeZone,
    week: &'a WeekSchedule,
    holidays: &'a Holidays,
    date: NaiveDate,
    today: &'a [Interval],
    next: usize,
}

impl<'a> Spans<'a> {
    fn around(zone: TimeZone, weekly: &'a Weekly, at: DateTime<Utc>) -> Self {
        let date = zone.local(at).date();
        // The day before too: its last interval may end after `at` when the
        // clocks went back around midnight.
        let date = date.pred_opt().unwrap_or(date);
        let mut spans = Self {
            zone,
            week: &weekly.week,
            holidays: &weekly.holidays,
            date,
            today: &[],
            next: 0,
        };
        spans.today = spans.hours_on(date);
        spans
    }

    fn hours_on(&self, date: NaiveDate) -> &'a [Interval] {
        if self.holidays.contains(date) {
            &[]
        } else {
            self.week.day(chrono::Datelike::weekday(&date)).intervals()
        }
    }

    /// The instant of `time` on the current date (`24:00` is the next
    /// day's midnight).
    fn instant(&self, time: TimeOfDay) -> Option<DateTime<Utc>> {
        let local = if time == TimeOfDay::END_OF_DAY {
            self.date.succ_opt()?.and_time(NaiveTime::MIN)
        } else {
            self.date
                .and_time(NaiveTime::from_num_seconds_from_midnight_opt(
                    time.seconds(),
                    0,
                )?)
        };
        self.zone.resolve(local)
    }
}

impl Iterator for Spans<'_> {
    type Item = (DateTime<Utc>, DateTime<Utc>);

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(&interval) = self.today.get(self.next) {
                self.next += 1;
                let start = self.instant(interval.start())?;
                let end = self.instant(interval.end())?;
                // An interval inside a skipped hour has no length.
                if start < end {
                    return Some((start, end));
                }
                continue;
            }
            self.date = self.date.succ_opt()?;
            self.next = 0;
            if let Some(closure) = self.holidays.span_containing(self.date) {
                // Closed through the span's last day: go there directly.
                self.date = closure.last();
                self.today = &[];
            } else {
                self.today = self.hours_on(self.date);
            }
        }
    }
}
