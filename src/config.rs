//! Configuration: the documented defaults (`orders.toml`, embedded), then one config file,
//! then `ORDERS__SECTION__KEY` environment variables, then flags. Secrets never print.

mod secrets;

use std::path::{Path, PathBuf};
use std::time::Duration;

use bytesize::ByteSize;
use serde::{Deserialize, Serialize};

pub use secrets::{Secret, SecretUrl};

use crate::store::{SqliteSynchronous, StoreOptions};

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
    /// Remote mode.
    #[serde(default)]
    pub client: ClientConfig,
}

/// `[database]`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseConfig {
    /// `sqlite://FILE` or `postgres://…`.
    pub url: SecretUrl,
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

impl StoreOptions {
    /// The options a configuration asks for (the store reads no configuration itself).
    pub fn from_config(config: &Config) -> Self {
        Self {
            max_connections: config.database.max_connections.max(1),
            auto_migrate: config.database.auto_migrate,
            min_gap: config.rules.min_gap,
            lock_timeout: config.database.lock_timeout,
            statement_timeout: config.database.statement_timeout,
            sqlite_synchronous: config.database.sqlite_synchronous,
        }
    }
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
    /// `HOST:PORT` of a second listener that serves only `GET /metrics`, without a token;
    /// unset (or empty): none.
    #[serde(default, deserialize_with = "empty_is_none", skip_serializing_if = "Option::is_none")]
    pub metrics_addr: Option<String>,
}

/// An optional text where an empty one (`ORDERS__SERVER__METRICS_ADDR=`) means unset.
fn empty_is_none<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Option<String>, D::Error> {
    Ok(Option::<String>::deserialize(deserializer)?.filter(|text| !text.trim().is_empty()))
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

/// `[client]`: remote mode (`orders login`, `--api`).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ClientConfig {
    /// The API to work through instead of the database (`http://HOST:PORT`); unset: local.
    pub api: Option<String>,
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
        assert_eq!(config.server.metrics_addr, None, "no metrics listener unless asked for");
    }

    #[test]
    fn an_empty_metrics_addr_means_no_metrics_listener() {
        let server = |extra: &str| {
            let text = DEFAULTS.replace("[server]\n", &format!("[server]\n{extra}\n"));
            toml::from_str::<Config>(&text).unwrap().server.metrics_addr
        };
        assert_eq!(server("metrics_addr = \"\""), None);
        assert_eq!(server("metrics_addr = \"127.0.0.1:9090\""), Some("127.0.0.1:9090".to_owned()));
    }

    #[test]
    fn the_jwt_secret_is_redacted_whatever_it_looks_like() {
        for secret in ["hunter2-hunter2", "https://example.com/a-secret-that-looks-like-a-url", "a:b@c", ""] {
            let secret = Secret::new(secret);
            assert_eq!(format!("{secret:?}"), "<redacted>");
            assert_eq!(serde_json::to_string(&secret).unwrap(), "\"<redacted>\"");
        }
    }

    #[test]
    fn every_password_in_a_database_url_is_redacted_and_the_rest_kept() {
        for (url, shown) in [
            ("sqlite://orders.db", "sqlite://orders.db"),
            ("sqlite:orders.db?mode=rwc", "sqlite:orders.db?mode=rwc"),
            ("postgres://app:pw@db:5432/orders", "postgres://app:<redacted>@db:5432/orders"),
            ("postgres://app@db/orders", "postgres://app@db/orders"),
            ("postgres://app:p@ss?w#rd@db/orders", "postgres://app:<redacted>@db/orders"),
            ("postgres://app:pw@db", "postgres://app:<redacted>@db"),
            ("postgres://u@h/db?password=secret", "postgres://u@h/db?password=<redacted>"),
            (
                "postgres://u@h/db?sslmode=require&sslpassword=s3&x=1",
                "postgres://u@h/db?sslmode=require&sslpassword=<redacted>&x=1",
            ),
            ("postgres://u@h/db?PassWord=secret", "postgres://u@h/db?PassWord=<redacted>"),
            ("postgres://u@h/db?pass%77ord=secret", "postgres://u@h/db?pass%77ord=<redacted>"),
            ("postgres://u@h/db?password", "postgres://u@h/db?password=<redacted>"),
            ("postgres://u@h/db?password=a=b#frag", "postgres://u@h/db?password=<redacted>#frag"),
            ("postgres://u:x@h?password=y", "postgres://u:<redacted>@h?password=<redacted>"),
            ("postgres://u@h/db?application_name=password", "postgres://u@h/db?application_name=password"),
            ("not a url: secret", "<redacted>"),
            ("secret", "<redacted>"),
        ] {
            let url = SecretUrl::new(url);
            assert_eq!(format!("{url:?}"), shown, "{}", url.expose());
            assert_eq!(serde_json::to_string(&url).unwrap(), format!("\"{shown}\""));
        }
    }

    #[test]
    fn the_printed_configuration_holds_no_secret() {
        let mut config: Config = toml::from_str(DEFAULTS).unwrap();
        config.database.url = SecretUrl::new("postgres://app:pw1@db/orders?password=pw2&sslpassword=pw3");
        config.auth.jwt_secret = Some(Secret::new("pw4-a-long-enough-secret"));
        let printed = format!("{}\n{config:?}", config.to_toml());
        for secret in ["pw1", "pw2", "pw3", "pw4"] {
            assert!(!printed.contains(secret), "{secret} printed:\n{printed}");
        }
        assert!(printed.contains("postgres://app:<redacted>@db/orders?password=<redacted>&sslpassword=<redacted>"));
    }
}
