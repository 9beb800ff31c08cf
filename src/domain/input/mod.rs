//! The one reader of an order's input. Each surface is a thin adapter that collects the raw
//! value of every field it has into a [`RawOrder`] (the CLI's flags and the dashboard's form
//! give text, the API and import a JSON body: `json.rs`) and asks for a [`NewOrder`] or an
//! [`OrderPatch`]. Every field is read here by the same rules (`fields.rs`), refused with the
//! same words ([`messages`]), and every field error is reported at once.

mod fields;
mod json;
pub mod messages;
mod order;
mod raw;

#[cfg(test)]
mod tests;

pub use fields::ReadTime;
pub use json::{import_record, new_order, patch, replacement, service};
pub use order::{RawOrder, Refusal, Shape, collect};
pub use raw::{Raw, RawServices};
