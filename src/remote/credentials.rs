//! The stored login of remote mode: the API's URL and the refresh token that continues the
//! session, in `$XDG_CONFIG_HOME/orders/credentials.toml` (else
//! `~/.config/orders/credentials.toml`). The file is written whole or not at all (a temporary
//! file in the same directory, renamed over it) and is mode 0600 from the moment it exists,
//! so no other user can ever read a token from it. Tokens never appear in `Debug` output.

use crate::error::because;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::user_dirs::{self, Base};

pub use crate::config::Secret;

/// What a login keeps.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Credentials {
    /// The API's base URL (`http://127.0.0.1:8080`).
    pub api: String,
    /// The refresh token to use next (each one is single-use); written in clear to this
    /// owner-only file, the one place a token is (a [`Secret`] serializes as `<redacted>`).
    #[serde(serialize_with = "exposed")]
    pub refresh_token: Secret,
}

fn exposed<S: serde::Serializer>(secret: &Secret, serializer: S) -> std::result::Result<S::Ok, S::Error> {
    serializer.serialize_str(secret.expose())
}

/// Where the credentials are kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CredentialsFile {
    path: PathBuf,
}

impl CredentialsFile {
    /// The file at `path`.
    pub fn at(path: impl Into<PathBuf>) -> Self {
        Self { path: path.into() }
    }

    /// The usual place: `$XDG_CONFIG_HOME/orders/credentials.toml`, else
    /// `~/.config/orders/credentials.toml`.
    ///
    /// # Errors
    /// [`Error::Internal`] when neither `XDG_CONFIG_HOME` nor `HOME` is set.
    pub fn default_location() -> Result<Self> {
        let dir = user_dirs::orders_dir(Base::Config)
            .map_err(|why| Error::Internal(format!("{why}: nowhere to keep a login").into()))?;
        Ok(Self::at(dir.join("credentials.toml")))
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The stored credentials; `None` when there is no login.
    ///
    /// # Errors
    /// [`Error::Internal`] when the file cannot be read or is not a credentials file.
    pub fn load(&self) -> Result<Option<Credentials>> {
        let text = match std::fs::read_to_string(&self.path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(self.failed("read", &e)),
        };
        // The parser's message may quote the file's text, token included: only its position.
        toml::from_str(&text).map(Some).map_err(|e| {
            let at = e.span().map(|span| format!(" at byte {}", span.start)).unwrap_or_default();
            Error::Internal(
                format!("{} is not a credentials file{at}: run `orders login URL` again", self.describe()).into(),
            )
        })
    }

    /// Replaces the stored credentials: written to a temporary file (mode 0600 from its
    /// creation) in the same directory, flushed to disk, then renamed over the old file, so a
    /// crash leaves either the old credentials or the new, never a torn file.
    ///
    /// # Errors
    /// [`Error::Internal`] when the directory or the file cannot be written.
    pub fn store(&self, credentials: &Credentials) -> Result<()> {
        let text = toml::to_string(credentials)
            .map_err(|e| Error::Internal(because(format!("cannot render credentials: {e}"), e)))?;
        let dir = self.path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
        user_dirs::create_dir_all(dir).map_err(|e| self.failed("create the directory of", &e))?;
        // tempfile creates the file with mode 0600 (O_EXCL, never following a link).
        let mut file = tempfile::Builder::new()
            .prefix(".credentials")
            .suffix(".tmp")
            .tempfile_in(dir)
            .map_err(|e| self.failed("write", &e))?;
        file.write_all(text.as_bytes())
            .and_then(|()| file.as_file().sync_all())
            .map_err(|e| self.failed("write", &e))?;
        file.persist(&self.path).map_err(|e| self.failed("replace", &e.error))?;
        Ok(())
    }

    /// Forgets the login; whether there was one.
    ///
    /// # Errors
    /// [`Error::Internal`] when the file exists but cannot be removed.
    pub fn remove(&self) -> Result<bool> {
        match std::fs::remove_file(&self.path) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(self.failed("remove", &e)),
        }
    }

    fn describe(&self) -> String {
        format!("the credentials file {}", self.path.display())
    }

    fn failed(&self, doing: &str, e: &std::io::Error) -> Error {
        Error::Internal(because(
            format!("cannot {doing} {}: {e}", self.describe()),
            std::io::Error::new(e.kind(), e.to_string()),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_round_trip_and_a_missing_file_is_no_login() {
        let dir = tempfile::tempdir().unwrap();
        let file = CredentialsFile::at(dir.path().join("nested/orders/credentials.toml"));
        assert_eq!(file.load().unwrap(), None);
        let credentials = Credentials { api: "http://127.0.0.1:8080".to_owned(), refresh_token: Secret::new("r1") };
        file.store(&credentials).unwrap();
        assert_eq!(file.load().unwrap(), Some(credentials));
        assert!(file.remove().unwrap());
        assert!(!file.remove().unwrap(), "a second logout finds nothing");
    }

    #[test]
    fn a_malformed_file_is_refused_without_quoting_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("credentials.toml");
        std::fs::write(&path, "refresh_token = \"very-secret\"\napi = ").unwrap();
        let err = CredentialsFile::at(&path).load().unwrap_err().to_string();
        assert!(!err.contains("very-secret"), "{err}");
        assert!(err.contains("orders login"), "{err}");
    }
}
