//! Working-time arithmetic checked against hand-counted calendars.

use super::*;
use proptest::prelude::*;

fn spec(tz: &str, week: &[(&str, &[&str])]) -> CalendarSpec {
    CalendarSpec {
        time_zone: tz.into(),
        weekly: week
            .iter()
            .map(|(d, h)| (d.to_string(), h.iter().map(|s| s.to_string()).collect()))
            .collect(),
        holidays: vec![],
        out_of_office: vec![],
    }
}

fn office(tz: &str) -> CalendarSpec {
    let day: &[&str] = &["09:00-12:30", "13:30-17:30"];
    spec(
        tz,
        &[
            ("mon", day),
            ("tue", day),
            ("wed", day),
            ("thu", day),
            ("fri", day),
        ],
    )
}

fn ts(s: &str) -> Timestamp {
    s.parse().unwrap()
}

fn hours(h: f64) -> SignedDuration {
    SignedDuration::from_secs_f64(h * 3600.0)
}

#[test]
fn weekends_lunch_and_holidays() {
    let mut s = office("Europe/Berlin");
    s.holidays.push(HolidaySpec {
        date: "2026-12-24".into(),
        name: Some("Christmas Eve".into()),
        hours: vec!["09:00-12:00".into()],
    });
    s.holidays.push(HolidaySpec {
        date: "2026-12-25".into(),
        name: None,
        hours: vec![],
    });
    let cal = WorkingCalendar::from_spec(&s).unwrap();
    // Friday 16:30 Berlin (15:30Z) + 4 working hours = Monday 12:00 Berlin
    // (1 h on Friday, 3 h on Monday morning).
    let due = cal
        .add_working(ts("2026-11-27T15:30:00Z"), hours(4.0))
        .unwrap();
    assert_eq!(due, ts("2026-11-30T11:00:00Z"));
    // Lunch is skipped: Mon 12:00 + 1 h = 14:00.
    assert_eq!(
        cal.add_working(ts("2026-11-30T11:00:00Z"), hours(1.0))
            .unwrap(),
        ts("2026-11-30T13:00:00Z")
    );
    // Half day on the 24th (3 h), none on the 25th (a Friday).
    assert_eq!(
        cal.working_between(ts("2026-12-23T23:00:00Z"), ts("2026-12-27T23:00:00Z")),
        hours(3.0)
    );
}

#[test]
fn dst_changes_in_both_directions() {
    // Night shift across the spring-forward and fall-back nights in New York.
    let night: &[&str] = &["00:00-06:00"];
    let cal = WorkingCalendar::from_spec(&spec("America/New_York", &[("sun", night)])).unwrap();
    // 2026-03-08: 02:00 -> 03:00, so the shift lasts 5 real hours.
    assert_eq!(
        cal.working_between(ts("2026-03-08T00:00:00Z"), ts("2026-03-09T00:00:00Z")),
        hours(5.0)
    );
    // 2026-11-01: 02:00 -> 01:00, so it lasts 7.
    assert_eq!(
        cal.working_between(ts("2026-11-01T00:00:00Z"), ts("2026-11-02T00:00:00Z")),
        hours(7.0)
    );
    // An interval ending inside the repeated hour counts both passes of it.
    let cal = WorkingCalendar::from_spec(&spec("America/New_York", &[("sun", &["00:00-01:30"])]))
        .unwrap();
    assert_eq!(
        cal.working_between(ts("2026-11-01T00:00:00Z"), ts("2026-11-02T00:00:00Z")),
        hours(2.0)
    );
}

#[test]
fn out_of_office_and_empty_calendars() {
    let mut s = office("UTC");
    s.out_of_office.push(AwaySpec {
        from: "2026-11-30T00:00:00Z".into(),
        to: "2026-12-02T12:00:00Z".into(),
    });
    let cal = WorkingCalendar::from_spec(&s).unwrap();
    // Away Monday, Tuesday and Wednesday morning: the first working minute
    // is Wednesday 12:00-12:01, before lunch.
    assert_eq!(
        cal.add_working(ts("2026-11-30T08:00:00Z"), SignedDuration::from_secs(60))
            .unwrap(),
        ts("2026-12-02T12:01:00Z")
    );
    assert_eq!(
        cal.working_between(ts("2026-11-30T00:00:00Z"), ts("2026-12-03T00:00:00Z")),
        hours(0.5 + 4.0)
    );
    let none = WorkingCalendar::from_spec(&spec("UTC", &[])).unwrap();
    assert_eq!(
        none.add_working(ts("2026-11-30T08:00:00Z"), hours(1.0)),
        None
    );
    assert_eq!(
        none.working_between(ts("2026-01-01T00:00:00Z"), ts("2027-01-01T00:00:00Z")),
        SignedDuration::ZERO
    );
}

#[test]
fn bad_specs_name_the_field() {
    let e = WorkingCalendar::from_spec(&spec("Mars/Olympus", &[])).unwrap_err();
    assert_eq!(
        (e.code, e.field.as_str()),
        ("unknown_time_zone", "time_zone")
    );
    let e = WorkingCalendar::from_spec(&spec("UTC", &[("mon", &["09:00-12:00", "11:00-13:00"])]))
        .unwrap_err();
    assert_eq!(
        (e.code, e.field.as_str()),
        ("overlapping_hours", "weekly.mon[1]")
    );
    let e = WorkingCalendar::from_spec(&spec("UTC", &[("mon", &["17:00-09:00"])])).unwrap_err();
    assert_eq!(e.field, "weekly.mon[0]");
    let e = WorkingCalendar::from_spec(&spec("UTC", &[("mon", &["25:00-26:00"])])).unwrap_err();
    assert_eq!(e.code, "invalid_hours");
    let e = WorkingCalendar::from_spec(&spec("UTC", &[("funday", &["09:00-10:00"])])).unwrap_err();
    assert_eq!(e.code, "unknown_weekday");
    assert!(WorkingCalendar::from_spec(&spec("UTC", &[("mon", &["00:00-24:00"])])).is_ok());
}

/// Minute-by-minute reference: the wall-clock definition, counted.
fn brute_between(cal: &WorkingCalendar, a: i64, b: i64) -> i64 {
    (a / MINUTE_MS..b / MINUTE_MS)
        .filter(|m| cal.is_working_at(m * MINUTE_MS))
        .count() as i64
        * MINUTE_MS
}

fn arb_calendar() -> impl Strategy<Value = WorkingCalendar> {
    let zones = prop::sample::select(vec![
        "UTC",
        "Europe/Berlin",
        "America/New_York",
        "Australia/Lord_Howe",
        "Asia/Kolkata",
        "America/Sao_Paulo",
    ]);
    // Many intervals start or end in the small hours, where DST changes happen.
    let start = prop_oneof![0u16..8, 0u16..48];
    let interval =
        (start, 1u16..20).prop_map(|(s, len)| (s * 30, (s * 30 + len * 30).min(DAY_MINUTES)));
    let day = prop::collection::vec(interval, 0..3);
    let hol = prop::collection::vec((0i64..40, prop::option::of((0u16..20, 1u16..10))), 0..3);
    let away = prop::collection::vec((0i64..40 * 24 * 60, 1i64..3 * 24 * 60), 0..2);
    (zones, prop::collection::vec(day, 7), hol, away).prop_map(|(tz, days, hols, aways)| {
        let fmt = |m: u16| format!("{:02}:{:02}", m / 60, m % 60);
        let mut weekly = BTreeMap::new();
        for (i, d) in days.into_iter().enumerate() {
            // Drop overlaps: keep intervals that start after the last end.
            let mut d = d;
            d.sort();
            let mut kept: Vec<(u16, u16)> = vec![];
            for (s, e) in d {
                if kept.last().is_none_or(|l| s >= l.1) && s < e {
                    kept.push((s, e));
                }
            }
            weekly.insert(
                DAYS[i].0.to_string(),
                kept.iter()
                    .map(|(s, e)| format!("{}-{}", fmt(*s), fmt(*e)))
                    .collect(),
            );
        }
        let base = Date::new(2026, 3, 1).unwrap();
        let mut seen = std::collections::HashSet::new();
        let holidays = hols
            .into_iter()
            .filter(|(d, _)| seen.insert(*d))
            .map(|(d, h)| HolidaySpec {
                date: base.checked_add(d.days()).unwrap().to_string(),
                name: None,
                hours: h
                    .map(|(s, len)| vec![format!("{}-{}", fmt(s * 30), fmt(s * 30 + len * 30))])
                    .unwrap_or_default(),
            })
            .collect();
        let start = ts("2026-03-01T00:00:00Z").as_millisecond();
        let out_of_office = aways
            .into_iter()
            .map(|(f, len)| AwaySpec {
                from: Timestamp::from_millisecond(start + f * MINUTE_MS)
                    .unwrap()
                    .to_string(),
                to: Timestamp::from_millisecond(start + (f + len) * MINUTE_MS)
                    .unwrap()
                    .to_string(),
            })
            .collect();
        WorkingCalendar::from_spec(&CalendarSpec {
            time_zone: tz.into(),
            weekly,
            holidays,
            out_of_office,
        })
        .unwrap()
    })
}

// Whole-minute instants: half of them within a few days of a DST change
// of one of the zones above (both directions), the rest anywhere in
// March/April or October/November.
fn arb_minute() -> impl Strategy<Value = i64> {
    let anchors: Vec<i64> = [
        "2026-03-08",
        "2026-03-29",
        "2026-04-05",
        "2026-09-27",
        "2026-10-04",
        "2026-10-25",
        "2026-11-01",
    ]
    .iter()
    .map(|d| ts(&format!("{d}T00:00:00Z")).as_millisecond() / MINUTE_MS)
    .collect();
    let spring = ts("2026-03-01T00:00:00Z").as_millisecond() / MINUTE_MS;
    let autumn = ts("2026-10-01T00:00:00Z").as_millisecond() / MINUTE_MS;
    prop_oneof![
        (prop::sample::select(anchors), -4 * 24 * 60i64..2 * 24 * 60)
            .prop_map(|(a, m)| (a + m) * MINUTE_MS),
        (any::<bool>(), 0i64..45 * 24 * 60).prop_map(move |(fall, m)| ((if fall {
            autumn
        } else {
            spring
        }) + m)
            * MINUTE_MS),
    ]
}

/// Calendars whose every day has one short interval in the small hours
/// of a zone with DST: the hardest case for wall-clock arithmetic.
fn arb_night_calendar() -> impl Strategy<Value = WorkingCalendar> {
    let zones = prop::sample::select(vec![
        "Europe/Berlin",
        "America/New_York",
        "Australia/Lord_Howe",
        "Pacific/Chatham",
    ]);
    (zones, prop::collection::vec((0u16..8, 1u16..6), 7)).prop_map(|(tz, days)| {
        let fmt = |m: u16| format!("{:02}:{:02}", m / 60, m % 60);
        let weekly = days
            .into_iter()
            .enumerate()
            .map(|(i, (s, len))| {
                (
                    DAYS[i].0.to_string(),
                    vec![format!("{}-{}", fmt(s * 30), fmt(s * 30 + len * 30))],
                )
            })
            .collect();
        WorkingCalendar::from_spec(&CalendarSpec {
            time_zone: tz.into(),
            weekly,
            holidays: vec![],
            out_of_office: vec![],
        })
        .unwrap()
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn between_matches_the_minute_by_minute_reference(cal in arb_calendar(), a in arb_minute(), len in 0i64..6 * 24 * 60) {
        let b = a + len * MINUTE_MS;
        let fast = cal.working_between(Timestamp::from_millisecond(a).unwrap(), Timestamp::from_millisecond(b).unwrap());
        prop_assert_eq!(fast.as_millis() as i64, brute_between(&cal, a, b));
    }

    #[test]
    fn dst_nights_match_the_reference(cal in arb_night_calendar(), a in arb_minute(), len in 0i64..4 * 24 * 60) {
        let b = a + len * MINUTE_MS;
        let fast = cal.working_between(Timestamp::from_millisecond(a).unwrap(), Timestamp::from_millisecond(b).unwrap());
        prop_assert_eq!(fast.as_millis() as i64, brute_between(&cal, a, b));
    }

    #[test]
    fn add_then_measure_gives_back_the_duration(cal in arb_calendar(), a in arb_minute(), mins in 0i64..3_000) {
        let start = Timestamp::from_millisecond(a).unwrap();
        let d = SignedDuration::from_mins(mins);
        if let Some(end) = cal.add_working(start, d) {
            prop_assert_eq!(cal.working_between(start, end), d);
            prop_assert!(end >= start);
            // The end is the earliest such instant: one minute less is not enough.
            if mins > 0 {
                prop_assert!(cal.working_between(start, Timestamp::from_millisecond(end.as_millisecond() - MINUTE_MS).unwrap()) < d);
            }
        }
    }

    #[test]
    fn monotonic_and_additive(cal in arb_calendar(), a in arb_minute(), x in 0i64..3 * 24 * 60, y in 0i64..3 * 24 * 60) {
        let t = |m: i64| Timestamp::from_millisecond(a + m * MINUTE_MS).unwrap();
        let (ab, bc, ac) = (cal.working_between(t(0), t(x)), cal.working_between(t(x), t(x + y)), cal.working_between(t(0), t(x + y)));
        prop_assert_eq!(ab + bc, ac);
        prop_assert!(ac >= ab);
        let d1 = SignedDuration::from_mins(x / 7);
        let d2 = SignedDuration::from_mins(x / 5);
        if let (Some(e1), Some(e2)) = (cal.add_working(t(0), d1), cal.add_working(t(0), d2)) {
            prop_assert!(e1 <= e2);
        }
    }
}
