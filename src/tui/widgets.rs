//! Drawing helpers the per-screen files share: a bordered popup, scrolled lines, messages
//! wrapped to a width known before drawing, and fees as a column of figures.

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::style::Style;
use ratatui::text::Line;
use ratatui::widgets::{Block, Clear, Paragraph};

/// A rectangle of at most `width` × `height` in the middle of `area`, cleared, with a border.
pub fn popup(frame: &mut Frame, title: String, width: u16, height: u16, style: Style) -> Rect {
    let area = frame.area();
    let rect = area.centered(Constraint::Length(width.min(area.width)), Constraint::Length(height.min(area.height)));
    frame.render_widget(Clear, rect);
    let block = Block::bordered().title(title).border_style(style);
    let inner = block.inner(rect);
    frame.render_widget(block, rect);
    inner
}

/// Renders lines into `area`, scrolled by `scroll` lines.
pub fn lines(frame: &mut Frame, lines: Vec<Line<'_>>, area: Rect, scroll: u16) {
    frame.render_widget(Paragraph::new(lines).scroll((scroll, 0)), area);
}

/// Splits `text` into lines at spaces, the first starting with `first` and the rest with
/// `rest`, none longer than `width` characters (so line counts, and cursor rows, are known
/// before drawing).
pub fn wrap(first: &str, text: &str, rest: &str, width: usize) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut line = first.to_owned();
    let mut empty = true;
    for word in text.split(' ') {
        if !empty && line.chars().count() + 1 + word.chars().count() > width {
            out.push(std::mem::replace(&mut line, rest.to_owned()));
            empty = true;
        }
        if !empty {
            line.push(' ');
        }
        line.push_str(word);
        empty = false;
    }
    out.push(line);
    out
}

/// A fee with two decimals, for columns of figures.
pub fn fee(money: crate::domain::Money) -> String {
    let cents = money.cents();
    format!("{}.{:02}", cents / 100, cents % 100)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_messages_wrap_at_spaces_with_an_indent() {
        assert_eq!(wrap("> ", "aaaa bbbb cccc dddd", "  ", 12), ["> aaaa bbbb", "  cccc dddd"]);
        assert_eq!(fee(crate::domain::Money::from_cents(10_010)), "100.10");
    }
}
