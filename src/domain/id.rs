//! Ids of orders and services: integers from 1 to 2^63−1, read from their decimal text.

/// The largest id an order or a service may have (ids run from 1 to 2^63−1).
pub const MAX_ID: i64 = i64::MAX;

/// Parses an id from its decimal text: an integer from 1 to 2^63−1.
///
/// # Errors
/// A message fit for a [`FieldError`] when the text is anything else.
pub fn parse_id(text: &str) -> Result<i64, String> {
    let trimmed = text.trim();
    match trimmed.parse::<i64>() {
        Ok(id) if id >= 1 && !trimmed.starts_with('+') => Ok(id),
        _ => Err(format!("must be an integer from 1 to {MAX_ID}, not {text:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_accepted_from_one_to_the_largest_i64() {
        assert_eq!(parse_id("1"), Ok(1));
        assert_eq!(parse_id("9223372036854775807"), Ok(i64::MAX));
        for bad in ["0", "-1", "9223372036854775808", "1.0", "abc", "", "+5"] {
            assert!(parse_id(bad).is_err(), "{bad:?} should be refused");
        }
    }
}
