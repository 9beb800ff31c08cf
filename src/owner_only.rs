//! Folders only their owner may open (mode 0700), for what `orders` keeps per user: the
//! credentials of `orders login`, the generated JWT secret, the dashboard's log.

use std::path::Path;

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
