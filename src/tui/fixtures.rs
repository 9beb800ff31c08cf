//! Test fixtures for the dashboard's unit tests: the sample catalogue, sample orders, and a
//! dashboard of a given size with them loaded.

use super::app::{Action, App, Loaded};
use super::text::Zone;
use super::theme::Theme;
use super::update::update;
use crate::domain::{Money, Order, Service, Timestamp};

/// The sample catalogue.
pub fn catalogue() -> Vec<Service> {
    [(123, "Inspection"), (456, "Analysis"), (789, "Testing")]
        .into_iter()
        .map(|(id, name)| Service { id, name: name.to_owned() })
        .collect()
}

/// Order `id`, `index` × 3 h after the sample's first, with one service.
pub fn order(id: i64, index: i64) -> Order {
    let at =
        Timestamp::from_millis(Timestamp::parse("2022-11-01T11:11:11.111Z").unwrap().millis() + index * 10_800_000);
    let service = catalogue()[usize::try_from(index).unwrap() % 3].clone();
    let created = Timestamp::parse("2022-10-01T09:00:00Z").unwrap();
    Order {
        id,
        datetime: at,
        totalfee: Money::from_cents(10_000 + index * 5),
        services: vec![service],
        version: 1,
        created_at: created,
        updated_at: created,
    }
}

/// A dashboard of `width` × `height` showing `count` orders (all loaded) and the catalogue.
pub fn app_with(count: i64, width: u16, height: u16, read_only: bool) -> App {
    let mut app = App::new(read_only, Zone::Utc, Theme::mono());
    update(&mut app, Action::Resize(width, height));
    app.start();
    let generation = app.generation;
    let rows = (0..count).map(|i| order(223 + i, i)).collect();
    update(&mut app, Action::Services(Ok(catalogue())));
    let loaded = Loaded { rows, at_start: true, at_end: true, select: None, fallback: 0 };
    update(&mut app, Action::Loaded(generation, Ok(loaded)));
    update(&mut app, Action::Counted(generation, Ok(count)));
    app
}
