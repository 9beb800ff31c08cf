//! The integration suite: one binary, every test on its own fresh database. Runs on SQLite, and
//! on PostgreSQL when `ORDERS_TEST_DATABASE_URL` names a server.

mod api_auth;
mod api_concurrency;
mod api_conditional;
mod api_helpers;
mod api_idempotency;
mod api_limits;
mod api_operations;
mod api_orders;
mod api_status;
mod api_streams;
mod bad_inputs;
mod cli;
mod dashboard_logs;
mod healthcheck;
mod helpers;
mod man_and_help;
mod metrics_listener;
mod module_graph;
mod openapi_check;
mod progress;
mod pty;
mod quiet_logs;
mod references;
mod remote_book;
mod remote_cli;
mod round_trip;
mod rule;
mod schedule;
mod store;
mod store_limits;
mod tui_e2e;
mod tui_scenarios;
