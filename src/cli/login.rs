//! `orders login URL` and `orders logout`: the stored login of remote mode, in the
//! credentials file (`remote::credentials`). A token is read on stdin and never printed.

use crate::remote::{self, CredentialsFile};

/// Exchanges the refresh token on stdin at the API at `url` and keeps the login.
///
/// # Errors
/// No token on stdin (5), a URL that is not http(s) (5), a token the API refuses (7), an API
/// that cannot be reached (6).
pub async fn login(url: &str) -> anyhow::Result<()> {
    let file = CredentialsFile::default_location()?;
    let token = remote::read_refresh_token(std::io::stdin().lock())?;
    let logged_in = remote::login(&file, url, &token).await?;
    eprintln!("orders: logged in to {} as {} ({})", logged_in.api, logged_in.subject, logged_in.role);
    Ok(())
}

/// Forgets the stored login, if any.
///
/// # Errors
/// When the credentials file exists but cannot be removed.
pub fn logout() -> anyhow::Result<()> {
    let file = CredentialsFile::default_location()?;
    let stored = file.load().ok().flatten();
    if remote::logout(&file)? {
        match stored {
            Some(login) => eprintln!("orders: logged out of {}", login.api),
            None => eprintln!("orders: logged out"),
        }
    } else {
        eprintln!("orders: not logged in");
    }
    Ok(())
}
