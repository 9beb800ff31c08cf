//! The terminal dashboard for support staff (`orders`, `orders tui`): ratatui over crossterm,
//! on the same book, rules and messages as the script commands — the store opened here, or an
//! `orders serve` in remote mode, where the token's role decides what it may write.
//!
//! Shape: [`keys`] is the one key map; [`app`] holds the state and turns keys into actions;
//! `update` applies actions and returns effects, with `prompts` (the dialogs), `results` (store
//! answers) and `paging` (which rows are loaded); [`tasks`] runs the store effects off the UI
//! task and answers with actions; [`ui`] and the per-screen files draw `&App`, placed by
//! `layout`, with `widgets` as their shared helpers. [`run`] owns the terminal: raw mode,
//! alternate screen and mouse capture on entry, all restored on exit, on error, on panic and on
//! Ctrl-C.

pub mod app;
mod dialogs;
pub mod driver;
pub mod form;
mod identity;
pub mod keys;
mod layout;
pub mod measure;
mod overlays;
mod paging;
mod prompts;
mod results;
mod sort;
mod status;
mod table;
pub mod tasks;
pub mod text;
pub mod theme;
pub mod ui;
pub mod update;
mod widgets;
pub mod window;

#[cfg(test)]
mod fixtures;
#[cfg(test)]
mod snapshots;
#[cfg(test)]
mod tests;

use std::io::Write as _;
use std::pin::Pin;
use std::time::Duration;

use base64::Engine as _;
use crossterm::event::{DisableMouseCapture, EnableMouseCapture, Event, KeyEventKind, MouseEventKind};
use crossterm::execute;
use futures_util::StreamExt as _;
use ratatui::DefaultTerminal;
use tokio::sync::mpsc;

use crate::book::OrderBook;
use app::{Action, App, Effect};
pub use identity::Identity;

/// Runs the dashboard until the user quits.
///
/// # Errors
/// When the terminal cannot be set up or read; database errors never end it (they show in the
/// status bar).
pub async fn run<B: OrderBook>(connect: Connect<B>, refresh: Duration, read_only: bool) -> std::io::Result<()> {
    let mut measure = measure::Measure::from_env();
    let mut terminal = ratatui::try_init()?;
    // ratatui's panic hook restores the screen; ours first releases the mouse.
    let restore_screen = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let _ = execute!(std::io::stdout(), DisableMouseCapture);
        restore_screen(info);
    }));
    let result = match execute!(std::io::stdout(), EnableMouseCapture) {
        Ok(()) => event_loop(&mut terminal, connect, refresh, read_only, measure.as_mut()).await,
        Err(e) => Err(e),
    };
    let _ = execute!(std::io::stdout(), DisableMouseCapture);
    ratatui::restore();
    if let Some(measure) = measure {
        eprintln!("{}", measure.report());
    }
    result
}

/// Opens the book; the dashboard calls it until it succeeds, showing each failure.
pub type Connect<B> = Box<dyn Fn() -> Pin<Box<dyn Future<Output = crate::Result<Opened<B>>> + Send>> + Send + Sync>;

/// A book the dashboard opened, and over the API whom it acts as.
pub struct Opened<B> {
    /// The book.
    pub book: B,
    /// Remote mode: the token's subject and role; `None` locally (everything allowed).
    pub identity: Option<Identity>,
}

/// How long to wait before trying an unreachable database or API again.
const RECONNECT: Duration = Duration::from_secs(3);

async fn event_loop<B: OrderBook>(
    terminal: &mut DefaultTerminal,
    connect: Connect<B>,
    refresh: Duration,
    read_only: bool,
    mut measure: Option<&mut measure::Measure>,
) -> std::io::Result<()> {
    let (sender, mut results) = mpsc::unbounded_channel::<Action>();
    let (opened, mut books) = mpsc::unbounded_channel::<crate::Result<Opened<B>>>();
    tokio::spawn(connect_until_open(connect, opened));
    let mut app = App::new(read_only, text::Zone::Local, theme::Theme::from_env());
    let size = terminal.size()?;
    update::update(&mut app, Action::Resize(size.width, size.height));
    // Work asked for before the book is open waits for it.
    let mut link = Link { book: None, waiting: app.start(), sender };
    let mut events = crossterm::event::EventStream::new();
    let mut tick = tokio::time::interval(refresh.max(Duration::from_millis(500)));
    tick.reset();
    while !app.quit {
        terminal.draw(|frame| ui::draw(frame, &app))?;
        if let Some(action) = measure.as_deref_mut().and_then(|m| m.after_frame(&app)) {
            let effects = update::update(&mut app, action);
            link.dispatch(effects)?;
            continue;
        }
        let action = tokio::select! {
            event = events.next() => match event {
                Some(event) => action_for(&app, event?),
                None => break,
            },
            Some(result) = results.recv() => Some(result),
            Some(opened) = books.recv() => match opened {
                Ok(Opened { book, identity }) => {
                    link.book = Some(book);
                    link.dispatch(Vec::new())?;
                    identity.map(Action::SignedIn)
                }
                Err(error) => Some(Action::Unavailable(error)),
            },
            _ = tick.tick() => Some(Action::Tick),
            _ = tokio::signal::ctrl_c() => Some(Action::Command(keys::Command::Quit)),
        };
        if let Some(action) = action {
            let effects = update::update(&mut app, action);
            link.dispatch(effects)?;
        }
    }
    Ok(())
}

/// Tries to open the book until it opens (or the URL is simply invalid, or the API refuses the
/// token), reporting failures.
async fn connect_until_open<B: OrderBook>(
    connect: Connect<B>,
    opened: mpsc::UnboundedSender<crate::Result<Opened<B>>>,
) {
    loop {
        let result = connect().await;
        let done =
            !matches!(result, Err(crate::Error::Unavailable(_) | crate::Error::Busy(_) | crate::Error::Internal(_)));
        if opened.send(result).is_err() || done {
            return;
        }
        tokio::time::sleep(RECONNECT).await;
    }
}

/// The action a terminal event asks for.
fn action_for(app: &App, event: Event) -> Option<Action> {
    match event {
        Event::Key(key) if key.kind != KeyEventKind::Release => app::handle_key(app, key),
        Event::Mouse(mouse) => match mouse.kind {
            MouseEventKind::ScrollDown => Some(Action::Scroll(3)),
            MouseEventKind::ScrollUp => Some(Action::Scroll(-3)),
            MouseEventKind::Down(_) => layout::clicked_row(app, mouse.column, mouse.row).map(Action::Click),
            _ => None,
        },
        Event::Resize(width, height) => Some(Action::Resize(width, height)),
        _ => None,
    }
}

/// The event loop's link to the book: effects wait in `waiting` until it is open.
struct Link<B> {
    book: Option<B>,
    waiting: Vec<Effect>,
    sender: mpsc::UnboundedSender<Action>,
}

impl<B: OrderBook> Link<B> {
    /// Starts each store effect on its own task (once the store is open); writes clipboard
    /// effects to the terminal.
    fn dispatch(&mut self, effects: Vec<Effect>) -> std::io::Result<()> {
        let (copies, mut work): (Vec<Effect>, Vec<Effect>) =
            effects.into_iter().partition(|e| matches!(e, Effect::Copy(_)));
        copy(copies)?;
        let Some(book) = &self.book else {
            self.waiting.append(&mut work);
            return Ok(());
        };
        for effect in self.waiting.drain(..).chain(work) {
            let (book, sender) = (book.clone(), self.sender.clone());
            tokio::spawn(async move {
                if let Some(result) = tasks::perform(&book, effect).await {
                    let _ = sender.send(result);
                }
            });
        }
        Ok(())
    }
}

/// Puts text on the clipboard with OSC 52 (works over SSH and, with `set-clipboard`, in tmux).
fn copy(effects: Vec<Effect>) -> std::io::Result<()> {
    for effect in effects {
        if let Effect::Copy(text) = effect {
            let mut out = std::io::stdout();
            write!(out, "\x1b]52;c;{}\x07", base64::engine::general_purpose::STANDARD.encode(text))?;
            out.flush()?;
        }
    }
    Ok(())
}
