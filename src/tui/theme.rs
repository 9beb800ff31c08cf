//! Colours, or none: with `NO_COLOR` set every style is monochrome and the selection is shown
//! reversed, so it stays visible on any terminal.

use ratatui::style::{Color, Modifier, Style};

/// The styles the screens use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Theme {
    /// Column headers and titles.
    pub header: Style,
    /// The selected row.
    pub selected: Style,
    /// Borders of the focused pane.
    pub focus: Style,
    /// Errors, in the status bar and beside fields.
    pub error: Style,
    /// Hints and secondary text.
    pub dim: Style,
    /// The active tab.
    pub tab: Style,
}

impl Theme {
    /// The colour theme.
    pub fn color() -> Self {
        Self {
            header: Style::new().fg(Color::Cyan).add_modifier(Modifier::BOLD),
            selected: Style::new().bg(Color::Blue).fg(Color::White).add_modifier(Modifier::BOLD),
            focus: Style::new().fg(Color::Yellow),
            error: Style::new().fg(Color::Red).add_modifier(Modifier::BOLD),
            dim: Style::new().fg(Color::DarkGray),
            tab: Style::new().fg(Color::Black).bg(Color::Cyan),
        }
    }

    /// The monochrome theme: bold, underline and reverse only.
    pub fn mono() -> Self {
        Self {
            header: Style::new().add_modifier(Modifier::BOLD),
            selected: Style::new().add_modifier(Modifier::REVERSED),
            focus: Style::new().add_modifier(Modifier::BOLD),
            error: Style::new().add_modifier(Modifier::BOLD | Modifier::UNDERLINED),
            dim: Style::new(),
            tab: Style::new().add_modifier(Modifier::REVERSED),
        }
    }

    /// Monochrome when `NO_COLOR` is set to anything non-empty (<https://no-color.org>).
    pub fn from_env() -> Self {
        match std::env::var_os("NO_COLOR") {
            Some(value) if !value.is_empty() => Self::mono(),
            _ => Self::color(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_monochrome_theme_uses_no_colour_but_still_marks_the_selection() {
        let mono = Theme::mono();
        for style in [mono.header, mono.selected, mono.focus, mono.error, mono.dim, mono.tab] {
            assert_eq!((style.fg, style.bg), (None, None));
        }
        assert!(mono.selected.add_modifier.contains(Modifier::REVERSED));
    }
}
