//! Configuration: the documented defaults (`orders.toml`, embedded), then one config file,
//! then `ORDERS__SECTION__KEY` environment variables, then flags. Secrets never print.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use bytesize::ByteSize;
use serde::{Deserialize, Serialize, Serializer};

/// The documented defaults, which are also the built-in ones.
pub const DEFAULTS: &str = include_str!("../orders.toml");

/// The effective configuration.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The store.
    pub database: DatabaseConfig,
    /// The HTTP API.
    pub server: ServerConfig,
    /// Tokens.
    pub auth: AuthConfig,
    /// The scheduling rule.
    pub rules: RulesConfig,
    /// The dashboard.
    pub tui: TuiConfig,
}

/// `[database]`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseConfig {
    /// `sqlite://FILE` or `postgres://…`.
    pub url: Secret,
    /// Pool size.
    pub max_connections: u32,
    /// Migrate whenever the store is opened.
    pub auto_migrate: bool,
    /// How long a write waits for the store's write lock before it is refused (503).
    #[serde(with = "humantime_serde")]
    pub lock_timeout: Duration,
    /// How long one statement may run (PostgreSQL); also how long a PostgreSQL session may sit
    /// idle inside a transaction.
    #[serde(with = "humantime_serde")]
    pub statement_timeout: Duration,
    /// SQLite's durability: `full` (a committed write survives a power loss) or `normal`.
    pub sqlite_synchronous: SqliteSynchronous,
}

/// `database.sqlite_synchronous`: SQLite's `PRAGMA synchronous` in WAL mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SqliteSynchronous {
    /// Every commit is synced to disk before it is acknowledged.
    Full,
    /// Commits are synced at checkpoints only: faster, and a power loss can drop the last ones.
    Normal,
}

/// `[server]`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    /// `HOST:PORT` to listen on.
    pub addr: String,
    /// Largest accepted request body.
    pub body_limit: ByteSize,
    /// How long shutdown waits for in-flight requests.
    #[serde(with = "humantime_serde")]
    pub shutdown_grace: Duration,
    /// How long a client may take to send a request's headers; also how long an idle
    /// keep-alive connection stays open.
    #[serde(with = "humantime_serde")]
    pub header_timeout: Duration,
    /// Connections open at once; beyond it new ones wait to be accepted.
    pub max_connections: usize,
    /// Streamed `GET /orders` (no `limit`) running at once; beyond it 503 at once.
    pub max_streams: usize,
    /// A stream whose client reads nothing for this long is cut.
    #[serde(with = "humantime_serde")]
    pub stream_stall: Duration,
    /// Requests per second per client (token subject, else IP), bursts up to as many; 0: no limit.
    pub rate_limit: u32,
}

/// `[auth]`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AuthConfig {
    /// The HS256 secret; when absent a generated one is kept in the data directory.
    #[serde(default)]
    pub jwt_secret: Option<Secret>,
    /// `iss` of minted tokens, required on verified ones.
    pub issuer: String,
    /// `aud` of minted tokens, required on verified ones.
    pub audience: String,
    /// Lifetime of access tokens.
    #[serde(with = "humantime_serde")]
    pub access_ttl: Duration,
    /// Lifetime of a refresh-token family, from its first issue (rotation does not extend it).
    #[serde(with = "humantime_serde")]
    pub refresh_ttl: Duration,
    /// The longest `token issue --ttl` may ask for.
    #[serde(with = "humantime_serde")]
    pub max_access_ttl: Duration,
}

/// `[rules]`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RulesConfig {
    /// No two orders closer than this; zero disables the rule. Whole milliseconds. Only a new
    /// database takes it: one that holds a rule keeps its own (`orders rules set-gap`).
    #[serde(with = "humantime_serde")]
    pub min_gap: Duration,
}

/// `[tui]`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TuiConfig {
    /// Auto-refresh period.
    #[serde(with = "humantime_serde")]
    pub refresh: Duration,
    /// Browse only.
    pub read_only: bool,
}

/// A value that must not be printed or logged: it shows as `<redacted>`, or for a URL with a
/// password, as the URL with the password replaced.
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

    fn redacted(&self) -> String {
        match self.0.split_once("://") {
            // A URL: only the password (between the first ':' and '@' of the authority) is secret.
            Some((scheme, rest)) => {
                let authority_end = rest.find('/').unwrap_or(rest.len());
                match rest[..authority_end].rsplit_once('@') {
                    Some((user_info, host)) if user_info.contains(':') => {
                        let user = user_info.split(':').next().unwrap_or_default();
                        format!("{scheme}://{user}:<redacted>@{host}{}", &rest[authority_end..])
                    }
                    _ => self.0.clone(),
                }
            }
            None => "<redacted>".to_owned(),
        }
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.redacted())
    }
}

/// Why the configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A config file was named but is not there.
    #[error("config file {} does not exist", .0.display())]
    Missing(PathBuf),
    /// A file, variable or value is malformed.
    #[error("invalid configuration: {0}")]
    Invalid(String),
}

/// Where the values come from, besides the defaults and the environment.
#[derive(Debug, Default, Clone)]
pub struct Sources {
    /// `--config FILE`.
    pub file: Option<PathBuf>,
    /// `--database-url URL`.
    pub database_url: Option<String>,
}

impl Config {
    /// Loads defaults → file → `ORDERS__*` environment → flags.
    ///
    /// # Errors
    /// A named file that does not exist, or any malformed file, variable or value.
    pub fn load(sources: &Sources) -> Result<Self, ConfigError> {
        let invalid = |e: config::ConfigError| ConfigError::Invalid(e.to_string());
        let mut builder =
            config::Config::builder().add_source(config::File::from_str(DEFAULTS, config::FileFormat::Toml));
        if let Some(path) = config_file(sources.file.as_deref())? {
            builder = builder.add_source(config::File::from(path).format(config::FileFormat::Toml).required(true));
        }
        // No try_parsing: a secret such as "00001234" must stay text. Numbers and booleans
        // given as text are converted when the typed structs are read.
        builder = builder.add_source(config::Environment::with_prefix("ORDERS").prefix_separator("__").separator("__"));
        if let Some(url) = &sources.database_url {
            builder = builder.set_override("database.url", url.as_str()).map_err(invalid)?;
        }
        let config: Self = builder.build().map_err(invalid)?.try_deserialize().map_err(invalid)?;
        crate::domain::schedule::check_gap(config.rules.min_gap)
            .map_err(|e| ConfigError::Invalid(format!("rules.min_gap {e}")))?;
        Ok(config)
    }

    /// The effective configuration as TOML, secrets redacted.
    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).unwrap_or_else(|e| format!("# cannot render configuration: {e}\n"))
    }
}

fn config_file(named: Option<&Path>) -> Result<Option<PathBuf>, ConfigError> {
    let named = named.map(Path::to_path_buf).or_else(|| std::env::var_os("ORDERS_CONFIG").map(PathBuf::from));
    match named {
        Some(path) if path.is_file() => Ok(Some(path)),
        Some(path) => Err(ConfigError::Missing(path)),
        None => Ok(Some(PathBuf::from("orders.toml")).filter(|p| p.is_file())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_documented_defaults_parse_into_the_built_in_configuration() {
        let config: Config = toml::from_str(DEFAULTS).unwrap();
        assert_eq!(config.database.url.expose(), "sqlite://orders.db");
        assert_eq!(config.rules.min_gap, Duration::from_secs(3 * 3600));
        assert_eq!(config.server.body_limit, ByteSize::kib(64));
        assert!(config.auth.jwt_secret.is_none());
        assert_eq!(config.database.sqlite_synchronous, SqliteSynchronous::Full);
    }

    #[test]
    fn secrets_are_redacted_but_urls_keep_everything_except_the_password() {
        assert_eq!(format!("{:?}", Secret::new("hunter2-hunter2")), "<redacted>");
        assert_eq!(
            format!("{:?}", Secret::new("postgres://app:pw@db:5432/orders")),
            "postgres://app:<redacted>@db:5432/orders"
        );
        assert_eq!(format!("{:?}", Secret::new("sqlite://orders.db")), "sqlite://orders.db");
    }
}
