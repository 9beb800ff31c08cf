//! The secret tokens are signed with: configured (`auth.jwt_secret`), or generated once into an
//! owner-only file. A secret configured but empty is refused, never replaced by a generated one:
//! replicas behind one load balancer must share the one they are given.

use crate::error::because;
use std::path::PathBuf;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::config::Config;
use crate::error::{Error, Result};
use crate::user_dirs::{self, Base};

/// The signing secret: `auth.jwt_secret`, else the generated file (created on first use,
/// mode 0600, announced on stderr).
///
/// # Errors
/// [`Error::Invalid`] for a configured secret that is empty; [`Error::Internal`] when the file
/// cannot be read or created.
pub fn load_secret(config: &Config) -> Result<Vec<u8>> {
    if let Some(secret) = &config.auth.jwt_secret {
        if secret.expose().is_empty() {
            return Err(Error::invalid("auth.jwt_secret", EMPTY_SECRET));
        }
        return Ok(secret.expose().as_bytes().to_vec());
    }
    let path = secret_path()?;
    match std::fs::read_to_string(&path) {
        Ok(text) => Ok(text.trim().as_bytes().to_vec()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => create_secret_file(&path),
        Err(e) => Err(Error::Internal(because(format!("cannot read the JWT secret {}: {e}", path.display()), e))),
    }
}

/// Why an empty configured secret is refused, naming where it usually comes from.
const EMPTY_SECRET: &str = "is set but empty (ORDERS__AUTH__JWT_SECRET; with the repo's docker-compose.yml, \
     ORDERS_JWT_SECRET): set it to at least 32 bytes, e.g. export ORDERS_JWT_SECRET=\"$(head -c 48 /dev/urandom | base64)\"";

/// `$XDG_DATA_HOME/orders/jwt-secret`, else `~/.local/share/orders/jwt-secret`.
fn secret_path() -> Result<PathBuf> {
    let dir = user_dirs::orders_dir(Base::Data)
        .map_err(|why| Error::Internal(format!("{why}: set auth.jwt_secret").into()))?;
    Ok(dir.join("jwt-secret"))
}

fn create_secret_file(path: &std::path::Path) -> Result<Vec<u8>> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let failed = |e: std::io::Error| {
        Error::Internal(because(format!("cannot create the JWT secret {}: {e}", path.display()), e))
    };
    if let Some(dir) = path.parent() {
        user_dirs::create_dir_all(dir).map_err(failed)?;
    }
    let bytes: [u8; 48] = rand::random();
    let secret = URL_SAFE_NO_PAD.encode(bytes);
    let mut file = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path).map_err(failed)?;
    file.write_all(secret.as_bytes()).map_err(failed)?;
    eprintln!("orders: created a new JWT secret in {} (mode 0600)", path.display());
    Ok(secret.into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Secret;

    #[test]
    fn an_empty_configured_secret_is_refused_naming_the_variables_and_not_replaced_by_a_generated_one() {
        let mut config: Config = toml::from_str(crate::config::DEFAULTS).unwrap();
        config.auth.jwt_secret = Some(Secret::new(""));
        let refused = load_secret(&config).expect_err("an empty secret is refused");
        let message = refused.to_string();
        assert!(matches!(refused, Error::Invalid(_)), "{message}");
        for named in ["auth.jwt_secret", "ORDERS__AUTH__JWT_SECRET", "ORDERS_JWT_SECRET", "empty"] {
            assert!(message.contains(named), "{named} not in: {message}");
        }
    }

    #[test]
    fn a_configured_secret_is_used_as_it_is() {
        let mut config: Config = toml::from_str(crate::config::DEFAULTS).unwrap();
        config.auth.jwt_secret = Some(Secret::new("a-secret-of-at-least-thirty-two-bytes"));
        assert_eq!(load_secret(&config).unwrap(), b"a-secret-of-at-least-thirty-two-bytes");
    }
}
