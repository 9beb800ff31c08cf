//! Where things are on screen: the tab bar, the table, the detail pane (beside the table from
//! [`WIDE`] columns on, under it below) and the status bar; how many rows a page holds, and
//! which row a click lands on.

use ratatui::layout::{Constraint, Layout, Position, Rect};

use super::app::{App, Tab};

/// Rows of the detail pane when it sits under the table (narrow terminals).
const DETAIL_ROWS: u16 = 9;
/// From this width on the detail pane sits beside the table.
pub const WIDE: u16 = 110;

/// The parts of the screen.
#[derive(Debug, Clone, Copy)]
pub struct Areas {
    /// The tab bar.
    pub tabs: Rect,
    /// The table (with its border).
    pub table: Rect,
    /// The detail pane.
    pub detail: Rect,
    /// The status bar.
    pub status: Rect,
}

/// Lays out a screen of `area`.
pub fn areas(area: Rect, tab: Tab) -> Areas {
    let [tabs, body, status] =
        Layout::vertical([Constraint::Length(1), Constraint::Fill(1), Constraint::Length(1)]).areas(area);
    let (table, detail) = match tab {
        Tab::Services => (body, Rect::default()),
        Tab::Orders if area.width >= WIDE => {
            let [table, detail] = Layout::horizontal([Constraint::Fill(1), Constraint::Length(44)]).areas(body);
            (table, detail)
        }
        Tab::Orders => {
            let [table, detail] = Layout::vertical([Constraint::Fill(1), Constraint::Length(DETAIL_ROWS)]).areas(body);
            (table, detail)
        }
    };
    Areas { tabs, table, detail, status }
}

/// How many table rows fit on a terminal of this size (borders and header taken off).
pub fn table_rows(width: u16, height: u16) -> usize {
    usize::from(areas(Rect::new(0, 0, width, height), Tab::Orders).table.height.saturating_sub(3)).max(1)
}

/// The table row under a mouse click at (`column`, `row`), if any.
pub fn clicked_row(app: &App, column: u16, row: u16) -> Option<usize> {
    let table = areas(Rect::new(0, 0, app.size.0, app.size.1), app.tab).table;
    let body = Rect { y: table.y + 2, height: table.height.saturating_sub(3), ..table };
    body.contains(Position::new(column, row)).then(|| usize::from(row - body.y))
}
