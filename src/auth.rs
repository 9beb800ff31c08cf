//! Tokens: HS256 access JWTs (algorithm pinned, `exp`, `iss` and `aud` required) and opaque
//! single-use refresh tokens kept hashed in the store. What a token grants is in `claims`, the
//! secret it is signed with in `secret`.

mod claims;
mod secret;
mod verified;

use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::Serialize;
use sha2::{Digest as _, Sha256};

pub use claims::{Claims, Principal, Role};
pub use secret::load_secret;

use crate::config::AuthConfig;
use crate::domain::Timestamp;
use crate::error::{Error, Result, because};
use crate::store::{NewRefreshToken, Store};

/// The shortest secret accepted, in bytes.
pub const MIN_SECRET_BYTES: usize = 32;

/// Clock skew tolerated on `exp`, `nbf` and `iat`.
const LEEWAY_SECONDS: u64 = 5;

/// What `token issue` and `POST /auth/refresh` hand out.
#[derive(Debug, Clone, Serialize)]
pub struct IssuedTokens {
    /// The access JWT.
    pub access_token: String,
    /// Its lifetime in seconds.
    pub expires_in: u64,
    /// A refresh token, when asked for (always on refresh).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
}

/// Mints and verifies tokens with one secret.
#[derive(Clone)]
pub struct Tokens {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    issuer: String,
    audience: String,
    access_ttl: Duration,
    max_access_ttl: Duration,
    refresh_ttl: Duration,
    verified: Arc<verified::Verified>,
}

impl std::fmt::Debug for Tokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tokens").field("issuer", &self.issuer).field("audience", &self.audience).finish()
    }
}

impl Tokens {
    /// Tokens signed with `secret` under `auth`'s issuer, audience and lifetimes.
    ///
    /// # Errors
    /// [`Error::Invalid`] for a secret shorter than [`MIN_SECRET_BYTES`].
    pub fn new(secret: &[u8], auth: &AuthConfig) -> Result<Self> {
        if secret.len() < MIN_SECRET_BYTES {
            return Err(Error::invalid(
                "auth.jwt_secret",
                format!("must be at least {MIN_SECRET_BYTES} bytes, not {}", secret.len()),
            ));
        }
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.set_issuer(&[&auth.issuer]);
        validation.set_audience(&[&auth.audience]);
        validation.leeway = LEEWAY_SECONDS;
        validation.validate_nbf = true;
        Ok(Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
            issuer: auth.issuer.clone(),
            audience: auth.audience.clone(),
            access_ttl: auth.access_ttl,
            max_access_ttl: auth.max_access_ttl,
            refresh_ttl: auth.refresh_ttl,
            verified: Arc::default(),
        })
    }

    /// An access token for `subject` as `role`, living `ttl` (default `auth.access_ttl`; one
    /// asked for may not exceed `auth.max_access_ttl`, as access tokens cannot be revoked).
    ///
    /// # Errors
    /// [`Error::Invalid`] for an empty subject, a zero lifetime or one above the maximum.
    pub fn access_token(&self, subject: &str, role: Role, ttl: Option<Duration>) -> Result<(String, u64)> {
        if subject.trim().is_empty() {
            return Err(Error::invalid("subject", "must not be empty"));
        }
        if let Some(asked) = ttl.filter(|ttl| *ttl > self.max_access_ttl) {
            return Err(Error::invalid(
                "ttl",
                format!(
                    "must be at most {} (auth.max_access_ttl), not {}",
                    humantime::format_duration(self.max_access_ttl),
                    humantime::format_duration(asked)
                ),
            ));
        }
        let ttl = ttl.unwrap_or(self.access_ttl).as_secs();
        if ttl == 0 {
            return Err(Error::invalid("ttl", "must be at least 1s"));
        }
        let now = Timestamp::now().millis() / 1000;
        let claims = Claims {
            sub: subject.to_owned(),
            role: role.as_str().to_owned(),
            iat: now,
            exp: now.saturating_add(i64::try_from(ttl).unwrap_or(i64::MAX)),
            nbf: None,
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            jti: uuid::Uuid::new_v4().to_string(),
        };
        Ok((self.sign(&claims)?, ttl))
    }

    /// Signs arbitrary claims (tests use it for tokens the server must refuse).
    ///
    /// # Errors
    /// [`Error::Internal`] when signing fails.
    pub fn sign(&self, claims: &Claims) -> Result<String> {
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, &self.encoding)
            .map_err(|e| Error::Internal(because(format!("cannot sign a token: {e}"), e)))
    }

    /// Checks an access token: signature (HS256 only), `exp`, `nbf`, `iat`, `iss`, `aud`, role.
    ///
    /// # Errors
    /// [`Error::Unauthorized`] naming what is wrong.
    pub fn verify(&self, token: &str) -> Result<Principal> {
        self.verify_at(token, Timestamp::now().millis() / 1000)
    }

    /// [`Tokens::verify`] at `now` (seconds): a token that passed every check before is only
    /// checked for expiry again (see `verified`).
    fn verify_at(&self, token: &str, now: i64) -> Result<Principal> {
        let leeway = i64::try_from(LEEWAY_SECONDS).unwrap_or(0);
        match self.verified.lookup(token, now, leeway) {
            verified::Lookup::Valid(principal) => return Ok(principal),
            verified::Lookup::Expired => {
                return Err(not_valid(jsonwebtoken::errors::ErrorKind::ExpiredSignature.into()));
            }
            verified::Lookup::Unknown => {}
        }
        let claims = jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation).map_err(not_valid)?.claims;
        if claims.iat > now + leeway {
            return Err(Error::Unauthorized("the access token is not valid yet (iat is in the future)".to_owned()));
        }
        let role = Role::parse(&claims.role)
            .map_err(|_| Error::Unauthorized(format!("the access token has an unknown role {:?}", claims.role)))?;
        let principal = Principal { subject: claims.sub, role };
        self.verified.remember(token, &principal, claims.exp);
        Ok(principal)
    }

    /// Mints an access token, and with `refresh` a refresh token starting a new family.
    ///
    /// # Errors
    /// As [`Tokens::access_token`]; when the store fails.
    pub async fn issue(
        &self,
        store: &Store,
        subject: &str,
        role: Role,
        ttl: Option<Duration>,
        refresh: bool,
    ) -> Result<IssuedTokens> {
        let (access_token, expires_in) = self.access_token(subject, role, ttl)?;
        let refresh_token = if refresh {
            let (token, hash) = new_refresh_token();
            let family = uuid::Uuid::new_v4().to_string();
            let new = NewRefreshToken {
                hash,
                subject: subject.to_owned(),
                role: role.as_str().to_owned(),
                family,
                expires_at: self.refresh_expiry(),
            };
            store.add_refresh_token(&new).await?;
            Some(token)
        } else {
            None
        };
        Ok(IssuedTokens { access_token, expires_in, refresh_token })
    }

    /// Uses a refresh token once: a new access token and the refresh token that replaces it,
    /// which expires with its family (`auth.refresh_ttl` after the family's first issue).
    ///
    /// # Errors
    /// [`Error::Unauthorized`] for an unknown, expired, revoked or reused token (reuse revokes
    /// its family).
    pub async fn refresh(&self, store: &Store, refresh_token: &str) -> Result<IssuedTokens> {
        let (successor, successor_hash) = new_refresh_token();
        let grant = store.rotate_refresh_token(&hash_token(refresh_token), &successor_hash).await?;
        let role = Role::parse(&grant.role).map_err(|_| Error::Unauthorized("unknown role".to_owned()))?;
        let (access_token, expires_in) = self.access_token(&grant.subject, role, None)?;
        Ok(IssuedTokens { access_token, expires_in, refresh_token: Some(successor) })
    }

    fn refresh_expiry(&self) -> Timestamp {
        let ttl = i64::try_from(self.refresh_ttl.as_millis()).unwrap_or(i64::MAX);
        Timestamp::from_millis(Timestamp::now().millis().saturating_add(ttl))
    }
}

/// A fresh opaque refresh token and its stored hash.
fn new_refresh_token() -> (String, String) {
    let bytes: [u8; 32] = rand::random();
    let token = URL_SAFE_NO_PAD.encode(bytes);
    let hash = hash_token(&token);
    (token, hash)
}

/// SHA-256 of a token, hex: what the store keeps.
pub fn hash_token(token: &str) -> String {
    sha256_hex(token)
}

/// SHA-256 of `data`, as lowercase hex.
pub fn sha256_hex(data: impl AsRef<[u8]>) -> String {
    Sha256::digest(data.as_ref()).iter().map(|b| format!("{b:02x}")).collect()
}

/// Why a token was refused, in words a client can act on (never the parser's internals).
fn not_valid(e: jsonwebtoken::errors::Error) -> Error {
    use jsonwebtoken::errors::ErrorKind;
    let why = match e.kind() {
        ErrorKind::ExpiredSignature => "it has expired",
        ErrorKind::ImmatureSignature => "it is not valid yet",
        ErrorKind::InvalidSignature => "its signature does not match",
        ErrorKind::InvalidIssuer => "it is from another issuer",
        ErrorKind::InvalidAudience => "it is for another audience",
        ErrorKind::InvalidAlgorithm => "it is signed with another algorithm",
        ErrorKind::MissingRequiredClaim(_) => "a required claim is missing",
        ErrorKind::Json(_) => "its claims are missing or malformed",
        _ => "it is malformed",
    };
    Error::Unauthorized(format!("the access token is not valid: {why}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    fn auth() -> AuthConfig {
        let config: Config = toml::from_str(crate::config::DEFAULTS).unwrap();
        config.auth
    }

    #[test]
    fn a_secret_shorter_than_32_bytes_is_refused() {
        assert!(Tokens::new(&[7; 31], &auth()).is_err());
        assert!(Tokens::new(&[7; 32], &auth()).is_ok());
    }

    #[test]
    fn an_issued_token_verifies_with_its_subject_and_role() {
        let tokens = Tokens::new(&[7; 32], &auth()).unwrap();
        let (token, ttl) = tokens.access_token("me", Role::Writer, None).unwrap();
        assert_eq!(ttl, 15 * 60);
        assert_eq!(tokens.verify(&token).unwrap(), Principal { subject: "me".to_owned(), role: Role::Writer });
    }

    #[test]
    fn a_token_verified_before_still_expires_and_is_refused_as_expired() {
        let tokens = Tokens::new(&[7; 32], &auth()).unwrap();
        let (token, ttl) = tokens.access_token("me", Role::Reader, None).unwrap();
        let now = Timestamp::now().millis() / 1000;
        assert!(tokens.verify_at(&token, now).is_ok());
        assert!(tokens.verify_at(&token, now).is_ok(), "again, remembered");
        let later = now + i64::try_from(ttl + LEEWAY_SECONDS).unwrap() + 2;
        let err = tokens.verify_at(&token, later).unwrap_err();
        assert_eq!(err.to_string(), "the access token is not valid: it has expired");
        let other = Tokens::new(&[8; 32], &auth()).unwrap();
        assert!(other.verify(&token).is_err(), "what one secret remembers, another does not accept");
    }

    #[test]
    fn an_access_token_may_live_up_to_the_maximum_and_not_a_second_longer() {
        let auth = AuthConfig { max_access_ttl: Duration::from_secs(3600), ..auth() };
        let tokens = Tokens::new(&[7; 32], &auth).unwrap();
        assert_eq!(tokens.access_token("me", Role::Reader, Some(Duration::from_secs(3600))).unwrap().1, 3600);
        let err = tokens.access_token("me", Role::Reader, Some(Duration::from_secs(3601))).unwrap_err();
        assert_eq!(err.to_string(), "invalid input: ttl: must be at most 1h (auth.max_access_ttl), not 1h 1s");
    }

    #[test]
    fn roles_are_ordered_and_read_back_what_they_print() {
        assert!(Role::Reader < Role::Writer && Role::Writer < Role::Admin);
        for role in [Role::Reader, Role::Writer, Role::Admin] {
            assert_eq!(Role::parse(role.as_str()).unwrap(), role);
        }
        assert!(Role::parse("root").is_err());
    }
}
