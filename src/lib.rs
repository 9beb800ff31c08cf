//! `orders`: order management for a home-inspection company — one store (SQLite or
//! PostgreSQL), three front ends (script commands, a JSON HTTP API, a terminal dashboard), one
//! set of rules.

pub mod actor;
pub mod api;
pub mod auth;
pub mod book;
pub mod cli;
pub mod config;
pub mod domain;
pub mod error;
pub mod logging;
pub mod remote;
pub mod store;
pub mod tui;
pub mod user_dirs;

pub use error::{Error, Result};
