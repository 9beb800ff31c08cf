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
    fn gaps_read_as_humantime() {
        assert_eq!(format_gap(3 * HOUR), "3h");
        assert_eq!(format_gap(Duration::from_secs(5400)), "1h 30m");
    }
}
