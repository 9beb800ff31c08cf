//! What an access token says and grants: its claims, the three roles, and the principal a
//! verified token stands for.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// What a token holder may do; each role includes the ones before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Read everything (`GET`).
    Reader,
    /// Also create, change and delete orders.
    Writer,
    /// Also change the service catalogue.
    Admin,
}

impl Role {
    /// Reads `reader`, `writer` or `admin`.
    ///
    /// # Errors
    /// [`Error::Invalid`] for any other word.
    pub fn parse(word: &str) -> Result<Self> {
        match word {
            "reader" => Ok(Self::Reader),
            "writer" => Ok(Self::Writer),
            "admin" => Ok(Self::Admin),
            other => Err(Error::invalid("role", format!("must be reader, writer or admin, not {other:?}"))),
        }
    }

    /// The word.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Reader => "reader",
            Self::Writer => "writer",
            Self::Admin => "admin",
        }
    }
}

/// The claims of an access token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// Who: recorded as the actor of every change.
    pub sub: String,
    /// The role word (an unknown one is refused when verifying).
    pub role: String,
    /// Issued at (seconds since the epoch).
    pub iat: i64,
    /// Expires at (seconds since the epoch).
    pub exp: i64,
    /// Not valid before (seconds since the epoch); optional.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<i64>,
    /// Issuer.
    pub iss: String,
    /// Audience.
    pub aud: String,
    /// Unique token id.
    pub jti: String,
}

/// A verified access token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The subject.
    pub subject: String,
    /// The role.
    pub role: Role,
}
