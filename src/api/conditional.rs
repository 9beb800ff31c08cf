//! Conditional requests on an order (RFC 9110 section 13), whose `ETag` is its version quoted
//! (`"3"`): `If-Match` on `PUT`, `PATCH` and `DELETE`, `If-None-Match` on `GET`.
//!
//! `If-Match = "*" / #entity-tag` (section 13.1.1) is compared strongly: a list matches when any
//! of its strong tags is the current `ETag` octet for octet, `*` matches any existing order, and
//! a weak tag (`W/"3"`) never matches. A value of neither form (`3`, `"1" "2"`, `*, "1"`) is not
//! a syntax error to answer 400: section 13.1.1's third evaluation step says "otherwise, the
//! condition is false", so it is 412 — and, as section 13.2.1 and docs/api.md (which error wins) wants, only once
//! the request would otherwise have succeeded (a bad body is still 400 / 422, a missing order
//! 404). The problem's detail says what is wrong with the header.
//!
//! `If-None-Match` (section 13.1.2) is compared weakly; when it names the current tag (or is
//! `*`) a `GET` is 304. A value of neither form is "otherwise, the condition is true": the
//! order is sent as without it.

use warp::http::HeaderMap;
use warp::http::header::{HeaderName, IF_MATCH, IF_NONE_MATCH};

/// One entity tag of a list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntityTag {
    weak: bool,
    /// The opaque tag's characters between the quotes.
    opaque: Vec<u8>,
}

/// A received `If-Match` or `If-None-Match`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Condition {
    /// No such header.
    Absent,
    /// `*`.
    Any,
    /// A list of entity tags (possibly empty: `#entity-tag` allows none).
    Tags(Vec<EntityTag>),
    /// Neither `*` nor a list of entity tags; the header's text (lossy) for the message.
    Malformed(String),
}

impl EntityTag {
    /// The version a strong tag names exactly (`"3"` → 3; `"03"`, `W/"3"` and `"x"` name none,
    /// since an order's tag is its version in shortest decimal form).
    fn strong_version(&self) -> Option<i64> {
        if self.weak {
            return None;
        }
        let text = std::str::from_utf8(&self.opaque).ok()?;
        text.parse::<i64>().ok().filter(|v| *v >= 1 && v.to_string() == text)
    }

    /// The tag names `version`, comparing weakly (the `W/` prefix is ignored).
    fn weakly_names(&self, version: i64) -> bool {
        self.opaque == version.to_string().as_bytes()
    }
}

impl Condition {
    /// Reads `If-Match` from `headers`.
    pub fn if_match(headers: &HeaderMap) -> Self {
        read(headers, &IF_MATCH)
    }

    /// Reads `If-None-Match` from `headers`.
    pub fn if_none_match(headers: &HeaderMap) -> Self {
        read(headers, &IF_NONE_MATCH)
    }

    /// Whether `If-None-Match` names an existing order at `version` (weak comparison): a `GET`
    /// is then 304.
    pub fn names_current(&self, version: i64) -> bool {
        match self {
            Self::Any => true,
            Self::Tags(tags) => tags.iter().any(|t| t.weakly_names(version)),
            Self::Absent | Self::Malformed(_) => false,
        }
    }

    /// The versions the strong tags name, ascending, each once: the only versions `If-Match`
    /// can match.
    pub fn strong_versions(&self) -> Vec<i64> {
        let Self::Tags(tags) = self else { return Vec::new() };
        let mut versions: Vec<i64> = tags.iter().filter_map(EntityTag::strong_version).collect();
        versions.sort_unstable();
        versions.dedup();
        versions
    }

    /// Why `If-Match` fails for an order at `version`: the detail of its 412.
    pub fn failure(&self, id: i64, version: i64) -> String {
        let current = format!("order {id} is at version {version} (ETag \"{version}\")");
        match self {
            Self::Malformed(text) => format!(
                "{current}; If-Match {text:?} is neither \"*\" nor a list of entity tags such as \"{version}\" or \
                 \"1\", \"2\", so its condition is false (RFC 9110 section 13.1.1)"
            ),
            Self::Tags(tags) if tags.is_empty() => format!("{current}; If-Match names no entity tag"),
            Self::Tags(tags) if tags.iter().any(|t| t.weak && t.weakly_names(version)) => {
                format!("{current}; If-Match names it only as a weak tag, and weak tags never match")
            }
            _ => format!("{current}, which If-Match does not name: it changed since it was read"),
        }
    }
}

/// Every field line of `name`, read as one list (RFC 9110 section 5.3: lines combine with commas).
fn read(headers: &HeaderMap, name: &HeaderName) -> Condition {
    let mut lines = headers.get_all(name).iter().peekable();
    if lines.peek().is_none() {
        return Condition::Absent;
    }
    let joined: Vec<u8> = lines.map(|v| v.as_bytes()).collect::<Vec<_>>().join(&b", "[..]);
    parse(&joined)
}

/// `"*" / #entity-tag` (RFC 9110 sections 5.6.1, 8.8.3, 13.1.1), allowing the empty list
/// elements section 5.6.1.2 asks recipients to accept.
fn parse(value: &[u8]) -> Condition {
    let trimmed = trim_ows(value);
    if trimmed == b"*" {
        return Condition::Any;
    }
    let malformed = || Condition::Malformed(String::from_utf8_lossy(value).trim().to_owned());
    let mut tags = Vec::new();
    let mut rest = trimmed;
    loop {
        rest = trim_ows_start(rest);
        match rest.first() {
            None => break,
            Some(b',') => {
                rest = &rest[1..];
                continue;
            }
            Some(_) => {}
        }
        let Some((tag, after)) = entity_tag(rest) else { return malformed() };
        tags.push(tag);
        rest = trim_ows_start(after);
        match rest.first() {
            None => break,
            Some(b',') => rest = &rest[1..],
            Some(_) => return malformed(),
        }
    }
    Condition::Tags(tags)
}

/// `entity-tag = [ weak ] opaque-tag`, `weak = %s"W/"`, `opaque-tag = DQUOTE *etagc DQUOTE`,
/// `etagc = %x21 / %x23-7E / obs-text`; the tag and what follows it.
fn entity_tag(input: &[u8]) -> Option<(EntityTag, &[u8])> {
    let (weak, input) = match input.strip_prefix(b"W/") {
        Some(rest) => (true, rest),
        None => (false, input),
    };
    let input = input.strip_prefix(b"\"")?;
    let end = input.iter().position(|b| !is_etagc(*b))?;
    (input[end] == b'"').then(|| (EntityTag { weak, opaque: input[..end].to_vec() }, &input[end + 1..]))
}

fn is_etagc(byte: u8) -> bool {
    byte == 0x21 || (0x23..=0x7e).contains(&byte) || byte >= 0x80
}

fn is_ows(byte: u8) -> bool {
    byte == b' ' || byte == b'\t'
}

fn trim_ows_start(input: &[u8]) -> &[u8] {
    let start = input.iter().position(|b| !is_ows(*b)).unwrap_or(input.len());
    &input[start..]
}

fn trim_ows(input: &[u8]) -> &[u8] {
    let input = trim_ows_start(input);
    let end = input.iter().rposition(|b| !is_ows(*b)).map_or(0, |i| i + 1);
    &input[..end]
}

#[cfg(test)]
mod tests {
    use super::*;
    use warp::http::HeaderValue;

    fn if_match(lines: &[&[u8]]) -> Condition {
        let mut headers = HeaderMap::new();
        for line in lines {
            headers.append(IF_MATCH, HeaderValue::from_bytes(line).unwrap());
        }
        Condition::if_match(&headers)
    }

    /// Whether `If-Match` holds for an existing order at `version`, as the API decides it: no
    /// header and `*` hold for any order, a list only for a version its strong tags name.
    fn matches(condition: &Condition, version: i64) -> bool {
        match condition {
            Condition::Absent | Condition::Any => true,
            Condition::Tags(_) | Condition::Malformed(_) => condition.strong_versions().contains(&version),
        }
    }

    #[test]
    fn a_list_matches_when_any_strong_tag_is_the_current_version() {
        for (value, version, expected, why) in [
            (&b"\"3\""[..], 3, true, "the one tag"),
            (b"\"1\", \"3\"", 3, true, "the second of two"),
            (b"\"1\",\"3\"", 1, true, "without spaces"),
            (b"  \"1\" ,\t\"3\"  ", 3, true, "with optional whitespace"),
            (b", ,\"3\",", 3, true, "empty list elements are skipped"),
            (b"\"1\", \"2\"", 3, false, "neither"),
            (b"W/\"3\"", 3, false, "a weak tag never matches"),
            (b"W/\"3\", \"3\"", 3, true, "the strong one does"),
            (b"\"03\"", 3, false, "octet for octet: 03 is another tag"),
            (b"\"x\"", 3, false, "a tag that is no version"),
            (b"\"\"", 3, false, "the empty tag"),
            (b"", 3, false, "an empty list"),
            (b"*", 3, true, "any existing order"),
            (b" * ", 3, true, "any, with whitespace"),
            (b"\"\x80\xff\", \"3\"", 3, true, "obs-text in another tag"),
        ] {
            let condition = if_match(&[value]);
            assert!(!matches!(condition, Condition::Malformed(_)), "{why}: {condition:?}");
            assert_eq!(matches(&condition, version), expected, "{why}");
        }
    }

    #[test]
    fn values_of_neither_form_are_malformed_and_never_match() {
        for (value, why) in [
            (&b"3"[..], "unquoted"),
            (b"\"3", "unterminated"),
            (b"\"1\" \"3\"", "no comma"),
            (b"*, \"3\"", "a star in a list"),
            (b"w/\"3\"", "a lowercase weak prefix"),
            (b"W/ \"3\"", "space after W/"),
            (b"\"a b\"", "a space inside"),
            (b"\"3\"x", "trailing text"),
            (b"**", "two stars"),
        ] {
            let condition = if_match(&[value]);
            assert!(matches!(condition, Condition::Malformed(_)), "{why}: {condition:?}");
            assert!(!matches(&condition, 3), "{why}");
            assert!(condition.failure(7, 3).contains("neither \"*\" nor a list"), "{why}");
        }
    }

    #[test]
    fn several_lines_are_one_list_and_a_missing_header_asks_nothing() {
        assert!(matches(&if_match(&[b"\"1\"", b"\"3\""]), 3));
        assert_eq!(if_match(&[b"\"5\", W/\"2\"", b"\"3\", \"5\""]).strong_versions(), [3, 5]);
        assert!(matches!(if_match(&[b"*", b"\"3\""]), Condition::Malformed(_)), "a star beside a tag");
        assert_eq!(if_match(&[]), Condition::Absent);
        assert!(matches(&Condition::Absent, 9));
    }

    #[test]
    fn if_none_match_compares_weakly_and_ignores_what_it_cannot_read() {
        let mut headers = HeaderMap::new();
        headers.insert(IF_NONE_MATCH, HeaderValue::from_static("W/\"2\", \"7\""));
        let condition = Condition::if_none_match(&headers);
        assert!(condition.names_current(2) && condition.names_current(7) && !condition.names_current(3));
        headers.insert(IF_NONE_MATCH, HeaderValue::from_static("*"));
        assert!(Condition::if_none_match(&headers).names_current(1));
        headers.insert(IF_NONE_MATCH, HeaderValue::from_static("2"));
        assert!(!Condition::if_none_match(&headers).names_current(2), "malformed: the order is sent");
    }

    #[test]
    fn the_failure_says_why() {
        assert!(if_match(&[b"W/\"3\""]).failure(7, 3).contains("weak tags never match"));
        assert!(if_match(&[b"\"2\""]).failure(7, 3).contains("changed since it was read"));
        assert!(if_match(&[b""]).failure(7, 3).contains("names no entity tag"));
    }
}
