//! The scheduling rule as pure functions: no two orders closer than `min_gap`.
//!
//! The store enforces it atomically in the database; this module says what "closer" means and
//! how a refusal reads, so every backend and front end agrees.

use std::time::Duration;

use super::Timestamp;

/// The half-open window of instants that conflict with `at`: (at − gap, at + gap), as
/// inclusive millisecond bounds `[low, high]`. `None` when the rule is disabled (`gap` = 0).
pub fn conflict_window(at: Timestamp, gap: Duration) -> Option<(i64, i64)> {
    conflict_reach(gap).map(|reach| (at.millis().saturating_sub(reach), at.millis().saturating_add(reach)))
}

/// How far, in milliseconds either way, an instant conflicts with others: gap − 1 ms. `None`
/// when the rule is disabled (`gap` = 0).
pub fn conflict_reach(gap: Duration) -> Option<i64> {
    let gap_ms = i64::try_from(gap.as_millis()).unwrap_or(i64::MAX);
    (gap_ms > 0).then(|| gap_ms - 1)
}

/// Whether two instants are too close under `gap` (exactly `gap` apart is allowed).
pub fn too_close(a: Timestamp, b: Timestamp, gap: Duration) -> bool {
    a.distance(b) < gap
}

/// The largest minimum gap: 10,000 years (humantime's), longer than every datetime the store
/// takes lies apart, so it means "one order at most"; bounded so that a datetime plus the gap
/// stays far inside 64-bit milliseconds (the schema holds `settings.min_gap_ms` to it too).
pub const MAX_GAP: Duration = Duration::from_secs(315_576_000_000);

/// Checks a minimum gap: a whole number of milliseconds (`1ms 500us` or `500us` would be
/// truncated by the millisecond-precision store), at most [`MAX_GAP`].
///
/// # Errors
/// Why the gap cannot be the rule, for a field error or a configuration error.
pub fn check_gap(gap: Duration) -> Result<(), String> {
    if !gap.subsec_nanos().is_multiple_of(1_000_000) {
        return Err(format!("must be a whole number of milliseconds, not {}", format_gap(gap)));
    }
    if gap > MAX_GAP {
        return Err(format!("must be at most {}, not {}", format_gap(MAX_GAP), format_gap(gap)));
    }
    Ok(())
}

/// Parses a minimum gap in humantime form (`3h`, `90m`, `1h 30m`, `0s`) and checks it.
///
/// # Errors
/// A malformed duration, or one [`check_gap`] refuses.
pub fn parse_gap(text: &str) -> Result<Duration, String> {
    let gap = humantime::parse_duration(text.trim())
        .map_err(|e| format!("must be a duration such as 3h, 90m or 0s, not {text:?} ({e})"))?;
    check_gap(gap)?;
    Ok(gap)
}

/// The gap in whole milliseconds, as the database stores it (after [`check_gap`]).
pub fn gap_millis(gap: Duration) -> i64 {
    i64::try_from(gap.as_millis()).unwrap_or(i64::MAX)
}

/// Renders a gap for people: `3h`, `1h 30m`, `0s`.
pub fn format_gap(gap: Duration) -> String {
    humantime::format_duration(gap).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: Duration = Duration::from_secs(3600);

    #[test]
    fn exactly_min_gap_apart_is_allowed_and_one_millisecond_less_is_not() {
        let a = Timestamp::from_millis(0);
        assert!(!too_close(a, Timestamp::from_millis(3 * 3_600_000), 3 * HOUR));
        assert!(too_close(a, Timestamp::from_millis(3 * 3_600_000 - 1), 3 * HOUR));
        assert!(too_close(a, Timestamp::from_millis(-(3 * 3_600_000) + 1), 3 * HOUR));
    }

    #[test]
    fn the_window_holds_exactly_the_conflicting_instants() {
        let (low, high) = conflict_window(Timestamp::from_millis(10_000), Duration::from_secs(1)).unwrap();
        assert_eq!((low, high), (9_001, 10_999));
        assert_eq!(conflict_window(Timestamp::from_millis(0), Duration::ZERO), None);
    }

    #[test]
    fn a_gap_is_whole_milliseconds_and_at_most_ten_thousand_years() {
        assert_eq!(parse_gap("3h"), Ok(3 * HOUR));
        assert_eq!(parse_gap(" 0s "), Ok(Duration::ZERO));
        assert_eq!(parse_gap("1s 1ms"), Ok(Duration::from_millis(1001)));
        assert_eq!(parse_gap("10000years"), Ok(MAX_GAP));
        for (case, text) in [("sub-millisecond part", "1ms 500us"), ("truncates to zero", "500us"), ("nanos", "1ns")] {
            let err = parse_gap(text).unwrap_err();
            assert!(err.contains("whole number of milliseconds"), "{case}: {err}");
        }
        assert!(parse_gap("10001years").unwrap_err().contains("at most"));
        assert!(parse_gap("soon").unwrap_err().contains("must be a duration"));
        assert!(parse_gap("-1h").is_err());
        assert_eq!(gap_millis(3 * HOUR), 10_800_000);
    }

    #[test]
    fn gaps_read_as_humantime() {
        assert_eq!(format_gap(3 * HOUR), "3h");
        assert_eq!(format_gap(Duration::from_secs(5400)), "1h 30m");
    }
}
