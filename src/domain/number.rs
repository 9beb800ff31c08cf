//! JSON numbers read from their text, exactly: the sign, the significant digits and the power
//! of ten, with checked arithmetic, so no text however long or large can overflow. Money reads
//! fees through it; [`whole_number`] reads ids written as JSON Schema integers (`14.0`, `1e2`).

/// A JSON number's text taken apart: sign, significant digits, power of ten.
pub(super) struct Number {
    pub(super) negative: bool,
    /// The significant digits: no leading or trailing zeros, never empty.
    pub(super) digits: String,
    /// The value is `digits` × 10^`exponent`; clamped far beyond any amount, where only
    /// its sign matters.
    pub(super) exponent: i64,
}

impl Number {
    /// Where the exponent is clamped: far past any amount or any precision that matters.
    const CLAMP: i64 = 1_000_000_000_000;

    /// `None` when `text` is not a JSON number; `Some(None)` for zero (of any sign or form).
    pub(super) fn read(text: &str) -> Option<Option<Self>> {
        let (negative, rest) = text.strip_prefix('-').map_or((false, text), |rest| (true, rest));
        let (mantissa, exponent) = match rest.split_once(['e', 'E']) {
            Some((mantissa, exponent)) => (mantissa, Some(exponent)),
            None => (rest, None),
        };
        let (whole, fraction) = mantissa.split_once('.').map_or((mantissa, None), |(w, f)| (w, Some(f)));
        let all_digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        // JSON: no leading zero before other digits, digits on both sides of the point.
        let whole_ok = all_digits(whole) && (whole == "0" || !whole.starts_with('0'));
        if !whole_ok || fraction.is_some_and(|f| !all_digits(f)) {
            return None;
        }
        let exponent = match exponent {
            None => 0,
            Some(e) => {
                let (sign, digits) = match e.strip_prefix('-') {
                    Some(digits) => (-1, digits),
                    None => (1, e.strip_prefix('+').unwrap_or(e)),
                };
                if !all_digits(digits) {
                    return None;
                }
                sign * digits.parse::<i64>().map_or(Self::CLAMP, |e| e.min(Self::CLAMP))
            }
        };
        let fraction = fraction.unwrap_or("");
        let digits = format!("{whole}{fraction}");
        let significant = digits.trim_start_matches('0').trim_end_matches('0');
        if significant.is_empty() {
            return Some(None);
        }
        // Each digit dropped from the end multiplies by ten; each fraction digit divides.
        let dropped = digits.len() - digits.trim_end_matches('0').len();
        let shift = i64::try_from(dropped).ok()?.checked_sub(i64::try_from(fraction.len()).ok()?)?;
        let exponent = exponent.saturating_add(shift).clamp(-Self::CLAMP, Self::CLAMP);
        Some(Some(Self { negative, digits: significant.to_owned(), exponent }))
    }
}

/// The integer a JSON number's `text` spells (surrounding whitespace aside), when it is a
/// whole number within `i64`: `14`, `-3`, and also `14.0`, `1.4e1`, `1e+2`, which JSON Schema
/// counts as integers too.
pub fn whole_number(text: &str) -> Option<i64> {
    let text = text.trim();
    let Some(number) = Number::read(text)? else { return Some(0) };
    if number.exponent < 0 || number.exponent > 18 {
        return None;
    }
    let mut value: i64 = 0;
    for digit in number.digits.bytes() {
        value = value.checked_mul(10)?.checked_add(i64::from(digit - b'0'))?;
    }
    for _ in 0..number.exponent {
        value = value.checked_mul(10)?;
    }
    Some(if number.negative { -value } else { value })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_numbers_are_read_in_every_spelling_and_fractions_and_overflows_are_not() {
        for (text, expected) in [
            ("14", Some(14)),
            ("-3", Some(-3)),
            ("14.0", Some(14)),
            ("1.4e1", Some(14)),
            ("1e+2", Some(100)),
            ("0.0", Some(0)),
            ("9223372036854775807", Some(i64::MAX)),
            ("9.223372036854775807e18", Some(i64::MAX)),
            ("9223372036854775808", None),
            ("1e19", None),
            ("1.5", None),
            ("+5", None),
            ("014", None),
            ("x", None),
            ("1e999999999999999999999", None),
        ] {
            assert_eq!(whole_number(text), expected, "{text}");
        }
    }
}
