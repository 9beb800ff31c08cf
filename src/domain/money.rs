//! Exact money: a non-negative amount of at most 1,000,000,000 with at most two decimal places,
//! kept as integer cents and parsed from its decimal text, never through a float.
//!
//! The text is a JSON number (RFC 8259 section 6) wherever it comes from: the API's `totalfee`
//! is one, and `orders create --fee`, the dashboard's fee field and `import` take the same
//! grammar, so one value reads the same everywhere (`1e3` is 1000 in all four; `+5`, `.5`,
//! `5.` and `0x10` are refused by all four). Its digits are read with checked arithmetic on
//! their count and exponent, so no text, however long or large, can overflow.

use std::fmt;
use std::str::FromStr;

use serde::{Serialize, Serializer};

use super::number::Number;

/// An amount of money in cents.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Money(i64);

/// The largest amount an order may cost, in cents.
pub const MAX_CENTS: i64 = 1_000_000_000 * 100;

impl Money {
    /// An amount from whole cents (as stored).
    pub const fn from_cents(cents: i64) -> Self {
        Self(cents)
    }

    /// The amount in cents.
    pub const fn cents(self) -> i64 {
        self.0
    }

    /// Parses a JSON number's text such as `100`, `99.95`, `1.500` or `1e2` (surrounding
    /// whitespace is ignored).
    ///
    /// # Errors
    /// A message when the text is not a JSON number, is negative, has more than two
    /// significant decimal places, or exceeds 1,000,000,000 (checked in that order).
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        let number = Number::read(text).ok_or_else(|| format!("must be a decimal number, not {text:?}"))?;
        let Some(number) = number else { return Ok(Self(0)) };
        let text = canonical(text);
        if number.negative {
            return Err(format!("must not be negative, got {text}"));
        }
        // The value is digits × 10^exponent, the digits without leading or trailing zeros.
        if number.exponent < -2 {
            return Err(format!("must have at most 2 decimal places, got {text}"));
        }
        let too_large = || format!("must be at most 1000000000, got {text}");
        // 1000000000.00 is 12 digits of cents: more digits than that is too large, whatever
        // they are, so the arithmetic below never sees a number it cannot hold.
        let cent_digits = i64::try_from(number.digits.len()).ok().and_then(|n| n.checked_add(number.exponent + 2));
        if cent_digits.is_none_or(|n| n > 12) {
            return Err(too_large());
        }
        let mut cents: i64 = 0;
        for digit in number.digits.bytes() {
            cents = cents.checked_mul(10).and_then(|c| c.checked_add(i64::from(digit - b'0'))).ok_or_else(too_large)?;
        }
        for _ in 0..number.exponent + 2 {
            cents = cents.checked_mul(10).ok_or_else(too_large)?;
        }
        if cents > MAX_CENTS { Err(too_large()) } else { Ok(Self(cents)) }
    }
}

/// A JSON number's text as serde_json hands it over from a request body: the exponent as
/// `e`, with its sign (`1E27` → `1e+27`). Messages show this form, so a fee refused through
/// the API, a flag, the dashboard or an import reads the same.
pub fn canonical(text: &str) -> std::borrow::Cow<'_, str> {
    match text.split_once(['e', 'E']) {
        Some((mantissa, exponent)) if exponent.starts_with(['+', '-']) => format!("{mantissa}e{exponent}").into(),
        Some((mantissa, exponent)) => format!("{mantissa}e+{exponent}").into(),
        None => text.into(),
    }
}

impl FromStr for Money {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl fmt::Display for Money {
    /// Shortest exact decimal: `100`, `99.95`, `1.5` (a negative amount, which no input can
    /// make, with its sign).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0 < 0 {
            f.write_str("-")?;
        }
        let (whole, cents) = (self.0.unsigned_abs() / 100, self.0.unsigned_abs() % 100);
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
    use proptest::prelude::*;

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
            ("1E3", 100_000),
            ("1e+3", 100_000),
            ("12.5e-1", 125),
            ("0.0001e4", 100),
            ("1000000000", MAX_CENTS),
            ("1000000000.00", MAX_CENTS),
            ("1e9", MAX_CENTS),
            ("-0", 0),
            ("-0.0e-99999999999999999999", 0),
            ("0.0", 0),
            (" 7 ", 700),
            ("1.000000000000000000000000000000000", 100),
            ("1.50000000000000000000000000000000000", 150),
            ("999999999.990000000000000000000000", 99_999_999_999),
        ] {
            assert_eq!(Money::parse(text).map(Money::cents), Ok(cents), "{text}");
        }
    }

    #[test]
    fn bad_amounts_are_refused_with_a_reason() {
        for (text, message) in [
            ("-1", "must not be negative, got -1"),
            ("-0.001", "must not be negative, got -0.001"),
            ("0.001", "must have at most 2 decimal places, got 0.001"),
            ("99.999", "must have at most 2 decimal places, got 99.999"),
            ("1000000000.01", "must be at most 1000000000, got 1000000000.01"),
            ("1e27", "must be at most 1000000000, got 1e+27"),
            ("1E30", "must be at most 1000000000, got 1e+30"),
            ("9".repeat(40).as_str(), &format!("must be at most 1000000000, got {}", "9".repeat(40))),
            ("1e99999999999999999999", "must be at most 1000000000, got 1e+99999999999999999999"),
            ("1e-30", "must have at most 2 decimal places, got 1e-30"),
            ("1e-99999999999999999999", "must have at most 2 decimal places, got 1e-99999999999999999999"),
            ("-1e+30", "must not be negative, got -1e+30"),
            ("-1e30", "must not be negative, got -1e+30"),
            ("abc", r#"must be a decimal number, not "abc""#),
            ("", r#"must be a decimal number, not """#),
        ] {
            assert_eq!(Money::parse(text), Err(message.to_owned()), "{text}");
        }
    }

    #[test]
    fn text_that_is_not_a_json_number_is_refused_like_the_api_refuses_it() {
        for text in [
            "+5", ".5", "5.", "100.", "01", "-", "--1", "1e", "1e+", "1e-", "0x10", "1_000", "NaN", "Infinity", "1,5",
            "1 0",
        ] {
            assert_eq!(Money::parse(text), Err(format!("must be a decimal number, not {text:?}")), "{text}");
            assert!(serde_json::from_str::<serde_json::Number>(text).is_err(), "{text} is not JSON either");
        }
    }

    #[test]
    fn display_is_the_shortest_exact_decimal() {
        for (cents, text) in [(10_000, "100"), (9_995, "99.95"), (150, "1.5"), (5, "0.05"), (0, "0"), (-150, "-1.5")] {
            assert_eq!(Money::from_cents(cents).to_string(), text);
        }
        assert_eq!(Money::from_cents(i64::MIN).to_string(), "-92233720368547758.08");
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

    /// The exact value of an unsigned JSON number's text in ten-thousandths, computed another
    /// way (i128 arithmetic); `None` when it is finer than that or past 10^20, which no valid
    /// amount is.
    fn reference_ten_thousandths(text: &str) -> Option<i128> {
        let (mantissa, exponent) = text.split_once(['e', 'E']).map_or((text, 0), |(m, e)| (m, e.parse().unwrap()));
        let (whole, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
        let mut digits = format!("{whole}{fraction}");
        let mut power = exponent - i32::try_from(fraction.len()).unwrap();
        while digits.ends_with('0') {
            digits.pop();
            power += 1;
        }
        let digits = digits.trim_start_matches('0');
        if digits.is_empty() {
            return Some(0);
        }
        let length = i32::try_from(digits.len()).unwrap();
        if power < -4 || length + power > 20 {
            return None;
        }
        let value: i128 = digits.parse().unwrap();
        Some(value * 10_i128.pow(u32::try_from(power + 4).unwrap()))
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn every_amount_in_range_prints_and_parses_back_to_the_same_cents(cents in 0..=MAX_CENTS) {
            let money = Money::from_cents(cents);
            prop_assert_eq!(Money::parse(&money.to_string()), Ok(money));
            let json = serde_json::to_string(&money).unwrap();
            prop_assert_eq!(Money::parse(&json), Ok(money));
        }

        #[test]
        fn any_text_at_all_is_refused_or_read_never_a_panic(text in "\\PC{0,40}") {
            let _ = Money::parse(&text);
        }

        #[test]
        fn any_json_number_text_is_read_exactly_or_refused_for_its_reason(
            negative in any::<bool>(),
            whole in "0|[1-9][0-9]{0,30}",
            fraction in proptest::option::of("[0-9]{1,30}"),
            exponent in proptest::option::of(-40i32..40),
        ) {
            let mut text = format!("{}{whole}", if negative { "-" } else { "" });
            if let Some(fraction) = &fraction {
                text = format!("{text}.{fraction}");
            }
            if let Some(exponent) = exponent {
                text = format!("{text}e{exponent}");
            }
            let number: serde_json::Number = serde_json::from_str(&text).expect("a JSON number");
            prop_assert_eq!(number.to_string(), canonical(&text), "serde_json keeps the digits, writes e+");
            let parsed = Money::parse(&text);
            match reference_ten_thousandths(text.trim_start_matches('-')) {
                Some(0) => prop_assert_eq!(parsed, Ok(Money::from_cents(0))),
                _ if negative => prop_assert!(parsed.unwrap_err().contains("negative")),
                Some(v) if v % 100 != 0 => prop_assert!(parsed.unwrap_err().contains("2 decimal places")),
                Some(v) if v / 100 <= i128::from(MAX_CENTS) => {
                    prop_assert_eq!(parsed, Ok(Money::from_cents(i64::try_from(v / 100).unwrap())));
                }
                Some(_) => prop_assert!(parsed.unwrap_err().contains("at most 1000000000")),
                // Too fine for ten-thousandths, or too large for an i128 of them.
                None => prop_assert!(parsed.is_err()),
            }
        }
    }
}
