//! The one key map: which key does what on which screen. The key handler looks keys up here and
//! the `?` help screen lists this same table, so the two can never disagree.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

/// Where the user is, which decides what a key means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Context {
    /// Everywhere (unless a text field takes the key).
    Global,
    /// The orders table.
    Orders,
    /// The services catalogue.
    Services,
    /// The create / edit form.
    Form,
    /// A delete confirmation.
    Confirm,
    /// A one-line prompt (filter, jump, service name).
    Prompt,
    /// A read-only overlay (history, help).
    Overlay,
}

impl Context {
    /// The heading the help screen gives this context.
    pub fn title(self) -> &'static str {
        match self {
            Self::Global => "Everywhere",
            Self::Orders => "Orders",
            Self::Services => "Services",
            Self::Form => "Form",
            Self::Confirm => "Delete confirmation",
            Self::Prompt => "Prompt (filter, jump, name)",
            Self::Overlay => "History and help",
        }
    }
}

/// What a key asks for, before the state decides what that means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    /// Leave the dashboard.
    Quit,
    /// Show the key list.
    Help,
    /// Switch between orders and services.
    SwitchTab,
    /// Selection one down.
    Down,
    /// Selection one up.
    Up,
    /// One screen down.
    PageDown,
    /// One screen up.
    PageUp,
    /// The first row.
    Home,
    /// The last row.
    End,
    /// Reload what is shown, keeping the selection.
    Refresh,
    /// Open the filter prompt.
    Filter,
    /// Drop the filter.
    ClearFilter,
    /// Cycle the sort order.
    Sort,
    /// Open the jump-to-id prompt.
    Jump,
    /// Create a record.
    New,
    /// Edit the selected record.
    Edit,
    /// Ask to delete the selected record.
    Delete,
    /// Show the selected order's history.
    History,
    /// Copy the selected order's id.
    CopyId,
    /// Copy the selected order's JSON.
    CopyJson,
    /// Next form field / button.
    NextField,
    /// Previous form field / button.
    PrevField,
    /// Toggle the service under the cursor in the picker.
    Toggle,
    /// Save the form, answer the prompt, press the focused button.
    Submit,
    /// Close the form, prompt or overlay without doing anything.
    Cancel,
    /// Open the order the scheduling conflict names (the form is kept as a draft).
    GoToConflict,
    /// Reload an order that changed underneath the edit.
    Reload,
}

/// One entry of the key map.
#[derive(Debug)]
pub struct Binding {
    /// Where it applies.
    pub context: Context,
    /// The keys, any of which triggers it.
    pub keys: &'static [Key],
    /// What it asks for.
    pub command: Command,
    /// What the help screen says.
    pub help: &'static str,
    /// Whether it changes data (hidden and refused in read-only mode).
    pub writes: bool,
}

/// A key with its modifiers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Key {
    /// The key.
    pub code: KeyCode,
    /// Ctrl, Alt… (Shift is part of the character for letters).
    pub modifiers: KeyModifiers,
}

const fn plain(code: KeyCode) -> Key {
    Key { code, modifiers: KeyModifiers::NONE }
}

const fn ch(c: char) -> Key {
    plain(KeyCode::Char(c))
}

const fn ctrl(c: char) -> Key {
    Key { code: KeyCode::Char(c), modifiers: KeyModifiers::CONTROL }
}

macro_rules! bind {
    ($context:ident, [$($key:expr),+], $command:ident, $help:literal) => {
        Binding { context: Context::$context, keys: &[$($key),+], command: Command::$command, help: $help, writes: false }
    };
    ($context:ident, [$($key:expr),+], $command:ident, $help:literal, writes) => {
        Binding { context: Context::$context, keys: &[$($key),+], command: Command::$command, help: $help, writes: true }
    };
}

use KeyCode::{BackTab, Down, End, Enter, Esc, Home, Left, PageDown, PageUp, Right, Tab, Up};

/// The key map, in the order the help screen lists it.
pub static KEYMAP: &[Binding] = &[
    bind!(Global, [ch('q'), ctrl('c')], Quit, "quit"),
    bind!(Global, [ch('?')], Help, "this list of keys"),
    bind!(Global, [plain(Tab)], SwitchTab, "switch between orders and services"),
    bind!(Global, [plain(Down), ch('j')], Down, "move down"),
    bind!(Global, [plain(Up), ch('k')], Up, "move up"),
    bind!(Global, [plain(PageDown), ctrl('d')], PageDown, "one screen down"),
    bind!(Global, [plain(PageUp), ctrl('u')], PageUp, "one screen up"),
    bind!(Global, [plain(Home), ch('g')], Home, "first row"),
    bind!(Global, [plain(End), ch('G')], End, "last row"),
    bind!(Global, [ch('r')], Refresh, "refresh, keeping the selection"),
    bind!(Orders, [ch('/')], Filter, "filter: id, from:DATE, to:DATE, service name"),
    bind!(Orders, [plain(Esc)], ClearFilter, "clear the filter"),
    bind!(Orders, [ch('s')], Sort, "cycle the sort order"),
    bind!(Orders, [ch(':')], Jump, "jump to an order by id"),
    bind!(Orders, [ch('n')], New, "new order", writes),
    bind!(Orders, [ch('e'), plain(Enter)], Edit, "edit the selected order", writes),
    bind!(Orders, [ch('d')], Delete, "delete the selected order (asks first)", writes),
    bind!(Orders, [ch('h')], History, "history of the selected order"),
    bind!(Orders, [ch('y')], CopyId, "copy the order's id (OSC 52)"),
    bind!(Orders, [ch('Y')], CopyJson, "copy the order's JSON (OSC 52)"),
    bind!(Services, [ch('n')], New, "add a service", writes),
    bind!(Services, [ch('e'), plain(Enter)], Edit, "rename the selected service", writes),
    bind!(Services, [ch('d')], Delete, "delete the selected service (asks first)", writes),
    bind!(Form, [plain(Enter), ctrl('s')], Submit, "save"),
    bind!(Form, [plain(Esc)], Cancel, "close without saving"),
    bind!(Form, [plain(Tab)], NextField, "next field"),
    bind!(Form, [plain(BackTab)], PrevField, "previous field"),
    bind!(Form, [plain(Down)], Down, "next field (picker: next service)"),
    bind!(Form, [plain(Up)], Up, "previous field (picker: previous service)"),
    bind!(Form, [ch(' ')], Toggle, "picker: pick / unpick; typing finds a name"),
    bind!(Form, [ctrl('o')], GoToConflict, "open the conflicting order (form kept)"),
    bind!(Form, [ctrl('r')], Reload, "reload an order that changed meanwhile"),
    bind!(Confirm, [plain(Tab), plain(Left), plain(Right)], NextField, "switch between Cancel and Delete"),
    bind!(Confirm, [plain(Enter)], Submit, "press the focused button (Cancel first)"),
    bind!(Confirm, [plain(Esc), ch('n'), ch('q')], Cancel, "cancel"),
    bind!(Prompt, [plain(Enter)], Submit, "apply"),
    bind!(Prompt, [plain(Esc)], Cancel, "cancel"),
    bind!(Overlay, [plain(Esc), ch('q'), ch('?'), ch('h')], Cancel, "close"),
    bind!(Overlay, [plain(Down), ch('j')], Down, "scroll down"),
    bind!(Overlay, [plain(Up), ch('k')], Up, "scroll up"),
];

/// The command `key` means in `context` (the context's own bindings first, then the global
/// ones when `global` is allowed).
pub fn lookup(context: Context, key: KeyEvent, global: bool) -> Option<&'static Binding> {
    let matches = |b: &&Binding| b.keys.iter().any(|k| k.matches(key));
    let own = KEYMAP.iter().filter(|b| b.context == context).find(matches);
    own.or_else(|| if global { KEYMAP.iter().filter(|b| b.context == Context::Global).find(matches) } else { None })
}

impl Key {
    /// Whether a key event is this key (Shift is ignored for characters, which carry it).
    pub fn matches(self, event: KeyEvent) -> bool {
        let mut mods = event.modifiers;
        if matches!(event.code, KeyCode::Char(_) | KeyCode::BackTab) {
            mods.remove(KeyModifiers::SHIFT);
        }
        event.code == self.code && mods == self.modifiers
    }

    /// The key as the help screen writes it.
    pub fn label(self) -> String {
        let name = match self.code {
            KeyCode::Char(' ') => "Space".to_owned(),
            KeyCode::Char(c) => c.to_string(),
            KeyCode::Tab => "Tab".to_owned(),
            KeyCode::BackTab => "Shift-Tab".to_owned(),
            KeyCode::Enter => "Enter".to_owned(),
            KeyCode::Esc => "Esc".to_owned(),
            KeyCode::Up => "↑".to_owned(),
            KeyCode::Down => "↓".to_owned(),
            KeyCode::Left => "←".to_owned(),
            KeyCode::Right => "→".to_owned(),
            KeyCode::PageUp => "PgUp".to_owned(),
            KeyCode::PageDown => "PgDn".to_owned(),
            KeyCode::Home => "Home".to_owned(),
            KeyCode::End => "End".to_owned(),
            other => format!("{other:?}"),
        };
        if self.modifiers.contains(KeyModifiers::CONTROL) { format!("Ctrl-{}", name.to_uppercase()) } else { name }
    }
}

/// The help screen's lines: per context, each binding's keys and what they do. Write bindings
/// are left out in read-only mode, because they are refused there.
pub fn help_lines(read_only: bool) -> Vec<(Context, String, &'static str)> {
    KEYMAP
        .iter()
        .filter(|b| !(read_only && b.writes))
        .map(|b| (b.context, b.keys.iter().map(|k| k.label()).collect::<Vec<_>>().join(" "), b.help))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(code: KeyCode) -> KeyEvent {
        KeyEvent::new(code, KeyModifiers::NONE)
    }

    #[test]
    fn context_keys_win_over_global_ones_and_globals_apply_elsewhere() {
        assert_eq!(lookup(Context::Form, key(Tab), true).map(|b| b.command), Some(Command::NextField));
        assert_eq!(lookup(Context::Orders, key(Tab), true).map(|b| b.command), Some(Command::SwitchTab));
        assert_eq!(lookup(Context::Orders, key(KeyCode::Char('j')), true).map(|b| b.command), Some(Command::Down));
        assert!(lookup(Context::Prompt, key(KeyCode::Char('j')), false).is_none());
    }

    #[test]
    fn ctrl_c_quits_and_shifted_letters_match_their_character() {
        let ctrl_c = KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL);
        assert_eq!(lookup(Context::Orders, ctrl_c, true).map(|b| b.command), Some(Command::Quit));
        let shift_g = KeyEvent::new(KeyCode::Char('G'), KeyModifiers::SHIFT);
        assert_eq!(lookup(Context::Orders, shift_g, true).map(|b| b.command), Some(Command::End));
    }

    #[test]
    fn no_key_means_two_things_in_one_context() {
        for a in KEYMAP {
            for b in KEYMAP.iter().filter(|b| b.context == a.context && !std::ptr::eq(*b, a)) {
                for k in a.keys {
                    assert!(!b.keys.contains(k), "{:?} is bound twice in {:?}", k, a.context);
                }
            }
        }
    }

    #[test]
    fn help_lists_every_binding_and_hides_writes_when_read_only() {
        assert_eq!(help_lines(false).len(), KEYMAP.len());
        let read_only = help_lines(true);
        assert!(read_only.iter().all(|(_, _, help)| !help.contains("delete")));
        assert!(read_only.iter().any(|(_, keys, help)| keys == "q Ctrl-C" && *help == "quit"));
    }
}
