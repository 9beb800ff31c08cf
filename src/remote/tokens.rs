//! The access token a remote book sends: either one given as is (`ORDERS_TOKEN`, for
//! scripts), or one kept fresh from a stored login.
//!
//! A login's access token is refreshed shortly before it expires (its `exp` and `iat` are read
//! without verifying the signature: the client holds no secret, and the server checks it on
//! every request anyway). The refresh token each refresh hands back replaces the spent one in
//! the credentials file *before* the new access token is used, so a crash at any point leaves
//! the file holding a token that still works. One mutex serializes refreshes: callers that
//! find the token stale while another refresh runs wait for it and share its result, so a
//! refresh token is never presented twice (which would revoke the whole login).

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;

use super::credentials::{Credentials, CredentialsFile, Secret};
use super::http::Http;
use crate::error::{Error, Result};

/// How long before its expiry an access token is replaced, at most (a quarter of its lifetime
/// when that is shorter).
const REFRESH_MARGIN: Duration = Duration::from_secs(60);

/// Where access tokens come from.
#[derive(Debug)]
pub enum TokenSource {
    /// One access token, used as is until the server refuses it.
    Fixed(Secret),
    /// A stored login, refreshed as needed.
    Login(tokio::sync::Mutex<Login>),
}

/// A login's state: its file, the refresh token to use next, the access token in use.
#[derive(Debug)]
pub struct Login {
    file: CredentialsFile,
    credentials: Credentials,
    access: Option<Access>,
}

/// An access token and when to replace it (Unix seconds).
#[derive(Debug, Clone)]
struct Access {
    token: Secret,
    renew_at: i64,
}

/// What an access token says of itself, read without verifying it.
#[derive(Debug, Clone, Deserialize)]
pub struct UnverifiedClaims {
    /// The subject: who history will name.
    pub sub: String,
    /// The role (`reader`, `writer`, `admin`).
    pub role: String,
    /// When it expires (Unix seconds).
    pub exp: i64,
    /// When it was issued (Unix seconds).
    #[serde(default)]
    pub iat: Option<i64>,
}

impl UnverifiedClaims {
    /// Reads the claims of a JWT without checking its signature.
    ///
    /// # Errors
    /// [`Error::Unauthorized`] when the text is not a JWT with those claims.
    pub fn read(token: &str) -> Result<Self> {
        let refused = || Error::Unauthorized("the access token is not a JWT with sub, role and exp".to_owned());
        let payload = token.split('.').nth(1).ok_or_else(refused)?;
        let json = URL_SAFE_NO_PAD.decode(payload.trim_end_matches('=')).map_err(|_| refused())?;
        serde_json::from_slice(&json).map_err(|_| refused())
    }

    /// When a token with these claims should be replaced: [`REFRESH_MARGIN`] before it expires,
    /// or a quarter of its lifetime before when that is shorter.
    fn renew_at(&self) -> i64 {
        let lifetime = self.iat.map_or(i64::MAX, |iat| self.exp.saturating_sub(iat));
        let margin = i64::try_from(REFRESH_MARGIN.as_secs()).unwrap_or(60).min(lifetime / 4);
        self.exp.saturating_sub(margin.max(0))
    }
}

/// What `POST /auth/refresh` answers.
#[derive(Deserialize)]
struct Refreshed {
    access_token: String,
    refresh_token: String,
}

impl TokenSource {
    /// A fixed access token.
    pub fn fixed(token: Secret) -> Self {
        Self::Fixed(token)
    }

    /// A stored login (`credentials` as read from `file`).
    pub fn login(file: CredentialsFile, credentials: Credentials) -> Self {
        Self::Login(tokio::sync::Mutex::new(Login { file, credentials, access: None }))
    }

    /// The access token to send now, refreshing a login's first when it is due.
    ///
    /// # Errors
    /// [`Error::Unauthorized`] when the refresh token is spent or revoked (log in again);
    /// [`Error::Unavailable`] when the API cannot be reached.
    pub(super) async fn bearer(&self, http: &Http) -> Result<Secret> {
        match self {
            Self::Fixed(token) => Ok(token.clone()),
            Self::Login(login) => {
                let mut login = login.lock().await;
                match &login.access {
                    Some(access) if now() < access.renew_at => Ok(access.token.clone()),
                    _ => login.refresh(http).await,
                }
            }
        }
    }

    /// After the server refused `rejected` as unauthorized: whether a fresh token may help
    /// (a login whose token is still `rejected` is refreshed; one another caller already
    /// replaced is simply used).
    ///
    /// # Errors
    /// As [`TokenSource::bearer`].
    pub(super) async fn renew(&self, http: &Http, rejected: &Secret) -> Result<bool> {
        let Self::Login(login) = self else { return Ok(false) };
        let mut login = login.lock().await;
        if login.access.as_ref().is_some_and(|access| access.token == *rejected) {
            login.refresh(http).await?;
        }
        Ok(true)
    }
}

impl Login {
    /// Trades the refresh token for new tokens, stores the new refresh token, then takes the
    /// new access token into use.
    async fn refresh(&mut self, http: &Http) -> Result<Secret> {
        let (claims, access, refresh) = exchange(http, &self.credentials.refresh_token).await?;
        self.credentials.refresh_token = refresh;
        // Written before the access token is used: should this fail, the spent token is
        // already gone, and the user must log in again, which the message says.
        self.file.store(&self.credentials).map_err(|e| {
            self.access = None;
            Error::Unauthorized(format!("{e}; the login is lost: log in again with `orders login {}`", http.base()))
        })?;
        self.access = Some(Access { token: access.clone(), renew_at: claims.renew_at() });
        Ok(access)
    }
}

/// `POST /auth/refresh`: the new access token (with its claims) and the refresh token that
/// replaces `refresh_token`.
///
/// # Errors
/// [`Error::Unauthorized`] telling the user to log in again when the token is refused.
pub(super) async fn exchange(http: &Http, refresh_token: &Secret) -> Result<(UnverifiedClaims, Secret, Secret)> {
    let body = serde_json::json!({ "refresh_token": refresh_token.expose() });
    let response = http.send_unauthenticated(reqwest::Method::POST, "/auth/refresh", &body).await?;
    let response = match http.check(response, &super::problem::Context::default()).await {
        Err(Error::Unauthorized(why)) => {
            return Err(Error::Unauthorized(format!("{why}: log in again with `orders login {}`", http.base())));
        }
        other => other?,
    };
    let refreshed: Refreshed = http.json(response).await?;
    let claims = UnverifiedClaims::read(&refreshed.access_token)?;
    Ok((claims, Secret::new(refreshed.access_token), Secret::new(refreshed.refresh_token)))
}

/// Now, in Unix seconds.
fn now() -> i64 {
    crate::domain::Timestamp::now().millis() / 1000
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jwt(claims: &serde_json::Value) -> String {
        format!("e30.{}.c2ln", URL_SAFE_NO_PAD.encode(claims.to_string()))
    }

    #[test]
    fn claims_are_read_without_a_secret() {
        let claims = UnverifiedClaims::read(&jwt(
            &serde_json::json!({"sub": "alice", "role": "writer", "exp": 1900, "iat": 1000}),
        ))
        .unwrap();
        assert_eq!((claims.sub.as_str(), claims.role.as_str(), claims.exp), ("alice", "writer", 1900));
        assert!(UnverifiedClaims::read("not-a-jwt").is_err());
        assert!(UnverifiedClaims::read("a.!!!.b").is_err());
    }

    #[test]
    fn a_token_is_renewed_a_minute_before_expiry_or_at_three_quarters_of_a_short_life() {
        let at =
            |iat, exp| UnverifiedClaims { sub: String::new(), role: String::new(), exp, iat: Some(iat) }.renew_at();
        assert_eq!(at(0, 900), 840, "15 minutes: a minute before");
        assert_eq!(at(0, 8), 6, "8 seconds: at 6");
        assert_eq!(at(0, 0), 0, "already expired");
    }

    #[test]
    fn debug_output_never_shows_a_token() {
        let source = TokenSource::fixed(Secret::new("eyJ.secret-access.sig"));
        let login = TokenSource::login(
            CredentialsFile::at("/nowhere/credentials.toml"),
            Credentials { api: "http://x".to_owned(), refresh_token: Secret::new("secret-refresh") },
        );
        let shown = format!("{source:?} {login:?}");
        assert!(!shown.contains("secret"), "{shown}");
    }
}
