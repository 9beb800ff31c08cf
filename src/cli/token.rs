//! `orders token issue` and `orders token revoke`: minting access (and refresh) tokens for
//! the HTTP API, and revoking a subject's refresh tokens.

use std::time::Duration;

use super::args::TokenCommand;
use crate::auth::{self, Role, Tokens};
use crate::config::Config;
use crate::error::Error;

/// Runs a `token` subcommand.
///
/// # Errors
/// An unknown role or malformed ttl (invalid input), a short secret, an unreachable database.
pub async fn run(config: &Config, command: TokenCommand) -> anyhow::Result<()> {
    match command {
        TokenCommand::Issue { subject, role, ttl, refresh, output } => {
            let role = Role::parse(&role)?;
            let ttl = ttl.as_deref().map(parse_ttl).transpose()?;
            let tokens = Tokens::new(&auth::load_secret(config)?, &config.auth)?;
            let issued = if refresh {
                // Only refresh tokens live in the store; a bare access token needs no database.
                super::open::with_command_store(config, async |store| {
                    tokens.issue(store, &subject, role, ttl, true).await
                })
                .await?
            } else {
                let (access_token, expires_in) = tokens.access_token(&subject, role, ttl)?;
                auth::IssuedTokens { access_token, expires_in, refresh_token: None }
            };
            if output.is_some() {
                // -o json, the only format it takes
                println!("{}", serde_json::to_string_pretty(&issued)?);
            } else {
                println!("{}", issued.access_token);
                if let Some(refresh) = issued.refresh_token {
                    println!("{refresh}");
                }
            }
            Ok(())
        }
        TokenCommand::Revoke { subject } => {
            let revoked =
                super::open::with_command_store(config, async |store| store.revoke_refresh_tokens(&subject).await)
                    .await?;
            eprintln!("orders: revoked {revoked} refresh token(s) of {subject}");
            Ok(())
        }
    }
}

fn parse_ttl(text: &str) -> Result<Duration, Error> {
    humantime::parse_duration(text)
        .ok()
        .filter(|d| d.as_secs() >= 1)
        .ok_or_else(|| Error::invalid("ttl", format!("must be a duration of at least 1s such as 15m, not {text:?}")))
}
