//! Who the history records as the author of a change made on this machine (the script commands
//! and the dashboard); API changes record their token's subject instead.

/// `<front_end>:<user>`, e.g. `cli:alice` or `tui:alice`.
pub fn local_actor(front_end: &str) -> String {
    let user = whoami::username().unwrap_or_else(|_| "unknown".to_owned());
    format!("{front_end}:{user}")
}
