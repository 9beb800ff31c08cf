//! Where `orders` keeps what belongs to one user, by the XDG Base Directory specification: the
//! login's credentials (config), the generated JWT secret (data) and the dashboard's log
//! (state), each in an `orders` folder, created readable by its owner only (0700).

use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// An XDG base folder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Base {
    /// `$XDG_CONFIG_HOME`, else `~/.config`.
    Config,
    /// `$XDG_DATA_HOME`, else `~/.local/share`.
    Data,
    /// `$XDG_STATE_HOME`, else `~/.local/state`.
    State,
}

impl Base {
    /// The environment variable that names it.
    pub fn variable(self) -> &'static str {
        match self {
            Self::Config => "XDG_CONFIG_HOME",
            Self::Data => "XDG_DATA_HOME",
            Self::State => "XDG_STATE_HOME",
        }
    }

    fn under_home(self) -> &'static str {
        match self {
            Self::Config => ".config",
            Self::Data => ".local/share",
            Self::State => ".local/state",
        }
    }
}

/// The `orders` folder in `base`, from the environment.
///
/// # Errors
/// When neither the base's variable (an absolute path) nor `HOME` is set; the message says so.
pub fn orders_dir(base: Base) -> Result<PathBuf, String> {
    orders_dir_from(base, std::env::var_os(base.variable()), std::env::var_os("HOME"))
}

/// `$XDG_…_HOME/orders` when that is an absolute path (the specification ignores an empty or
/// relative one), else `$HOME/<the base's default>/orders`.
fn orders_dir_from(base: Base, xdg: Option<OsString>, home: Option<OsString>) -> Result<PathBuf, String> {
    let dir = xdg
        .map(PathBuf::from)
        .filter(|dir| dir.is_absolute())
        .or_else(|| home.filter(|h| !h.is_empty()).map(|home| PathBuf::from(home).join(base.under_home())))
        .ok_or_else(|| format!("neither {} nor HOME is set", base.variable()))?;
    Ok(dir.join("orders"))
}

/// Creates `dir` and its missing parents, each new one readable by its owner only (0700); an
/// existing folder is left as it is.
///
/// # Errors
/// What creating a folder failed with.
pub fn create_dir_all(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(base: Base, xdg: Option<&str>, home: Option<&str>) -> Option<PathBuf> {
        orders_dir_from(base, xdg.map(Into::into), home.map(Into::into)).ok()
    }

    #[test]
    fn the_credentials_live_under_xdg_config_home_else_under_home() {
        let at = |xdg, home| at(Base::Config, xdg, home).map(|dir| dir.join("credentials.toml"));
        assert_eq!(at(Some("/x"), Some("/h")), Some(PathBuf::from("/x/orders/credentials.toml")));
        assert_eq!(at(None, Some("/h")), Some(PathBuf::from("/h/.config/orders/credentials.toml")));
        assert_eq!(at(Some("relative"), Some("/h")), Some(PathBuf::from("/h/.config/orders/credentials.toml")));
        assert_eq!(at(Some(""), None), None);
    }

    #[test]
    fn the_log_lives_under_xdg_state_home_else_under_home() {
        let at = |xdg, home| at(Base::State, xdg, home);
        assert_eq!(at(Some("/state"), Some("/home/u")), Some(PathBuf::from("/state/orders")));
        assert_eq!(at(Some("relative"), Some("/home/u")), Some(PathBuf::from("/home/u/.local/state/orders")));
        assert_eq!(at(None, Some("/home/u")), Some(PathBuf::from("/home/u/.local/state/orders")));
        assert!(at(None, Some("")).is_none());
        assert!(at(None, None).is_none());
    }

    #[test]
    fn the_secret_lives_under_xdg_data_home_else_under_home() {
        assert_eq!(at(Base::Data, Some("/d"), Some("/h")), Some(PathBuf::from("/d/orders")));
        assert_eq!(at(Base::Data, None, Some("/h")), Some(PathBuf::from("/h/.local/share/orders")));
        assert_eq!(orders_dir_from(Base::Data, None, None), Err("neither XDG_DATA_HOME nor HOME is set".to_owned()));
    }
}
