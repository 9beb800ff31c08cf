//! The orders table's sort: the order `s` steps through, and how each is named on screen.

use crate::domain::SortOrder;

/// The sort after `sort` when `s` is pressed.
pub fn next_sort(sort: SortOrder) -> SortOrder {
    match sort {
        SortOrder::DatetimeAsc => SortOrder::DatetimeDesc,
        SortOrder::DatetimeDesc => SortOrder::IdAsc,
        SortOrder::IdAsc => SortOrder::IdDesc,
        SortOrder::IdDesc => SortOrder::DatetimeAsc,
    }
}

/// How the sort is named on screen.
pub fn sort_label(sort: SortOrder) -> &'static str {
    match sort {
        SortOrder::DatetimeAsc => "datetime ↑",
        SortOrder::DatetimeDesc => "datetime ↓",
        SortOrder::IdAsc => "id ↑",
        SortOrder::IdDesc => "id ↓",
    }
}
