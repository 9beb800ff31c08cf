//! Whom the dashboard acts as over the API (remote mode): the token's subject and role, which
//! decide what it may write.

/// The token's subject and role, as the API will judge them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The subject history names.
    pub subject: String,
    /// `reader`, `writer` or `admin`.
    pub role: String,
}
