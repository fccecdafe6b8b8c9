//! Settlement (结算): closing a period into statements, and everything that
//! happens to a statement afterwards.
//!
//! - [`close::close_period`] gives each installer with unsettled ledger lines
//!   posted before the period's end one statement holding exactly those
//!   lines, and each partner firm one statement that sums its installers'.
//! - [`transitions`] moves a statement along
//!   `issued → confirmed | disputed → resolved → paid`, writing an audit
//!   entry (who, when, before, after) for every move. An accepted dispute
//!   adds an adjustment line; nothing is ever edited in place.
//! - [`views`] answers what each role may see: installers their own
//!   statements, partner managers their firm's, staff the tenant's.
//! - [`earnings`] is the installer's home page and ledger, and the rewards
//!   and penalties (奖惩) that staff add to an order.
//! - [`fairness`] is the report that checks pay is fair across tiers,
//!   regions and cooperation modes.
//!
//! A refund or rework after a close is a new ledger line, so it lands on the
//! next statement as a visible deduction that names its order.

pub mod close;
pub mod earnings;
pub mod export;
pub mod fairness;
pub mod period;
pub mod settings;
pub mod transitions;
pub mod views;

#[cfg(test)]
mod tests;

use serde::Serialize;

/// Where a statement stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StatementStatus {
    /// Only inside the close that writes it; the audit log shows it as the
    /// status before `issued`.
    Draft,
    Issued,
    Confirmed,
    Disputed,
    Resolved,
    Paid,
}

impl StatementStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            StatementStatus::Draft => "draft",
            StatementStatus::Issued => "issued",
            StatementStatus::Confirmed => "confirmed",
            StatementStatus::Disputed => "disputed",
            StatementStatus::Resolved => "resolved",
            StatementStatus::Paid => "paid",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [
            StatementStatus::Draft,
            StatementStatus::Issued,
            StatementStatus::Confirmed,
            StatementStatus::Disputed,
            StatementStatus::Resolved,
            StatementStatus::Paid,
        ]
        .into_iter()
        .find(|s| s.as_str() == text)
    }

    /// Whether the installer has accepted what the statement pays, directly
    /// or after every dispute was resolved. Its lines then count as settled.
    pub fn is_settled(self) -> bool {
        matches!(
            self,
            StatementStatus::Confirmed | StatementStatus::Resolved | StatementStatus::Paid
        )
    }
}

/// The statuses whose statements count as settled, as stored.
pub(crate) const SETTLED_STATUSES: [&str; 3] = ["confirmed", "resolved", "paid"];
