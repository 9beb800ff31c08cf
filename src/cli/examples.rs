//! The `Examples:` that `--help` shows below the flags of the common commands (clap's
//! `after_help`, set in `args`). Each example is one `orders …` line that works as written
//! (tests/it/man_and_help.rs parses every one and runs the record commands' on sample data),
//! in the forms docs/cli.md uses.

/// `orders list`.
pub(super) const LIST: &str = "\
Examples:
  orders list
  orders list --from 2022-11-01T00:00:00Z --to 2022-11-02T00:00:00Z --service 123
  orders list --limit 10 -o csv > orders.csv";

/// `orders get`.
pub(super) const GET: &str = "\
Examples:
  orders get 223
  orders get 223 -o json";

/// `orders create`.
pub(super) const CREATE: &str = "\
Examples:
  orders create --fee 100 --service 123
  orders create --datetime 2022-11-01T21:00:00Z --fee 99.95 --service 123 --service 456";

/// `orders update`.
pub(super) const UPDATE: &str = "\
Examples:
  orders update 223 --fee 120
  orders update 223 --datetime 2022-11-02T09:00:00+01:00 --service 789 --service 456";

/// `orders delete`.
pub(super) const DELETE: &str = "\
Examples:
  orders delete 223 --yes
On a terminal, without --yes, it names the order and asks first.";

/// `orders export`.
pub(super) const EXPORT: &str = "\
Examples:
  orders export > orders.ndjson
  orders export | gzip > orders.ndjson.gz
On a terminal, stderr shows a progress bar (nothing when stderr is not a terminal).";

/// `orders import`.
pub(super) const IMPORT: &str = "\
Examples:
  orders import orders.ndjson
  gunzip -c orders.ndjson.gz | orders import -
On a terminal, stderr shows a progress bar (nothing when stderr is not a terminal).";

/// `orders serve`.
pub(super) const SERVE: &str = "\
Examples:
  orders serve
  orders serve --addr 0.0.0.0:8080";

/// `orders token issue`.
pub(super) const TOKEN_ISSUE: &str = "\
Examples:
  orders token issue --subject ci --role reader --ttl 15m
  orders token issue --subject alice --role writer --refresh -o json
  orders token issue --subject alice --role writer --refresh | tail -n 1 > refresh-token.txt";

/// `orders login`.
pub(super) const LOGIN: &str = "\
Examples:
  orders login http://orders.internal:8080 < refresh-token.txt
  orders get 223";

/// `orders man`.
pub(super) const MAN: &str = "\
Examples:
  orders man | man -l -
  orders man services add | man -l -
  orders man --dir /usr/local/share/man/man1";
