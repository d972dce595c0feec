//! Business calendars: fixed cases across daylight-saving changes in
//! Europe/Berlin, America/New_York and Europe/Moscow (no DST), lunch breaks,
//! holidays (dates, ranges, an iCalendar file), night shifts, configuration
//! errors, and property tests of `add` and `elapsed`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::LazyLock;
use std::time::Instant;

use chrono::{DateTime, Duration, NaiveDateTime, Utc};
use helpdesk::calendar::{Calendar, CalendarConfig, TimeZone};
use proptest::prelude::*;

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/calendar")
}

/// A calendar from its YAML configuration.
fn calendar(yaml: &str) -> Calendar {
    let config: CalendarConfig = serde_saphyr::from_str(yaml).expect("calendar YAML parses");
    config.build(&fixtures()).expect("calendar builds")
}

/// The calendars in the fixture file, by name.
fn fixture_calendars() -> BTreeMap<String, Calendar> {
    let text = std::fs::read_to_string(fixtures().join("calendars.yaml")).expect("fixture");
    let configs: BTreeMap<String, CalendarConfig> =
        serde_saphyr::from_str(&text).expect("fixture calendars parse");
    configs
        .into_iter()
        .map(|(name, config)| {
            let calendar = config.build(&fixtures()).expect("fixture calendar builds");
            (name, calendar)
        })
        .collect()
}

fn office() -> Calendar {
    fixture_calendars().remove("office").expect("office")
}

/// 9-18 Monday to Friday in `zone`, the issue's calendar.
fn nine_to_six(zone: &str) -> Calendar {
    calendar(&format!(
        r#"
time_zone: {zone}
week:
  mon: ["09:00-18:00"]
  tue: ["09:00-18:00"]
  wed: ["09:00-18:00"]
  thu: ["09:00-18:00"]
  fri: ["09:00-18:00"]
"#
    ))
}

/// The same interval every day in `zone`.
fn daily(zone: &str, interval: &str) -> Calendar {
    let days = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
        .map(|day| format!("  {day}: [\"{interval}\"]\n"))
        .concat();
    calendar(&format!("time_zone: {zone}\nweek:\n{days}"))
}

/// The instant of local wall-clock time `text` (`2026-03-27 17:50`) in the
/// calendar's zone.
fn local(calendar: &Calendar, text: &str) -> DateTime<Utc> {
    let naive = NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M")
        .or_else(|_| NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S"))
        .expect("local time");
    calendar.zone().resolve(naive).expect("in range")
}

/// The same zone in chrono-tz, the independent implementation of the IANA
/// rules these tests check the calendar's wall clock against.
fn oracle(zone: TimeZone) -> chrono_tz::Tz {
    zone.name().parse().expect("chrono-tz knows the zone")
}

/// An instant as local time in the calendar's zone, with the weekday.
fn show(calendar: &Calendar, at: DateTime<Utc>) -> String {
    at.with_timezone(&oracle(calendar.zone()))
        .format("%a %Y-%m-%d %H:%M")
        .to_string()
}

fn utc(text: &str) -> DateTime<Utc> {
    text.parse().expect("UTC instant")
}

fn hours(n: i64) -> Duration {
    Duration::hours(n)
}

/// Business time over one whole local day.
fn day_length(calendar: &Calendar, date: &str) -> Duration {
    let start = local(calendar, &format!("{date} 00:00"));
    let next = chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d")
        .expect("date")
        .succ_opt()
        .expect("next day");
    let end = local(calendar, &format!("{next} 00:00"));
    calendar.elapsed(start, end)
}

// ---- the issue's case, in three zones and across both changes ----

#[test]
fn a_ticket_created_friday_1750_with_a_2h_limit_breaches_monday_1050_in_every_zone() {
    let cases = [
        // zone, Friday, expected Monday in UTC
        ("Europe/Berlin", "2026-03-27", "2026-03-30T08:50:00Z"), // clocks went forward on Sunday
        ("Europe/Berlin", "2026-10-23", "2026-10-26T09:50:00Z"), // clocks went back on Sunday
        ("America/New_York", "2026-03-06", "2026-03-09T14:50:00Z"),
        ("America/New_York", "2026-10-30", "2026-11-02T15:50:00Z"),
        ("Europe/Moscow", "2026-03-27", "2026-03-30T07:50:00Z"),
        ("Europe/Moscow", "2026-10-23", "2026-10-26T07:50:00Z"),
    ];
    for (zone, friday, monday) in cases {
        let calendar = nine_to_six(zone);
        let created = local(&calendar, &format!("{friday} 17:50"));
        let breach = calendar.add(created, hours(2));
        assert_eq!(breach, utc(monday), "{zone} from {friday}");
        assert!(
            show(&calendar, breach).starts_with("Mon ")
                && show(&calendar, breach).ends_with(" 10:50")
        );
        assert_eq!(calendar.elapsed(created, breach), hours(2), "{zone}");
    }
}

// ---- daylight saving ----

#[test]
fn an_interval_from_1_to_4_lasts_2_hours_on_spring_forward_and_4_on_fall_back() {
    let cases = [
        ("Europe/Berlin", "2026-03-29", 2),
        ("Europe/Berlin", "2026-10-25", 4),
        ("Europe/Berlin", "2026-03-28", 3),
        ("America/New_York", "2026-03-08", 2),
        ("America/New_York", "2026-11-01", 4),
        ("America/New_York", "2026-03-07", 3),
        ("Europe/Moscow", "2026-03-29", 3),
        ("Europe/Moscow", "2026-10-25", 3),
    ];
    for (zone, date, expected) in cases {
        let calendar = daily(zone, "01:00-04:00");
        assert_eq!(
            day_length(&calendar, date),
            hours(expected),
            "{zone} on {date}"
        );
        // The whole day's hours, added from 01:00, end at 04:00 local.
        let opening = local(&calendar, &format!("{date} 01:00"));
        let close = calendar.add(opening, hours(expected));
        assert_eq!(
            show(&calendar, close)[4..],
            format!("{date} 04:00"),
            "{zone}"
        );
    }
}

#[test]
fn a_skipped_opening_time_opens_at_the_instant_the_clocks_jump() {
    for (zone, saturday, jump) in [
        ("Europe/Berlin", "2026-03-28", "2026-03-29T01:00:00Z"),
        ("America/New_York", "2026-03-07", "2026-03-08T07:00:00Z"),
    ] {
        let calendar = calendar(&format!(
            "time_zone: {zone}\nweek: {{ sun: [\"02:30-10:00\"] }}"
        ));
        let opening = calendar.next_open(local(&calendar, &format!("{saturday} 12:00")));
        assert_eq!(opening, utc(jump), "{zone}");
        assert!(show(&calendar, opening).ends_with(" 03:00"), "{zone}");
        // 02:30 does not exist: the day has 03:00-10:00.
        assert_eq!(
            calendar.elapsed(opening, opening + hours(24)),
            hours(7),
            "{zone}"
        );
    }
}

#[test]
fn an_ambiguous_opening_time_means_its_first_occurrence() {
    let berlin = calendar("time_zone: Europe/Berlin\nweek: { sun: [\"02:30-05:00\"] }");
    let opening = berlin.next_open(local(&berlin, "2026-10-24 12:00"));
    assert_eq!(opening, utc("2026-10-25T00:30:00Z")); // 02:30 CEST, the first 02:30
    assert_eq!(
        berlin.elapsed(opening, opening + hours(24)),
        Duration::minutes(210)
    );
    assert!(berlin.is_open(utc("2026-10-25T01:15:00Z"))); // the second 02:15 is inside

    let new_york = calendar("time_zone: America/New_York\nweek: { sun: [\"01:30-03:00\"] }");
    let opening = new_york.next_open(local(&new_york, "2026-10-31 12:00"));
    assert_eq!(opening, utc("2026-11-01T05:30:00Z")); // 01:30 EDT
    assert_eq!(
        new_york.elapsed(opening, opening + hours(24)),
        Duration::minutes(150)
    );
}

#[test]
fn an_interval_inside_the_skipped_hour_has_no_time_that_day() {
    let calendar = daily("Europe/Berlin", "02:10-02:50");
    assert_eq!(day_length(&calendar, "2026-03-29"), Duration::zero());
    assert_eq!(day_length(&calendar, "2026-03-30"), Duration::minutes(40));
    let saturday = local(&calendar, "2026-03-28 03:00");
    assert_eq!(
        show(&calendar, calendar.next_open(saturday)),
        "Mon 2026-03-30 02:10"
    );
}

// ---- lunch breaks, holidays, night shifts ----

#[test]
fn lunch_breaks_are_not_business_time() {
    let office = office();
    let before_lunch = local(&office, "2026-03-16 12:30");
    assert_eq!(
        show(&office, office.add(before_lunch, hours(1))),
        "Mon 2026-03-16 14:30"
    );
    assert_eq!(
        office.elapsed(
            local(&office, "2026-03-16 12:00"),
            local(&office, "2026-03-16 15:00")
        ),
        hours(2)
    );
    assert!(office.is_open(local(&office, "2026-03-16 12:59:59")));
    assert!(!office.is_open(local(&office, "2026-03-16 13:00")));
    assert!(!office.is_open(local(&office, "2026-03-16 13:30")));
    assert!(office.is_open(local(&office, "2026-03-16 14:00")));
    assert!(!office.is_open(local(&office, "2026-03-16 18:00")));
    assert_eq!(
        office.next_open(local(&office, "2026-03-16 13:30")),
        local(&office, "2026-03-16 14:00")
    );
    // A full day is 8 hours.
    assert_eq!(day_length(&office, "2026-03-16"), hours(8));
}

#[test]
fn holidays_from_a_date_a_range_and_an_ics_file_are_skipped() {
    let office = office();
    let cases = [
        // Good Friday (a date), then Easter Monday and a bridge day (a range).
        ("2026-04-02 17:00", "Wed 2026-04-08 10:00"),
        // From the .ics: a one-day event with DTEND.
        ("2026-04-30 17:00", "Mon 2026-05-04 10:00"),
        // From the .ics: a DTSTART without VALUE=DATE.
        ("2026-05-13 17:00", "Fri 2026-05-15 10:00"),
        // From the .ics: December 24 to 26 (DTEND 27 is exclusive).
        ("2026-12-23 17:00", "Mon 2026-12-28 10:00"),
        // From the .ics: October 3 every year since 1990.
        ("2029-10-02 17:00", "Thu 2029-10-04 10:00"),
    ];
    for (created, due) in cases {
        let start = local(&office, created);
        let deadline = office.add(start, hours(2));
        assert_eq!(show(&office, deadline), due, "from {created}");
        assert_eq!(office.elapsed(start, deadline), hours(2));
    }
    assert!(!office.is_open(local(&office, "2028-10-03 10:00")));
    assert!(office.is_open(local(&office, "2028-10-04 10:00")));
    assert!(office.is_open(local(&office, "2026-12-28 10:00")));
    // The cancelled event is not a holiday.
    assert!(office.is_open(local(&office, "2026-06-12 10:00")));
}

#[test]
fn a_night_shift_ending_at_midnight_continues_into_the_next_morning() {
    let night = fixture_calendars()
        .remove("night_shift")
        .expect("night_shift");
    let late = local(&night, "2026-03-16 23:00");
    assert_eq!(
        show(&night, night.add(late, hours(2))),
        "Tue 2026-03-17 01:00"
    );
    assert_eq!(
        night.elapsed(
            local(&night, "2026-03-16 21:00"),
            local(&night, "2026-03-17 07:00")
        ),
        hours(8)
    );
    let midnight = local(&night, "2026-03-17 00:00");
    assert!(night.is_open(midnight));
    assert_eq!(night.next_open(midnight), midnight);
    let second_before = midnight - Duration::seconds(1);
    assert!(night.is_open(second_before));
    assert_eq!(night.next_open(second_before), second_before);
    // Across spring forward: Sunday's 00:00-06:00 is 5 hours.
    let saturday = local(&night, "2026-03-28 23:00");
    assert_eq!(night.add(saturday, hours(4)), utc("2026-03-29T02:00:00Z"));
    assert_eq!(
        show(&night, night.add(saturday, hours(4))),
        "Sun 2026-03-29 04:00"
    );
    // Across fall back: Sunday's 00:00-06:00 is 7 hours; 8 hours end exactly at 06:00.
    let saturday = local(&night, "2026-10-24 23:00");
    assert_eq!(night.add(saturday, hours(8)), utc("2026-10-25T05:00:00Z"));
    assert_eq!(
        show(&night, night.add(saturday, hours(8))),
        "Sun 2026-10-25 06:00"
    );
}

// ---- edges: zero, 24/7, always open with holidays, long durations ----

#[test]
fn a_zero_duration_returns_the_start_even_outside_working_hours() {
    let office = office();
    let saturday = local(&office, "2026-03-14 12:00");
    assert_eq!(office.add(saturday, Duration::zero()), saturday);
    assert_eq!(office.add(saturday, Duration::seconds(-5)), saturday);
    assert_eq!(
        office.add(saturday, Duration::seconds(1)),
        local(&office, "2026-03-16 09:00:01")
    );
    let monday = local(&office, "2026-03-16 10:00");
    assert_eq!(office.add(monday, Duration::zero()), monday);
}

#[test]
fn a_deadline_that_uses_up_the_day_is_the_closing_time_not_the_next_opening() {
    let calendar = nine_to_six("Europe/Berlin");
    let created = local(&calendar, "2026-03-27 17:50");
    assert_eq!(
        show(&calendar, calendar.add(created, Duration::minutes(10))),
        "Fri 2026-03-27 18:00"
    );
    assert_eq!(
        show(&calendar, calendar.add(created, Duration::minutes(11))),
        "Mon 2026-03-30 09:01"
    );
}

#[test]
fn a_24x7_utc_calendar_adds_plain_wall_time() {
    let always = fixture_calendars()
        .remove("support_24x7")
        .expect("support_24x7");
    let start = utc("2026-03-29T00:30:00.250Z");
    assert_eq!(always.add(start, hours(500)), start + hours(500));
    assert_eq!(always.elapsed(start, start + hours(500)), hours(500));
    assert!(always.is_open(start));
    assert_eq!(always.next_open(start), start);
}

#[test]
fn always_open_with_holidays_closes_only_those_local_dates() {
    let calendar =
        calendar("{ time_zone: Europe/Berlin, always_open: true, holidays: [\"2026-12-25\"] }");
    assert_eq!(
        calendar.elapsed(
            local(&calendar, "2026-12-24 00:00"),
            local(&calendar, "2026-12-27 00:00")
        ),
        hours(48)
    );
    let late = local(&calendar, "2026-12-24 23:00");
    assert_eq!(
        show(&calendar, calendar.add(late, hours(2))),
        "Sat 2026-12-26 01:00"
    );
    assert!(!calendar.is_open(local(&calendar, "2026-12-25 12:00")));
}

#[test]
fn a_year_of_business_time_is_computed_by_days_not_seconds() {
    let office = office();
    let start = local(&office, "2026-01-05 09:00");
    let year = hours(2000); // about 250 working days of 8 hours
    let began = Instant::now();
    let deadline = office.add(start, year);
    let measured = office.elapsed(start, deadline);
    let took = began.elapsed();
    assert_eq!(measured, year);
    // 257 weekdays from January 5 to December 29, less 7 holidays on
    // weekdays, are 250 days of 8 hours; the last one is used up at 18:00.
    assert_eq!(show(&office, deadline), "Tue 2026-12-29 18:00");
    assert!(took.as_millis() < 500, "a year took {took:?}");
}

#[test]
fn answers_beyond_the_representable_range_saturate() {
    let office = office();
    let start = local(&office, "2026-01-05 09:00");
    assert_eq!(office.add(start, Duration::MAX), DateTime::<Utc>::MAX_UTC);
}

#[test]
fn a_long_closure_is_crossed_in_one_step_and_the_range_ends_do_not_panic() {
    let closed = calendar(
        "time_zone: America/New_York\nweek: { mon: [\"09:00-18:00\"] }\nholidays: [\"2026-01-01..9999-12-31\"]",
    );
    let start = utc("2026-06-01T12:00:00Z");
    let began = Instant::now();
    let opening = closed.next_open(start);
    assert_eq!(show(&closed, opening), "Mon +10000-01-03 09:00");
    assert_eq!(closed.add(start, hours(1)), opening + hours(1));
    assert_eq!(closed.elapsed(start, opening), Duration::zero());
    assert!(
        began.elapsed().as_millis() < 500,
        "took {:?}",
        began.elapsed()
    );

    let office = office();
    let end = DateTime::<Utc>::MAX_UTC;
    let _ = office.is_open(end);
    assert!(office.next_open(end) >= end - Duration::days(7));
    assert_eq!(office.add(end - hours(1), hours(200)), end);
    assert_eq!(office.elapsed(end, end), Duration::zero());
    let _ = office.next_open(DateTime::<Utc>::MIN_UTC);
}

// ---- configuration ----

#[test]
fn the_issue_example_calendars_parse_and_build() {
    let calendars = fixture_calendars();
    assert_eq!(
        calendars.keys().map(String::as_str).collect::<Vec<_>>(),
        ["night_shift", "office", "support_24x7"]
    );
    assert_eq!(calendars["office"].zone().name(), "Europe/Berlin");
    assert!(calendars["support_24x7"].week().is_none());
}

#[test]
fn configuration_errors_say_what_is_wrong() {
    let cases = [
        (
            "time_zone: Europe/Berlin\nweek: { mon: [\"09:00-13:00\", \"12:00-18:00\"] }",
            "09:00-13:00 and 12:00-18:00 overlap",
        ),
        (
            "time_zone: Europe/Berlin\nweek: { mon: [\"22:00-06:00\"] }",
            "crosses midnight",
        ),
        (
            "time_zone: Europe/Berlin\nweek: { mon: [\"18:00-09:00\"] }",
            "split it into 18:00-24:00",
        ),
        (
            "time_zone: Europe/Berlin\nweek: { mon: [\"24:00-24:00\"] }",
            "24:00 can only end",
        ),
        (
            "time_zone: Europe/Berlin\nweek: { mon: [\"9-18\"] }",
            "HH:MM",
        ),
        (
            "time_zone: Europe/Berlin\nweek: { mon: [\"09:00-09:00\"] }",
            "empty",
        ),
        (
            "time_zone: Mars/Olympus\nalways_open: true",
            "unknown time zone \"Mars/Olympus\"",
        ),
        (
            "time_zone: UTC\nweek: { monday: [\"09:00-18:00\"] }",
            "unknown field",
        ),
        (
            "time_zone: UTC\nalways_open: true\nopen: true",
            "unknown field",
        ),
        (
            "time_zone: UTC\nalways_open: true\nholidays: [\"2026-02-30\"]",
            "not a calendar date",
        ),
        (
            "time_zone: UTC\nalways_open: true\nholidays: [\"2026-12-26..2026-12-24\"]",
            "ends before it starts",
        ),
        (
            "time_zone: UTC\nalways_open: true\nweek: { mon: [\"09:00-18:00\"] }",
            "not both",
        ),
        ("time_zone: UTC", "needs `week`"),
        ("time_zone: UTC\nweek: {}", "no working hours"),
        (
            "time_zone: UTC\nalways_open: true\nholidays_ics: missing.ics",
            "cannot read holiday file",
        ),
    ];
    for (yaml, expected) in cases {
        let message = match serde_saphyr::from_str::<CalendarConfig>(yaml) {
            Err(error) => error.to_string(),
            Ok(config) => match config.build(&fixtures()) {
                Err(error) => error.to_string(),
                Ok(_) => panic!("{yaml:?} should be refused"),
            },
        };
        assert!(message.contains(expected), "{yaml:?}: {message}");
    }
}

#[test]
fn a_timed_event_in_the_ics_file_is_refused_by_name() {
    let config: CalendarConfig =
        serde_saphyr::from_str("time_zone: UTC\nalways_open: true\nholidays_ics: team.ics")
            .expect("parses");
    let error =
        config
            .build_with(|_| {
                Ok("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nUID:x\r\nSUMMARY:Offsite\r\n\
                DTSTART;TZID=Europe/Berlin:20260601T090000\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
                .to_owned())
            })
            .expect_err("timed events are refused");
    let message = error.to_string();
    assert!(
        message.contains("team.ics") && message.contains("Offsite"),
        "{message}"
    );
}

// ---- properties ----

/// Calendars the properties run on: lunch breaks and holidays in Berlin, a
/// schedule that straddles the New York changes (01:00-04:00) with a night
/// shift, Moscow office hours, and an always-open calendar with holidays.
static CALENDARS: LazyLock<Vec<Calendar>> = LazyLock::new(|| {
    let mut all: Vec<Calendar> = fixture_calendars().into_values().collect();
    all.push(calendar(
        r#"
time_zone: America/New_York
week:
  mon: ["01:00-04:00", "09:00-12:00", "12:30-17:00"]
  tue: ["01:30-02:30", "09:00-17:00", "22:00-24:00"]
  wed: ["00:00-06:00", "09:00-17:00"]
  sat: ["02:00-03:00"]
  sun: ["00:30-03:30", "22:00-24:00"]
holidays: ["2026-07-03", "2027-12-24..2028-01-02"]
"#,
    ));
    all.push(nine_to_six("Europe/Moscow"));
    all.push(calendar(
        "{ time_zone: America/New_York, always_open: true, holidays: [\"2026-11-01\", \"2027-03-14\"] }",
    ));
    all
});

static OFFICE: LazyLock<Calendar> = LazyLock::new(office);

/// Daylight-saving changes in the zones above, as UTC seconds.
const CHANGES: [&str; 8] = [
    "2026-03-29T01:00:00Z",
    "2026-10-25T01:00:00Z",
    "2026-03-08T07:00:00Z",
    "2026-11-01T06:00:00Z",
    "2027-03-28T01:00:00Z",
    "2027-10-31T01:00:00Z",
    "2027-03-14T07:00:00Z",
    "2027-11-07T06:00:00Z",
];

/// Instants from 2024 to 2030, half of them within three days of a change,
/// some with fractions of a second.
fn instants() -> impl Strategy<Value = DateTime<Utc>> {
    let from = utc("2024-01-01T00:00:00Z").timestamp();
    let to = utc("2031-01-01T00:00:00Z").timestamp();
    let anywhere = (from..to).boxed();
    let near_change = (0..CHANGES.len(), -3 * 86_400i64..3 * 86_400)
        .prop_map(|(i, offset)| utc(CHANGES[i]).timestamp() + offset)
        .boxed();
    let nanos = prop_oneof![Just(0u32), 0u32..1_000_000_000];
    (prop_oneof![anywhere, near_change], nanos)
        .prop_map(|(seconds, nanos)| DateTime::from_timestamp(seconds, nanos).expect("in range"))
}

/// Business durations from zero to 500 hours, sometimes with fractions.
fn durations() -> impl Strategy<Value = Duration> {
    prop_oneof![
        Just(Duration::zero()),
        (0i64..=500 * 3600).prop_map(Duration::seconds),
        (0i64..=500 * 3600 * 1000).prop_map(Duration::milliseconds),
    ]
}

fn calendars() -> impl Strategy<Value = usize> {
    0..CALENDARS.len()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn measuring_what_was_added_gives_the_duration_back(
        which in calendars(), start in instants(), business in durations()
    ) {
        let calendar = &CALENDARS[which];
        let deadline = calendar.add(start, business);
        prop_assert!(deadline >= start);
        prop_assert_eq!(calendar.elapsed(start, deadline), business);
    }

    #[test]
    fn the_deadline_is_the_earliest_instant_with_that_much_business_time(
        which in calendars(), start in instants(), business in durations()
    ) {
        prop_assume!(business > Duration::zero());
        let calendar = &CALENDARS[which];
        let deadline = calendar.add(start, business);
        let just_before = deadline - Duration::nanoseconds(1);
        prop_assert!(calendar.elapsed(start, just_before) < business);
        // Just before the deadline the calendar is open: it is never reached
        // while closed.
        prop_assert!(calendar.is_open(just_before));
    }

    #[test]
    fn adding_more_business_time_never_gives_an_earlier_deadline(
        which in calendars(), start in instants(), a in durations(), b in durations()
    ) {
        let calendar = &CALENDARS[which];
        let (short, long) = if a <= b { (a, b) } else { (b, a) };
        prop_assert!(calendar.add(start, short) <= calendar.add(start, long));
    }

    #[test]
    fn elapsed_time_adds_up_over_consecutive_stretches(
        which in calendars(), a in instants(), gaps in (0i64..40 * 86_400, 0i64..40 * 86_400)
    ) {
        let calendar = &CALENDARS[which];
        let b = a + Duration::seconds(gaps.0);
        let c = b + Duration::seconds(gaps.1);
        prop_assert_eq!(calendar.elapsed(a, b) + calendar.elapsed(b, c), calendar.elapsed(a, c));
        prop_assert_eq!(calendar.elapsed(c, a), Duration::zero());
    }

    #[test]
    fn the_next_opening_is_open_and_no_business_time_passes_before_it(
        which in calendars(), at in instants()
    ) {
        let calendar = &CALENDARS[which];
        let opening = calendar.next_open(at);
        prop_assert!(opening >= at);
        prop_assert!(calendar.is_open(opening));
        prop_assert_eq!(calendar.elapsed(at, opening), Duration::zero());
        prop_assert_eq!(calendar.is_open(at), opening == at);
    }

    #[test]
    fn a_24x7_utc_calendar_adds_and_measures_plain_wall_time(
        start in instants(), business in durations()
    ) {
        let always = calendar("{ time_zone: UTC, always_open: true }");
        prop_assert_eq!(always.add(start, business), start + business);
        prop_assert_eq!(always.elapsed(start, start + business), business);
    }

    #[test]
    fn the_office_is_open_exactly_when_its_wall_clock_schedule_says(at in instants()) {
        // 09:00-13:00 and 14:00-18:00 Monday to Friday, except holidays; far
        // from the night hours when clocks change, so the wall clock decides.
        let office = &*OFFICE;
        let zone = oracle(office.zone());
        let wall = at.with_timezone(&zone);
        let weekday = chrono::Datelike::weekday(&wall);
        let minutes = chrono::Timelike::hour(&wall) * 60 + chrono::Timelike::minute(&wall);
        let working_day = weekday.num_days_from_monday() < 5
            && !office.holidays().is_some_and(|h| h.contains(wall.date_naive()));
        let in_hours = (9 * 60..13 * 60).contains(&minutes) || (14 * 60..18 * 60).contains(&minutes);
        prop_assert_eq!(office.is_open(at), working_day && in_hours);
    }
}

// ---- benchmark ----

/// `cargo test -p helpdesk --release --test calendar -- --ignored --nocapture`
#[test]
#[ignore = "benchmark; run by hand"]
fn benchmark_adding_200_business_hours_over_lunch_breaks_and_holidays() {
    let office = office();
    let start = local(&office, "2026-11-20 16:45");
    let rounds = 10_000u32;
    let began = Instant::now();
    let mut last = start;
    for i in 0..rounds {
        last = office.add(start + Duration::minutes(i64::from(i % 600)), hours(200));
    }
    let took = began.elapsed();
    println!(
        "add(200 business hours): {:?} per call over {rounds} calls (last deadline {})",
        took / rounds,
        show(&office, last)
    );
}
