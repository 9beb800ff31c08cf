//! Remote mode (SPEC section 9): the dashboard and the record commands work through a running
//! `orders serve` with a token instead of opening the database. [`RemoteBook`] is the
//! [`crate::book::OrderBook`] over the HTTP API; [`TokenSource`] supplies its access tokens,
//! from `ORDERS_TOKEN` or from the login [`login`] stores in the [`CredentialsFile`];
//! [`open`] picks the mode from the flags, the configuration and the stored login.

mod book;
pub mod credentials;
mod http;
mod problem;
mod tokens;
mod wire;

use std::io::BufRead;

pub use book::RemoteBook;
pub use credentials::{Credentials, CredentialsFile, Secret};
pub use tokens::{TokenSource, UnverifiedClaims};

use crate::error::{Error, Result};

/// Who a login is for, to tell the user (never the token).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoggedIn {
    /// The API's base URL.
    pub api: String,
    /// The token's subject: history names this.
    pub subject: String,
    /// Its role.
    pub role: String,
}

/// `orders login URL`: exchanges `refresh_token` (minted by `orders token issue --refresh`)
/// at the API at once, and stores the URL and the rotated refresh token in `file`. Never
/// prints or logs a token.
///
/// # Errors
/// [`Error::Invalid`] for a URL that is not http or https; [`Error::Unauthorized`] when the
/// API refuses the token; [`Error::Unavailable`] when it cannot be reached;
/// [`Error::Internal`] when the file cannot be written.
pub async fn login(file: &CredentialsFile, api: &str, refresh_token: &Secret) -> Result<LoggedIn> {
    let http = http::Http::new(api)?;
    let (claims, _access, rotated) = tokens::exchange(&http, refresh_token).await?;
    file.store(&Credentials { api: http.base().to_owned(), refresh_token: rotated })?;
    Ok(LoggedIn { api: http.base().to_owned(), subject: claims.sub, role: claims.role })
}

/// `orders logout`: forgets the stored login; whether there was one.
///
/// # Errors
/// [`Error::Internal`] when the file exists but cannot be removed.
pub fn logout(file: &CredentialsFile) -> Result<bool> {
    file.remove()
}

/// Reads the refresh token `orders login` takes on stdin: its first line, trimmed.
///
/// # Errors
/// [`Error::Invalid`] (field `refresh_token`) when there is none.
pub fn read_refresh_token(mut input: impl BufRead) -> Result<Secret> {
    let mut line = String::new();
    input
        .read_line(&mut line)
        .map_err(|e| Error::invalid("refresh_token", format!("cannot be read from stdin: {e}")))?;
    let token = line.trim();
    if token.is_empty() {
        return Err(Error::invalid(
            "refresh_token",
            "is required on stdin (mint one with `orders token issue --refresh`)",
        ));
    }
    Ok(Secret::new(token))
}

/// What selects remote mode, gathered by the command line.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    /// `--api URL`.
    pub api_flag: Option<String>,
    /// `client.api` (`ORDERS__CLIENT__API`).
    pub configured_api: Option<String>,
    /// `ORDERS_TOKEN`: an access token for scripts without a login.
    pub env_token: Option<Secret>,
    /// `--database-url` was given explicitly: local, whatever else is set.
    pub database_url_flag: bool,
}

/// The remote book `selection` asks for, or `None` for local mode.
///
/// Remote when `--api`, `client.api` or a stored login names an API (in that order), unless
/// `--database-url` was given. The token: `ORDERS_TOKEN` when set, else the stored login —
/// only when it is for that same API, so a refresh token is never sent to another server.
///
/// # Errors
/// [`Error::Unauthorized`] when remote mode has no token; as [`CredentialsFile::load`] and
/// [`RemoteBook::new`].
pub fn open(selection: Selection, file: &CredentialsFile) -> Result<Option<RemoteBook>> {
    if selection.database_url_flag {
        return Ok(None);
    }
    let stored = file.load()?;
    let Some(api) = selection.api_flag.or(selection.configured_api).or_else(|| stored.as_ref().map(|c| c.api.clone()))
    else {
        return Ok(None);
    };
    let base = http::Http::new(&api)?.base().to_owned();
    let tokens = match (selection.env_token.filter(|t| !t.expose().trim().is_empty()), stored) {
        (Some(token), _) => TokenSource::fixed(token),
        (None, Some(login)) if http::Http::new(&login.api).is_ok_and(|h| h.base() == base) => {
            TokenSource::login(file.clone(), login)
        }
        _ => {
            return Err(Error::Unauthorized(format!(
                "no credentials for the API at {base}: log in with `orders login {base}`, or set ORDERS_TOKEN"
            )));
        }
    };
    RemoteBook::new(&base, tokens).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_refresh_token_is_the_first_line_of_stdin() {
        assert_eq!(read_refresh_token(&b"  abc \nrest"[..]).unwrap().expose(), "abc");
        assert!(matches!(read_refresh_token(&b"\n"[..]), Err(Error::Invalid(_))));
    }

    #[test]
    fn remote_mode_is_chosen_by_flag_then_config_then_login_and_never_over_database_url() {
        let dir = tempfile::tempdir().unwrap();
        let file = CredentialsFile::at(dir.path().join("credentials.toml"));
        let token = Some(Secret::new("t"));
        let api = |s: &Selection| open(s.clone(), &file).map(|book| book.map(|b| b.api().to_owned()));
        assert_eq!(api(&Selection::default()).unwrap(), None, "nothing set: local");
        let flagged = Selection {
            api_flag: Some("http://a/".into()),
            configured_api: Some("http://b".into()),
            env_token: token.clone(),
            ..Selection::default()
        };
        assert_eq!(api(&flagged).unwrap().as_deref(), Some("http://a"));
        let explicit_local = Selection { database_url_flag: true, ..flagged.clone() };
        assert_eq!(api(&explicit_local).unwrap(), None);
        let no_token = Selection { env_token: None, ..flagged };
        assert!(matches!(api(&no_token), Err(Error::Unauthorized(m)) if m.contains("orders login http://a")));

        file.store(&Credentials { api: "http://b".into(), refresh_token: Secret::new("r") }).unwrap();
        assert_eq!(api(&Selection::default()).unwrap().as_deref(), Some("http://b"), "a stored login");
        let elsewhere = Selection { api_flag: Some("http://a".into()), ..Selection::default() };
        assert!(matches!(api(&elsewhere), Err(Error::Unauthorized(_))), "the login is not sent to another API");
    }
}
