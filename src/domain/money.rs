//! Exact money: a non-negative amount of at most 1,000,000,000 with at most two decimal places,
//! kept as integer cents and parsed from its decimal text, never through a float.

use std::fmt;
use std::str::FromStr;

use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive as _;
use serde::{Serialize, Serializer};

/// An amount of money in cents.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Money(i64);

/// The largest amount an order may cost, in cents.
const MAX_CENTS: i64 = 1_000_000_000 * 100;

impl Money {
    /// An amount from whole cents (as stored).
    pub const fn from_cents(cents: i64) -> Self {
        Self(cents)
    }

    /// The amount in cents.
    pub const fn cents(self) -> i64 {
        self.0
    }

    /// Parses decimal text such as `100`, `99.95`, `1.500` or `1e2`.
    ///
    /// # Errors
    /// A message when the text is not a number, is negative, has more than two significant
    /// decimal places, or exceeds 1,000,000,000.
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        let digits = without_trailing_zeros(text);
        let decimal = Decimal::from_str_exact(digits)
            .or_else(|_| Decimal::from_scientific(digits))
            .map_err(|_| out_of_range(text))?
            .normalize();
        if decimal.is_sign_negative() && !decimal.is_zero() {
            return Err(format!("must not be negative, got {text}"));
        }
        if decimal.scale() > 2 {
            return Err(format!("must have at most 2 decimal places, got {text}"));
        }
        // Exact: at most two decimal places, so the product is a whole number of cents.
        let cents = (decimal * Decimal::ONE_HUNDRED).to_i64().filter(|c| *c <= MAX_CENTS);
        cents.map(Self).ok_or_else(|| format!("must be at most 1000000000, got {text}"))
    }
}

/// `1.5000…` as `1.5`: trailing zeros of a plain decimal do not count, however many there
/// are (a `Decimal` holds 28 digits, so `1.` and 29 zeros would otherwise be out of range).
fn without_trailing_zeros(text: &str) -> &str {
    if !text.contains('.') || text.contains(['e', 'E']) {
        return text;
    }
    let trimmed = text.trim_end_matches('0');
    match trimmed.strip_suffix('.').unwrap_or(trimmed) {
        "" | "-" | "+" => text,
        digits => digits,
    }
}

/// Why a number too large or too fine for a decimal is refused (the float only picks the
/// message; it never becomes the value).
fn out_of_range(text: &str) -> String {
    match text.parse::<f64>() {
        Ok(value) if value.is_finite() && value < 0.0 => format!("must not be negative, got {text}"),
        Ok(value) if value.is_finite() && value.abs() >= 1.0 => format!("must be at most 1000000000, got {text}"),
        Ok(value) if value.is_finite() => format!("must have at most 2 decimal places, got {text}"),
        _ => format!("must be a decimal number, not {text:?}"),
    }
}

impl FromStr for Money {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl fmt::Display for Money {
    /// Shortest exact decimal: `100`, `99.95`, `1.5`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (whole, cents) = (self.0 / 100, self.0 % 100);
        match cents {
            0 => write!(f, "{whole}"),
            c if c % 10 == 0 => write!(f, "{whole}.{}", c / 10),
            c => write!(f, "{whole}.{c:02}"),
        }
    }
}

impl Serialize for Money {
    /// A JSON number with the exact decimal digits of [`Display`](fmt::Display): a whole
    /// amount as an integer; a fractional one as the nearest `f64`, whose shortest round-trip
    /// text (ryu, in serde_json) is exactly those digits, since decimals of at most 15
    /// significant digits map to distinct doubles. This skips the text and parse of an
    /// arbitrary-precision `Number`, which was a tenth of serializing an order (callgrind).
    /// Amounts past every valid one keep that exact path.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match (self.0 % 100, self.0) {
            (0, cents) => serializer.serialize_i64(cents / 100),
            (_, cents) if (0..=MAX_CENTS).contains(&cents) => {
                #[allow(clippy::cast_precision_loss)] // exact: cents <= 1e11 < 2^53
                serializer.serialize_f64(cents as f64 / 100.0)
            }
            _ => {
                let number = serde_json::Number::from_str(&self.to_string()).map_err(serde::ser::Error::custom)?;
                number.serialize(serializer)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_text_becomes_exact_cents() {
        for (text, cents) in [
            ("100", 10_000),
            ("99.95", 9_995),
            ("10.5", 1_050),
            ("1.500", 150),
            ("0", 0),
            ("0.01", 1),
            ("1e2", 10_000),
            ("1000000000", MAX_CENTS),
            ("1000000000.00", MAX_CENTS),
            ("-0", 0),
            ("100.", 10_000),
            ("0.0", 0),
            ("1.000000000000000000000000000000000", 100),
            ("1.50000000000000000000000000000000000", 150),
            ("999999999.990000000000000000000000", 99_999_999_999),
        ] {
            assert_eq!(Money::parse(text).map(Money::cents), Ok(cents), "{text}");
        }
    }

    #[test]
    fn bad_amounts_are_refused_with_a_reason() {
        for (text, reason) in [
            ("-1", "negative"),
            ("0.001", "2 decimal places"),
            ("99.999", "2 decimal places"),
            ("1000000000.01", "at most 1000000000"),
            ("1e30", "at most"),
            ("1e-30", "2 decimal places"),
            ("-1e30", "negative"),
            ("abc", "decimal number"),
            ("", "decimal number"),
        ] {
            let err = Money::parse(text).unwrap_err();
            assert!(err.contains(reason), "{text}: {err}");
        }
    }

    #[test]
    fn display_is_the_shortest_exact_decimal() {
        for (cents, text) in [(10_000, "100"), (9_995, "99.95"), (150, "1.5"), (5, "0.05"), (0, "0")] {
            assert_eq!(Money::from_cents(cents).to_string(), text);
        }
    }

    #[test]
    fn json_output_is_a_number_with_exact_digits() {
        assert_eq!(serde_json::to_string(&Money::from_cents(9_995)).unwrap(), "99.95");
        assert_eq!(serde_json::to_string(&Money::from_cents(10_000)).unwrap(), "100");
    }

    #[test]
    fn json_output_has_the_digits_of_display_for_every_valid_amount_tried() {
        let mut cents: Vec<i64> = (0..=200_000).collect();
        cents.extend((0..=200_000).map(|c| MAX_CENTS - c));
        // A spread of large amounts with every ending (an LCG, so the set is fixed).
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        for _ in 0..200_000 {
            x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            cents.push(i64::try_from(x % 100_000_000_001).unwrap());
        }
        for c in cents {
            let money = Money::from_cents(c);
            assert_eq!(serde_json::to_string(&money).unwrap(), money.to_string(), "{c} cents");
        }
    }
}
