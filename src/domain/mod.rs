//! The domain: the values `orders` deals in and the rules they obey, free of any I/O.
//!
//! Entry points (CLI, HTTP, dashboard) turn their input into these types through the parsers
//! here, so every front end refuses the same things with the same messages.

mod field_error;
mod id;
pub mod input;
pub mod money;
pub mod number;
pub mod order;
pub mod schedule;
pub mod service;
pub mod timestamp;

pub use field_error::FieldError;
pub use id::{MAX_ID, parse_id};
pub use money::Money;
pub use number::whole_number;
pub use order::{Event, EventKind, NewOrder, Order, OrderFilter, OrderKey, OrderPatch, SortOrder};
pub use service::{Service, ServiceRef};
pub use timestamp::Timestamp;
