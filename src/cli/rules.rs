//! `orders rules` and `orders rules set-gap DURATION`: the scheduling rule the database holds
//! (docs/orders.md), shown and changed. Local only: it changes what every process follows.

use serde::Serialize;

use super::args::{OutputArgs, RulesCommand};
use super::output::{self, Record};
use crate::domain::schedule::{format_gap, gap_millis, parse_gap};
use crate::error::Error;
use crate::store::{Rule, Store};

/// The rule as the record commands print it.
#[derive(Debug, Serialize)]
struct RuleRecord {
    /// The gap for people (`3h`, `0s`).
    min_gap: String,
    /// The gap as the database stores it.
    min_gap_ms: i64,
    /// What in the schema enforces it (empty when the rule is off).
    enforced_by: Vec<String>,
}

impl From<Rule> for RuleRecord {
    fn from(rule: Rule) -> Self {
        Self { min_gap: format_gap(rule.min_gap), min_gap_ms: gap_millis(rule.min_gap), enforced_by: rule.enforced_by }
    }
}

impl Record for RuleRecord {
    const TABLE: &'static [&'static str] = &["min_gap", "min_gap_ms", "enforced_by"];
    const CSV: &'static [&'static str] = &["min_gap", "min_gap_ms", "enforced_by"];
    fn table_row(&self) -> Vec<String> {
        let enforced = if self.enforced_by.is_empty() {
            "nothing: the rule is off".to_owned()
        } else {
            self.enforced_by.join("\n")
        };
        vec![self.min_gap.clone(), self.min_gap_ms.to_string(), enforced]
    }
    fn csv_row(&self) -> Vec<String> {
        vec![self.min_gap.clone(), self.min_gap_ms.to_string(), self.enforced_by.join("; ")]
    }
}

/// Shows the rule, or changes it and shows the rule then in force.
///
/// # Errors
/// A malformed gap (invalid input, 5); a gap stored orders break, naming the closest two (4).
pub async fn run(store: &Store, command: Option<RulesCommand>, output: OutputArgs) -> anyhow::Result<()> {
    let (rule, output) = match command {
        None => (store.rule().await?, output),
        Some(RulesCommand::SetGap { gap, output }) => {
            let gap = parse_gap(&gap).map_err(|e| Error::invalid("min_gap", e))?;
            let rule = store.set_min_gap(gap).await.map_err(|e| match e {
                Error::GapViolated { .. } => {
                    anyhow::Error::new(e).context(format!("cannot set the gap to {}", format_gap(gap)))
                }
                other => other.into(),
            })?;
            eprintln!("orders: the minimum gap is now {}", format_gap(rule.min_gap));
            (rule, output)
        }
    };
    Ok(output::print_one(output.format(), &RuleRecord::from(rule))?)
}
