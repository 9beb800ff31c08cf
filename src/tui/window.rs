//! The orders table's virtual scrolling: a window of a few hundred rows around the selection,
//! paged from the store by keyset in either direction and trimmed on the far side, so the
//! dashboard never holds (or counts on the UI path) the whole table.

use crate::domain::{Order, OrderKey};

/// Rows fetched per page.
pub const PAGE: u32 = 200;
/// The most rows the window keeps.
const MAX_ROWS: usize = 1000;

/// Which way a page extends the window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Further along the sort.
    Forward,
    /// Back towards its start.
    Backward,
}

/// A window onto the sorted, filtered orders.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Window {
    /// The loaded rows, in sort order.
    pub rows: Vec<Order>,
    /// The selected row (an index into `rows`).
    pub selected: usize,
    /// The first row on screen.
    pub top: usize,
    /// Nothing comes before `rows[0]`.
    pub at_start: bool,
    /// Nothing comes after the last row.
    pub at_end: bool,
    /// A page is on its way, per direction.
    pub pending: [bool; 2],
    /// Rows a move could not go yet because they were still loading (negative: upwards); the
    /// selection catches up when the page arrives, so fast key repeat loses no moves.
    pub owed: isize,
}

impl Window {
    /// The selected order.
    pub fn selected(&self) -> Option<&Order> {
        self.rows.get(self.selected)
    }

    /// Replaces the rows (a reload), selecting the order `select` if present, else the row at
    /// `fallback`, and keeping the selection at the same height on screen.
    pub fn replace(
        &mut self,
        rows: Vec<Order>,
        edges: (bool, bool),
        select: Option<i64>,
        fallback: usize,
        height: usize,
    ) {
        let (at_start, at_end) = edges;
        let on_screen = self.selected.saturating_sub(self.top);
        self.selected = select
            .and_then(|id| rows.iter().position(|o| o.id == id))
            .unwrap_or(fallback)
            .min(rows.len().saturating_sub(1));
        // Fill the screen when the rows allow, rather than leave rows above it unseen.
        self.top = self.selected.saturating_sub(on_screen).min(rows.len().saturating_sub(height.max(1)));
        (self.rows, self.at_start, self.at_end, self.pending, self.owed) = (rows, at_start, at_end, [false; 2], 0);
    }

    /// Moves the selection by `delta` rows within what is loaded, keeping it on a screen of
    /// `height` rows; returns the pages to fetch to keep enough rows ahead of it.
    pub fn move_by(&mut self, delta: isize, height: usize) -> Vec<(Direction, OrderKey)> {
        if self.rows.is_empty() {
            return Vec::new();
        }
        self.shift(delta, height);
        self.wanted(height)
    }

    /// Moves the selection within the loaded rows, owing what does not fit yet.
    fn shift(&mut self, delta: isize, height: usize) {
        // Moves made while rows were loading count from where the selection is headed.
        let target = self.selected.cast_signed().saturating_add(self.owed).saturating_add(delta);
        let last = self.rows.len().cast_signed() - 1;
        self.owed = match target {
            t if t > last && !self.at_end => t - last,
            t if t < 0 && !self.at_start => t,
            _ => 0,
        };
        self.selected = target.clamp(0, last).cast_unsigned();
        self.scroll_into_view(height);
    }

    /// Selects the `row`-th row on screen (a mouse click).
    pub fn click(&mut self, row: usize, height: usize) -> Vec<(Direction, OrderKey)> {
        let target = self.top + row;
        if target < self.rows.len() {
            self.selected = target;
        }
        self.wanted(height)
    }

    fn scroll_into_view(&mut self, height: usize) {
        let height = height.max(1);
        if self.selected < self.top {
            self.top = self.selected;
        } else if self.selected >= self.top + height {
            self.top = self.selected + 1 - height;
        }
    }

    /// The pages needed so that at least two screens are loaded on each side of the selection.
    pub fn wanted(&mut self, height: usize) -> Vec<(Direction, OrderKey)> {
        let margin = (height * 2).max(20);
        let mut wanted = Vec::new();
        if !self.at_end && !self.pending[1] && self.rows.len().saturating_sub(self.selected) <= margin {
            self.pending[1] = true;
            wanted.extend(self.rows.last().map(|o| (Direction::Forward, o.key())));
        }
        if !self.at_start && !self.pending[0] && self.selected <= margin {
            self.pending[0] = true;
            wanted.extend(self.rows.first().map(|o| (Direction::Backward, o.key())));
        }
        wanted
    }

    /// Adds a fetched page (in the direction's own order: a backward page comes nearest-first)
    /// if the window's edge is still `after`; trims the far side to keep the window small.
    pub fn extend(&mut self, direction: Direction, after: OrderKey, page: Vec<Order>, complete: bool, height: usize) {
        let slot = usize::from(direction == Direction::Forward);
        let edge = match direction {
            Direction::Forward => self.rows.last(),
            Direction::Backward => self.rows.first(),
        };
        if edge.map(Order::key) != Some(after) {
            return; // the window was reloaded meanwhile; this page no longer fits
        }
        self.pending[slot] = false;
        match direction {
            Direction::Forward => {
                self.at_end = complete;
                self.rows.extend(page);
                let excess = self.rows.len().saturating_sub(MAX_ROWS).min(self.top);
                if excess > 0 {
                    self.rows.drain(..excess);
                    (self.selected, self.top, self.at_start) = (self.selected - excess, self.top - excess, false);
                }
            }
            Direction::Backward => {
                self.at_start = complete;
                let added = page.len();
                self.rows.splice(0..0, page.into_iter().rev());
                (self.selected, self.top) = (self.selected + added, self.top + added);
                let keep = MAX_ROWS.max(self.top + 1 + MAX_ROWS / 2);
                if self.rows.len() > keep {
                    self.rows.truncate(keep);
                    self.at_end = false;
                }
            }
        }
        let owed = std::mem::take(&mut self.owed);
        if (owed > 0) == (direction == Direction::Forward) && owed != 0 {
            self.shift(owed, height); // the caller asks for the next page, if needed, via `wanted`
        }
    }

    /// The rows on a screen of `height` rows.
    pub fn visible(&self, height: usize) -> &[Order] {
        let end = (self.top + height).min(self.rows.len());
        &self.rows[self.top.min(end)..end]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Money, Timestamp};

    fn order(id: i64) -> Order {
        let at = Timestamp::from_millis(id * 10_800_000);
        Order {
            id,
            datetime: at,
            totalfee: Money::from_cents(100),
            services: vec![],
            version: 1,
            created_at: at,
            updated_at: at,
        }
    }

    fn orders(ids: std::ops::Range<i64>) -> Vec<Order> {
        ids.map(order).collect()
    }

    #[test]
    fn moving_near_the_loaded_end_asks_for_the_next_page_once() {
        let mut window = Window::default();
        window.replace(orders(1..51), (true, false), None, 0, 10);
        assert_eq!(window.move_by(20, 10), Vec::new());
        assert_eq!(window.move_by(10, 10), vec![(Direction::Forward, order(50).key())]);
        assert_eq!(window.move_by(1, 10), Vec::new(), "the page is already on its way");
        assert_eq!((window.selected, window.top), (31, 22));
    }

    #[test]
    fn pages_extend_both_ways_and_the_selection_stays_on_its_order() {
        let mut window = Window::default();
        window.replace(orders(100..110), (false, false), Some(105), 0, 10);
        window.extend(Direction::Forward, order(109).key(), orders(110..115), true, 10);
        window.extend(Direction::Backward, order(100).key(), orders(95..100).into_iter().rev().collect(), false, 10);
        assert_eq!(window.selected().map(|o| o.id), Some(105));
        assert_eq!(window.rows.first().map(|o| o.id), Some(95));
        assert!(window.at_end && !window.at_start);
    }

    #[test]
    fn a_page_for_an_edge_that_moved_is_dropped() {
        let mut window = Window::default();
        window.replace(orders(1..10), (true, false), None, 0, 10);
        window.extend(Direction::Forward, order(5).key(), orders(50..60), false, 10);
        assert_eq!(window.rows.len(), 9);
    }

    #[test]
    fn the_window_is_trimmed_on_the_far_side_as_it_grows() {
        let mut window = Window::default();
        window.replace(orders(1..1001), (true, false), None, 0, 10);
        window.move_by(990, 10);
        window.extend(Direction::Forward, order(1000).key(), orders(1001..1201), false, 10);
        assert!(window.rows.len() <= MAX_ROWS && !window.at_start);
        assert_eq!(window.selected().map(|o| o.id), Some(991));
    }

    #[test]
    fn a_move_past_rows_still_loading_catches_up_when_they_arrive() {
        let mut window = Window::default();
        window.replace(orders(1..31), (true, false), None, 0, 10);
        window.move_by(25, 10);
        window.move_by(10, 10);
        window.move_by(1, 10);
        assert_eq!((window.selected, window.owed), (29, 7));
        window.extend(Direction::Forward, order(30).key(), orders(31..60), false, 10);
        assert_eq!(window.selected().map(|o| o.id), Some(37));
    }

    #[test]
    fn a_reload_keeps_the_selected_order_even_when_its_position_moved() {
        let mut window = Window::default();
        window.replace(orders(1..30), (true, true), None, 0, 10);
        window.move_by(12, 10);
        window.replace(orders(0..30), (true, true), Some(13), 0, 10);
        assert_eq!((window.selected().map(|o| o.id), window.selected - window.top), (Some(13), 9));
    }
}
