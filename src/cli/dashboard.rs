//! `orders` and `orders tui`: the dashboard on the store opened here, in the name of
//! `tui:<user>`, or in remote mode on the API, as the token's subject with what its role allows.

use std::sync::{Arc, OnceLock};

use crate::actor::local_actor;
use crate::book::local::LocalBook;
use crate::config::Config;
use crate::remote::RemoteBook;
use crate::store::{Store, StoreOptions};
use crate::tui::{self, Connect, Identity, Opened};

/// Runs the dashboard until the user quits: on `remote` when given, else on the store.
///
/// # Errors
/// When the terminal cannot be set up or read; store and API errors show in its status bar.
pub async fn run(config: &Config, remote: Option<RemoteBook>, read_only: bool) -> anyhow::Result<()> {
    match remote {
        Some(book) => Ok(tui::run(remote_connect(book), config.tui.refresh, read_only).await?),
        None => local(config, read_only).await,
    }
}

/// The dashboard on the store. It opens at once and keeps trying an unreachable database. A
/// notice about the rule would garble its screen: it is said once the screen is restored.
async fn local(config: &Config, read_only: bool) -> anyhow::Result<()> {
    let (url, options) = (config.database.url.expose().to_owned(), StoreOptions::from_config(config));
    let notice = Arc::new(OnceLock::<String>::new());
    let opened = Arc::new(OnceLock::<Store>::new());
    let (kept_notice, kept_store) = (Arc::clone(&notice), Arc::clone(&opened));
    let connect: Connect<LocalBook> = Box::new(move || {
        let (url, options) = (url.clone(), options.clone());
        let (kept_notice, kept_store) = (Arc::clone(&kept_notice), Arc::clone(&kept_store));
        Box::pin(async move {
            let store = Store::connect(&url, &options).await?;
            if let Some(text) = store.rule_notice() {
                let _ = kept_notice.set(text.to_owned());
            }
            let _ = kept_store.set(store.clone());
            Ok(Opened { book: LocalBook::new(store, local_actor("tui")), identity: None })
        })
    });
    let result = tui::run(connect, config.tui.refresh, read_only).await;
    if let Some(store) = opened.get() {
        store.close().await;
    }
    if let Some(text) = notice.get() {
        eprintln!("orders: {text}");
    }
    Ok(result?)
}

/// Opens the dashboard on the API once it tells who the token is for (a login refreshes
/// first, so an unreachable API is tried again like an unreachable database).
fn remote_connect(book: RemoteBook) -> Connect<RemoteBook> {
    Box::new(move || {
        let book = book.clone();
        Box::pin(async move {
            let claims = book.identity().await?;
            Ok(Opened { book, identity: Some(Identity { subject: claims.sub, role: claims.role }) })
        })
    })
}
