//! The dashboard's state and how keys become actions. No I/O here: [`handle_key`] maps a key
//! to an [`Action`] through the key map, `update` applies actions and returns [`Effect`]s for
//! the event loop (or a test) to carry out, and rendering only reads `&App`.

use crossterm::event::KeyEvent;

use super::form::Form;
use super::keys::{self, Command, Context};
use super::status::Status;
use super::text::{Input, Zone};
use super::theme::Theme;
use super::window::{Direction, Window};
use crate::Error;
use crate::domain::{Event, NewOrder, Order, OrderFilter, OrderKey, OrderPatch, Service, SortOrder};

/// Which catalogue the dashboard shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tab {
    /// The orders table.
    Orders,
    /// The services catalogue.
    Services,
}

/// What has the keyboard.
#[derive(Debug, Clone, PartialEq)]
pub enum Mode {
    /// The table of the current tab.
    Browse,
    /// The `/` filter prompt.
    Filter(Input),
    /// The `:` jump-to-id prompt.
    Jump(Input),
    /// The create / edit form.
    Form(Box<Form>),
    /// Asking before a delete; `delete_focused` is false until the user moves to Delete.
    ConfirmDelete {
        /// The order to delete, as shown.
        order: Box<Order>,
        /// Whether Delete (rather than Cancel) has the focus.
        delete_focused: bool,
    },
    /// The selected order's history (`None` while it loads).
    History {
        /// The order.
        order_id: i64,
        /// Its events.
        events: Option<Vec<Event>>,
        /// Lines scrolled.
        scroll: u16,
    },
    /// The key list.
    Help {
        /// Lines scrolled.
        scroll: u16,
    },
    /// Adding (`id` none) or renaming a service.
    ServiceName {
        /// The service renamed.
        id: Option<i64>,
        /// The name typed.
        input: Input,
        /// The store's refusal, shown under the field.
        error: Option<String>,
    },
    /// Asking before a service delete.
    ConfirmServiceDelete {
        /// The service.
        service: Service,
        /// Whether Delete has the focus.
        delete_focused: bool,
    },
}

/// The orders filter as typed and as understood.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    /// What the user typed.
    pub text: String,
    /// Only this order id.
    pub id: Option<i64>,
    /// The store filter (date range, service).
    pub store: OrderFilter,
}

/// The whole dashboard state.
#[derive(Debug)]
pub struct App {
    /// The tab shown.
    pub tab: Tab,
    /// What has the keyboard.
    pub mode: Mode,
    /// Browse-only.
    pub read_only: bool,
    /// Why the catalogue cannot be edited, when orders can (remote mode: a `writer` token).
    pub catalogue_locked: Option<String>,
    /// How instants are shown and typed.
    pub zone: Zone,
    /// Colours, or none.
    pub theme: Theme,
    /// The orders window.
    pub orders: Window,
    /// How many orders match the filter, once counted.
    pub total: Option<i64>,
    /// The current filter.
    pub filter: Filter,
    /// The current sort.
    pub sort: SortOrder,
    /// The service catalogue, by name.
    pub services: Vec<Service>,
    /// The selected service.
    pub service_selected: usize,
    /// The status bar's message.
    pub status: Option<Status>,
    /// Store calls in flight.
    pub busy: usize,
    /// Bumped on every reload, so late pages of an older one are ignored.
    pub generation: u64,
    /// The reload whose count `total` shows or awaits: counts of older filters are ignored.
    pub counting: u64,
    /// The reload whose rows the table shows.
    pub shown: u64,
    /// A form set aside to look at a conflicting order; `n` (or `e` on its order) brings it back.
    pub draft: Option<Box<Form>>,
    /// Table rows that fit on screen.
    pub height: usize,
    /// The terminal size.
    pub size: (u16, u16),
    /// Set once the user asked to quit.
    pub quit: bool,
    /// Periodic refreshes so far.
    pub ticks: u64,
}

/// Something to apply to the state: a command from a key, typing, or a store result.
#[derive(Debug)]
pub enum Action {
    /// A command from the key map.
    Command(Command),
    /// A key typed into the focused text field.
    Type(KeyEvent),
    /// Mouse wheel: rows to move.
    Scroll(isize),
    /// Mouse click on the `n`-th table row on screen.
    Click(usize),
    /// The terminal's new size.
    Resize(u16, u16),
    /// The periodic refresh.
    Tick,
    /// A reload's rows.
    Loaded(u64, Result<Loaded, Error>),
    /// A page that extends the window.
    Extended(u64, Direction, OrderKey, Result<(Vec<Order>, bool), Error>),
    /// The count of matching orders.
    Counted(u64, Result<i64, Error>),
    /// The catalogue.
    Services(Result<Vec<Service>, Error>),
    /// A create or update finished.
    Saved(Result<Order, Error>),
    /// The current state of an order whose edit went stale.
    Reloaded(Result<Order, Error>),
    /// A delete finished.
    Deleted(i64, Result<(), Error>),
    /// The order a jump asked for.
    Found(Result<Order, Error>),
    /// An order's history.
    History(i64, Result<Vec<Event>, Error>),
    /// A service add, rename or delete finished (`true` for a delete).
    ServiceSaved(bool, Result<Service, Error>),
    /// The store could not be opened (yet): it is tried again.
    Unavailable(Error),
    /// Remote mode: whom the API knows this dashboard as, which decides what it may write.
    SignedIn(super::identity::Identity),
}

/// A reload's result.
#[derive(Debug)]
pub struct Loaded {
    /// The rows, in sort order.
    pub rows: Vec<Order>,
    /// Nothing before them.
    pub at_start: bool,
    /// Nothing after them.
    pub at_end: bool,
    /// The order to select.
    pub select: Option<i64>,
    /// The row to select when that order is gone.
    pub fallback: usize,
}

/// Where a reload starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Anchor {
    /// The first rows.
    Start,
    /// The last rows.
    End,
    /// Rows around this order (which comes first among the rows after it).
    Around(OrderKey),
}

/// Work for the event loop: store calls (run off the UI task) and terminal output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// Reload the window.
    Load {
        /// The reload's generation.
        generation: u64,
        /// The filter.
        filter: OrderFilter,
        /// Only this id.
        id: Option<i64>,
        /// The sort.
        sort: SortOrder,
        /// Where.
        anchor: Anchor,
        /// The order to keep selected.
        select: Option<i64>,
        /// Rows wanted on the far side of the anchor.
        rows: u32,
    },
    /// Fetch a page beyond an edge of the window.
    Extend {
        /// The window's generation.
        generation: u64,
        /// The filter.
        filter: OrderFilter,
        /// The window's sort.
        sort: SortOrder,
        /// Which way.
        direction: Direction,
        /// The edge row's key.
        after: OrderKey,
    },
    /// Count the matching orders.
    Count {
        /// The reload's generation.
        generation: u64,
        /// The filter.
        filter: OrderFilter,
    },
    /// Load the catalogue.
    LoadServices,
    /// Create an order.
    Create(NewOrder),
    /// Update an order if still at `version`.
    Update {
        /// The order.
        id: i64,
        /// The changes.
        patch: OrderPatch,
        /// The version expected.
        version: i64,
    },
    /// Fetch an order whose edit went stale.
    Reload(i64),
    /// Delete an order if still at `version`.
    Delete {
        /// The order.
        id: i64,
        /// The version shown when confirming.
        version: i64,
    },
    /// Fetch an order to jump to it.
    Find(i64),
    /// Fetch an order's history.
    History(i64),
    /// Add (`id` none) or rename a service.
    SaveService {
        /// The service renamed.
        id: Option<i64>,
        /// The name.
        name: String,
    },
    /// Delete a service.
    DeleteService(i64),
    /// Put text on the clipboard with OSC 52.
    Copy(String),
}

impl App {
    /// A dashboard on an empty window; `update(Action::Resize…)` and a first
    /// [`App::start`] fill it.
    pub fn new(read_only: bool, zone: Zone, theme: Theme) -> Self {
        Self {
            tab: Tab::Orders,
            mode: Mode::Browse,
            read_only,
            catalogue_locked: None,
            zone,
            theme,
            orders: Window::default(),
            total: None,
            filter: Filter::default(),
            sort: SortOrder::default(),
            services: Vec::new(),
            service_selected: 0,
            status: None,
            busy: 0,
            counting: 0,
            shown: 0,
            generation: 0,
            draft: None,
            height: 10,
            size: (80, 24),
            quit: false,
            ticks: 0,
        }
    }

    /// The first effects: load the catalogue and the first page.
    pub fn start(&mut self) -> Vec<Effect> {
        // The first page first: it takes the connection the store opened with, while the count
        // and the catalogue wait for new ones (a TLS handshake each, ~90 ms with sqlx 0.9.0).
        let mut effects = self.reload(Anchor::Start, None);
        effects.push(Effect::LoadServices);
        self.busy += effects.len();
        effects
    }

    /// The context that decides what keys mean now.
    pub fn context(&self) -> Context {
        match (&self.mode, self.tab) {
            (Mode::Browse, Tab::Orders) => Context::Orders,
            (Mode::Browse, Tab::Services) => Context::Services,
            (Mode::Filter(_) | Mode::Jump(_) | Mode::ServiceName { .. }, _) => Context::Prompt,
            (Mode::Form(_), _) => Context::Form,
            (Mode::ConfirmDelete { .. } | Mode::ConfirmServiceDelete { .. }, _) => Context::Confirm,
            (Mode::History { .. } | Mode::Help { .. }, _) => Context::Overlay,
        }
    }

    /// Whether the focused thing takes typed characters.
    fn takes_text(&self) -> bool {
        matches!(self.mode, Mode::Filter(_) | Mode::Jump(_) | Mode::ServiceName { .. } | Mode::Form(_))
    }

    /// The reload effects for the current filter and sort (a new generation): the rows around
    /// `anchor`, and their count.
    pub fn reload(&mut self, anchor: Anchor, select: Option<i64>) -> Vec<Effect> {
        let mut effects = self.reload_rows(anchor, select);
        self.counting = self.generation;
        effects.push(Effect::Count { generation: self.counting, filter: self.filter.store.clone() });
        effects
    }

    /// The rows around `anchor` for the current filter and sort, as a new generation, without
    /// counting them again: for Home and End (only the filter decides the count; on 1M orders on
    /// PostgreSQL, End waited ~130 ms for a count it did not need) and the periodic refresh
    /// between two counts.
    pub fn reload_rows(&mut self, anchor: Anchor, select: Option<i64>) -> Vec<Effect> {
        self.generation += 1;
        let rows = u32::try_from(self.height).unwrap_or(50).max(20) * 3;
        vec![Effect::Load {
            generation: self.generation,
            filter: self.filter.store.clone(),
            id: self.filter.id,
            sort: self.sort,
            anchor,
            select,
            rows,
        }]
    }

    /// The selected service.
    pub fn selected_service(&self) -> Option<&Service> {
        self.services.get(self.service_selected)
    }
}

/// What `key` asks for in the app's current state, if anything. Text fields take characters
/// (and editing keys) before the global bindings; Ctrl-C always quits.
pub fn handle_key(app: &App, key: KeyEvent) -> Option<Action> {
    let context = app.context();
    let text = app.takes_text();
    let form_text = matches!(&app.mode, Mode::Form(f) if f.focus != super::form::Field::Services);
    // In a text field a plain character is text, even where the form binds it (Space).
    let is_char = matches!(key.code, crossterm::event::KeyCode::Char(_))
        && !key.modifiers.contains(crossterm::event::KeyModifiers::CONTROL);
    if text && is_char && (context == Context::Prompt || form_text) {
        return Some(Action::Type(key));
    }
    match keys::lookup(context, key, !text) {
        Some(binding) => Some(Action::Command(binding.command)),
        // Ctrl-C quits even from a field ('q' there is just a letter).
        None if text
            && !is_char
            && keys::lookup(Context::Global, key, true).is_some_and(|b| b.command == Command::Quit) =>
        {
            Some(Action::Command(Command::Quit))
        }
        None if text => Some(Action::Type(key)),
        None => None,
    }
}
