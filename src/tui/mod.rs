//! The terminal dashboard for support staff (`orders`, `orders tui`): ratatui over crossterm,
//! on the same store, rules and messages as the script commands.
//!
//! Shape: [`keys`] is the one key map; [`app`] holds the state and turns keys into actions;
//! `update` applies actions and returns effects; [`tasks`] runs the store effects off the UI
//! task and answers with actions; [`ui`] and the per-screen files draw `&App`. [`run`] owns the
//! terminal: raw mode, alternate screen and mouse capture on entry, all restored on exit, on
//! error, on panic and on Ctrl-C.

pub mod app;
mod dialogs;
pub mod driver;
pub mod form;
pub mod keys;
mod overlays;
mod prompts;
mod results;
mod table;
pub mod tasks;
pub mod text;
pub mod theme;
pub mod ui;
pub mod update;
pub mod window;

#[cfg(test)]
mod snapshots;
#[cfg(test)]
mod tests;

use std::io::Write as _;
use std::time::Duration;

use base64::Engine as _;
use crossterm::event::{DisableMouseCapture, EnableMouseCapture, Event, KeyEventKind, MouseEventKind};
use crossterm::execute;
use futures_util::StreamExt as _;
use ratatui::DefaultTerminal;
use tokio::sync::mpsc;

use crate::store::Store;
use app::{Action, App, Effect};

/// Runs the dashboard until the user quits.
///
/// # Errors
/// When the terminal cannot be set up or read; database errors never end it (they show in the
/// status bar).
pub async fn run(store: Store, refresh: Duration, read_only: bool) -> std::io::Result<()> {
    let mut terminal = ratatui::try_init()?;
    // ratatui's panic hook restores the screen; ours first releases the mouse.
    let restore_screen = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let _ = execute!(std::io::stdout(), DisableMouseCapture);
        restore_screen(info);
    }));
    let result = match execute!(std::io::stdout(), EnableMouseCapture) {
        Ok(()) => event_loop(&mut terminal, store, refresh, read_only).await,
        Err(e) => Err(e),
    };
    let _ = execute!(std::io::stdout(), DisableMouseCapture);
    ratatui::restore();
    result
}

async fn event_loop(
    terminal: &mut DefaultTerminal,
    store: Store,
    refresh: Duration,
    read_only: bool,
) -> std::io::Result<()> {
    let (sender, mut results) = mpsc::unbounded_channel::<Action>();
    let actor = crate::cli::local_actor("tui");
    let mut app = App::new(read_only, text::Zone::Local, theme::Theme::from_env());
    let size = terminal.size()?;
    update::update(&mut app, Action::Resize(size.width, size.height));
    let first = app.start();
    dispatch(first, &store, &actor, &sender)?;
    let mut events = crossterm::event::EventStream::new();
    let mut tick = tokio::time::interval(refresh.max(Duration::from_millis(500)));
    tick.reset();
    while !app.quit {
        terminal.draw(|frame| ui::draw(frame, &app))?;
        let action = tokio::select! {
            event = events.next() => match event {
                Some(event) => action_for(&app, event?),
                None => break,
            },
            Some(result) = results.recv() => Some(result),
            _ = tick.tick() => Some(Action::Tick),
            _ = tokio::signal::ctrl_c() => Some(Action::Command(keys::Command::Quit)),
        };
        if let Some(action) = action {
            let effects = update::update(&mut app, action);
            dispatch(effects, &store, &actor, &sender)?;
        }
    }
    Ok(())
}

/// The action a terminal event asks for.
fn action_for(app: &App, event: Event) -> Option<Action> {
    match event {
        Event::Key(key) if key.kind != KeyEventKind::Release => app::handle_key(app, key),
        Event::Mouse(mouse) => match mouse.kind {
            MouseEventKind::ScrollDown => Some(Action::Scroll(3)),
            MouseEventKind::ScrollUp => Some(Action::Scroll(-3)),
            MouseEventKind::Down(_) => ui::clicked_row(app, mouse.column, mouse.row).map(Action::Click),
            _ => None,
        },
        Event::Resize(width, height) => Some(Action::Resize(width, height)),
        _ => None,
    }
}

/// Starts each store effect on its own task; writes clipboard effects to the terminal.
fn dispatch(
    effects: Vec<Effect>,
    store: &Store,
    actor: &str,
    sender: &mpsc::UnboundedSender<Action>,
) -> std::io::Result<()> {
    for effect in effects {
        if let Effect::Copy(text) = &effect {
            let mut out = std::io::stdout();
            write!(out, "\x1b]52;c;{}\x07", base64::engine::general_purpose::STANDARD.encode(text))?;
            out.flush()?;
            continue;
        }
        let (store, actor, sender) = (store.clone(), actor.to_owned(), sender.clone());
        tokio::spawn(async move {
            if let Some(result) = tasks::perform(&store, effect, &actor).await {
                let _ = sender.send(result);
            }
        });
    }
    Ok(())
}
