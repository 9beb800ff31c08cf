//! A scripted dashboard for tests: the real key handling, update and book tasks, run one
//! after another on a real book (a store, or a live API) and rendered on ratatui's
//! `TestBackend`, with no terminal.

use std::collections::VecDeque;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

use super::app::{Action, App, Effect, handle_key};
use super::tasks::perform;
use super::text::Zone;
use super::theme::Theme;
use super::ui::draw;
use super::update::update;
use crate::book::OrderBook;

/// A dashboard driven by key presses, each run to completion (every store call answered).
#[derive(Debug)]
pub struct Driver<B> {
    /// The dashboard state.
    pub app: App,
    /// Texts copied to the clipboard.
    pub copied: Vec<String>,
    book: B,
}

impl<B: OrderBook> Driver<B> {
    /// Opens a dashboard of `width` × `height` over `book`, times in UTC, monochrome.
    pub async fn open(book: B, read_only: bool, width: u16, height: u16) -> Self {
        let mut app = App::new(read_only, Zone::Utc, Theme::mono());
        update(&mut app, Action::Resize(width, height));
        let effects = app.start();
        let mut driver = Self { app, copied: Vec::new(), book };
        driver.run(effects).await;
        driver
    }

    /// Applies an action and every result it leads to.
    pub async fn apply(&mut self, action: Action) {
        let effects = update(&mut self.app, action);
        self.run(effects).await;
    }

    async fn run(&mut self, effects: Vec<Effect>) {
        let mut queue: VecDeque<Effect> = effects.into();
        while let Some(effect) = queue.pop_front() {
            if let Effect::Copy(text) = effect {
                self.copied.push(text);
            } else if let Some(result) = perform(&self.book, effect).await {
                queue.extend(update(&mut self.app, result));
            }
        }
    }

    /// Presses a key.
    pub async fn press(&mut self, code: KeyCode) {
        self.key(KeyEvent::new(code, KeyModifiers::NONE)).await;
    }

    /// Presses Ctrl and a letter.
    pub async fn ctrl(&mut self, c: char) {
        self.key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::CONTROL)).await;
    }

    /// Sends a key event through the key map.
    pub async fn key(&mut self, key: KeyEvent) {
        if let Some(action) = handle_key(&self.app, key) {
            self.apply(action).await;
        }
    }

    /// Types each character of `text` as a key press.
    pub async fn type_text(&mut self, text: &str) {
        for c in text.chars() {
            self.press(KeyCode::Char(c)).await;
        }
    }

    /// The screen as text, one line per row.
    pub fn screen(&self) -> String {
        let (width, height) = self.app.size;
        let mut terminal = Terminal::new(TestBackend::new(width, height)).expect("a test terminal");
        terminal.draw(|frame| draw(frame, &self.app)).expect("drawing on a test terminal");
        terminal.backend().to_string()
    }
}
