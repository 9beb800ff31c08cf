//! Values of the configuration that must never be printed or logged: the JWT secret, and the
//! database URL's password and secret-looking query parameters, shown redacted.

use std::fmt;

use serde::{Deserialize, Serialize, Serializer};

/// A value that must not be printed or logged (the JWT secret): it shows as `<redacted>`.
#[derive(Clone, Deserialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret itself, for the one place that needs it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(REDACTED)
    }
}

/// A URL that may hold passwords (`database.url`): it shows with every password replaced by
/// `<redacted>` — the userinfo's, and the values of `password` and `sslpassword` query
/// parameters (libpq's names, which sqlx reads) — and the rest kept, so it can still be read.
/// Text that is not a URL shows as `<redacted>` whole.
#[derive(Clone, Deserialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct SecretUrl(String);

/// What a secret shows as.
const REDACTED: &str = "<redacted>";

/// Query parameters whose values are passwords.
const PASSWORD_PARAMETERS: [&str; 2] = ["password", "sslpassword"];

impl SecretUrl {
    /// Wraps a URL.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The URL itself, for the one place that needs it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    fn redacted(&self) -> String {
        // A scheme, RFC 3986: a letter, then letters, digits, '+', '-' or '.'.
        let scheme_end = self.0.find(':').filter(|&end| {
            let scheme = &self.0[..end];
            scheme.starts_with(|c: char| c.is_ascii_alphabetic())
                && scheme.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
        });
        let Some(scheme_end) = scheme_end else { return REDACTED.to_owned() };
        let (scheme, rest) = self.0.split_at(scheme_end + 1);
        let (authority, rest) = match rest.strip_prefix("//") {
            Some(after) => without_password(after),
            None => (String::new(), rest),
        };
        let Some((before_query, query)) = rest.split_once('?') else { return format!("{scheme}{authority}{rest}") };
        let (query, fragment) = query.split_once('#').map_or((query, None), |(q, f)| (q, Some(f)));
        let pairs: Vec<String> = query.split('&').map(redacted_pair).collect();
        let fragment = fragment.map(|f| format!("#{f}")).unwrap_or_default();
        format!("{scheme}{authority}{before_query}?{}{fragment}", pairs.join("&"))
    }
}

/// `//user:password@host…` as `//user:<redacted>@`, and the rest after the userinfo. The
/// userinfo ends at the last `@` before the path's `/`, so a password holding `@`, `?` or `#`
/// is redacted whole.
fn without_password(after_slashes: &str) -> (String, &str) {
    let region = &after_slashes[..after_slashes.find('/').unwrap_or(after_slashes.len())];
    match region.rfind('@') {
        Some(at) => {
            let (user_info, rest) = (&after_slashes[..at], &after_slashes[at..]);
            match user_info.split_once(':') {
                Some((user, _)) => (format!("//{user}:{REDACTED}"), rest),
                None => (format!("//{user_info}"), rest),
            }
        }
        None => ("//".to_owned(), after_slashes),
    }
}

/// One `key=value` of a query, its value redacted when the key (percent-decoded, as sqlx
/// reads it) names a password.
fn redacted_pair(pair: &str) -> String {
    let (key, _) = pair.split_once('=').unwrap_or((pair, ""));
    let decoded = percent_decoded(key).to_ascii_lowercase();
    if PASSWORD_PARAMETERS.contains(&decoded.as_str()) { format!("{key}={REDACTED}") } else { pair.to_owned() }
}

/// Form-decoding of a query key: `%XX` as its byte, `+` as a space; anything malformed kept.
fn percent_decoded(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes.get(i + 1..i + 3).and_then(|h| std::str::from_utf8(h).ok());
        match (bytes[i], hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (b'+', _) => {
                out.push(b' ');
                i += 1;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

impl fmt::Debug for SecretUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

impl Serialize for SecretUrl {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.redacted())
    }
}
