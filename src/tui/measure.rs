//! The benchmark hook: with `ORDERS_TUI_MEASURE=1` the dashboard times its first frame with
//! orders on it and the frame that shows the last order after End, then quits and prints
//! `first_frame_ms=… end_ms=…` on stderr. `bench/run` reads it; people never see it.

use std::time::{Duration, Instant};

use super::app::{Action, App};
use super::keys::Command;

/// The environment variable that turns the hook on.
pub const ENV: &str = "ORDERS_TUI_MEASURE";

/// Timings of one measured run.
#[derive(Debug)]
pub struct Measure {
    start: Instant,
    first_frame: Option<Duration>,
    end_pressed: Option<Instant>,
    end: Option<Duration>,
}

impl Measure {
    /// A measurement starting now, when the environment asks for one.
    pub fn from_env() -> Option<Self> {
        (std::env::var(ENV).as_deref() == Ok("1")).then(Self::new)
    }

    /// A measurement starting now.
    fn new() -> Self {
        Self { start: Instant::now(), first_frame: None, end_pressed: None, end: None }
    }

    /// Called after every frame: the key to press next (End once orders show, then quit once
    /// the last order is on screen from End's own rows, with no page of them left loading).
    /// Work End did not ask for — the first count of the orders, started with the first
    /// page — is not End's latency.
    pub fn after_frame(&mut self, app: &App) -> Option<Action> {
        let orders = &app.orders;
        if self.first_frame.is_none() {
            if orders.rows.is_empty() {
                return None;
            }
            self.first_frame = Some(self.start.elapsed());
            self.end_pressed = Some(Instant::now());
            return Some(Action::Command(Command::End));
        }
        let rows_final = app.shown == app.generation && orders.pending == [false; 2];
        let at_last = orders.at_end && orders.selected + 1 == orders.rows.len() && rows_final;
        match (self.end, self.end_pressed) {
            (None, Some(pressed)) if at_last => {
                self.end = Some(pressed.elapsed());
                Some(Action::Command(Command::Quit))
            }
            _ => None,
        }
    }

    /// The line `bench/run` parses.
    pub fn report(&self) -> String {
        let ms =
            |d: Option<Duration>| d.map_or_else(|| "none".to_owned(), |d| format!("{:.1}", d.as_secs_f64() * 1000.0));
        format!("first_frame_ms={} end_ms={}", ms(self.first_frame), ms(self.end))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tui::fixtures::order;
    use crate::tui::text::Zone;
    use crate::tui::theme::Theme;

    #[test]
    fn end_is_pressed_once_orders_show_and_quit_once_ends_rows_show_the_last_one_selected() {
        let mut app = App::new(true, Zone::Utc, Theme::from_env());
        let mut measure = Measure::new();
        assert!(measure.after_frame(&app).is_none(), "nothing to time on a frame without orders");
        app.orders.rows = vec![order(1, 0), order(2, 1)];
        assert!(matches!(measure.after_frame(&app), Some(Action::Command(Command::End))));
        assert!(measure.after_frame(&app).is_none(), "the last order is not selected yet");
        app.generation += 1; // End's reload
        (app.orders.selected, app.orders.at_end) = (1, true);
        assert!(measure.after_frame(&app).is_none(), "the rows on screen are not End's yet");
        app.shown = app.generation;
        app.busy = 1; // the first count, still on its way, is not End's
        assert!(matches!(measure.after_frame(&app), Some(Action::Command(Command::Quit))));
        let report = measure.report();
        assert!(report.starts_with("first_frame_ms=") && !report.contains("none"), "{report}");
    }
}
