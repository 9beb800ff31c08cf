-- An order's services must belong to an existing order and name an existing service.
--
-- Nothing changes on SQLite: its declared keys (0001) already give those rules, and checking
-- them row by row is cheap in process. On PostgreSQL the same rules moved from the declared
-- keys to statement-level triggers, because its per-row checks were most of an import (see
-- migrations/postgres/0003_order_references.sql). Kept so that both folders have the same
-- numbers with the same meaning; tests/it/references.rs holds both backends to the same rules.
SELECT 1;
