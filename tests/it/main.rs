//! The integration suite: one binary, every test on its own fresh database. Runs on SQLite, and
//! on PostgreSQL when `ORDERS_TEST_DATABASE_URL` names a server.

mod helpers;
mod schedule;
mod tui_e2e;
mod tui_scenarios;
