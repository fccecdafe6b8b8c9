//! The fairness report (公平性): is pay for the same work the same?
//!
//! Ledger lines posted in a span are grouped by the pricing context they
//! were posted under: tier, region and cooperation mode. For each group:
//!
//! - earnings per order, and per installer per CST month, as p10, p50 and
//!   p90 by the nearest-rank method (the smallest value with at least that
//!   share of values at or below it), so that every figure is one real
//!   order's or installer's figure;
//! - the dispute rate: disputed lines over all lines, as a four-place
//!   decimal;
//! - outliers: orders are comparable when they share a group and the same
//!   priced items in the same quantities. For each such set with at least
//!   [`MIN_COMPARABLE_ORDERS`] orders, an installer whose mean net earnings
//!   per order differ from the set's median by more than the threshold is
//!   listed, with both figures. Rewards and penalties count, so a pattern
//!   of penalties shows; refunded (reversed) orders do not.
//!
//! [`report`] is pure; [`fairness_report`] loads its input.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use anyhow::Context;
use chrono::{DateTime, Utc};
use rust_decimal::{Decimal, RoundingStrategy};
use scrm_entity::{earnings_line, statement_dispute};
use sea_orm::sea_query::Query;
use sea_orm::{ColumnTrait, ConnectionTrait, QueryFilter, QuerySelect};
use serde::Serialize;
use uuid::Uuid;

use super::earnings::{PENALTY, REWARD};
use super::period::{day_of, month_start};
use crate::tenancy::TenantScope;

/// The fewest comparable orders that make a median worth comparing with.
pub const MIN_COMPARABLE_ORDERS: usize = 3;

/// One ledger line, as the report reads it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReportLine {
    pub id: Uuid,
    pub tier: String,
    pub region_code: String,
    pub cooperation_mode: Option<String>,
    pub installer: Uuid,
    pub work_order: Uuid,
    pub service_item: String,
    pub kind: String,
    /// `posting` or `reversal`.
    pub entry: String,
    pub quantity: i32,
    pub amount_fen: i64,
    pub posted_at: DateTime<Utc>,
    pub disputed: bool,
}

/// p10, p50 and p90 of a set of amounts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Spread {
    pub p10_fen: i64,
    pub p50_fen: i64,
    pub p90_fen: i64,
}

/// An installer whose pay for comparable orders stands out.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Outlier {
    pub installer_id: Uuid,
    /// The comparable work, such as `AC-INSTALL×2`.
    pub work: String,
    pub orders: usize,
    /// Rounded half away from zero to the fen.
    pub mean_fen: i64,
    pub median_fen: i64,
    /// `(mean − median) / median`, four places, rounded half away from zero.
    pub deviation: Decimal,
}

/// One group of the report.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FairnessGroup {
    pub tier: String,
    pub region_code: String,
    pub cooperation_mode: Option<String>,
    pub orders: usize,
    pub installers: usize,
    pub per_order: Spread,
    pub per_installer_month: Spread,
    pub lines: usize,
    pub disputed_lines: usize,
    pub dispute_rate: Decimal,
    pub outliers: Vec<Outlier>,
}

type GroupKey = (String, String, Option<String>);

/// The report over `lines`, flagging deviations beyond `threshold` (0.2 is
/// 20 %).
pub fn report(lines: &[ReportLine], threshold: Decimal) -> Vec<FairnessGroup> {
    let mut groups: BTreeMap<GroupKey, Vec<&ReportLine>> = BTreeMap::new();
    for line in lines {
        let key = (
            line.tier.clone(),
            line.region_code.clone(),
            line.cooperation_mode.clone(),
        );
        groups.entry(key).or_default().push(line);
    }
    groups
        .into_iter()
        .map(|(key, lines)| group_report(key, &lines, threshold))
        .collect()
}

fn group_report(key: GroupKey, lines: &[&ReportLine], threshold: Decimal) -> FairnessGroup {
    let mut per_order: HashMap<Uuid, i64> = HashMap::new();
    let mut per_month: HashMap<(Uuid, chrono::NaiveDate), i64> = HashMap::new();
    for line in lines {
        *per_order.entry(line.work_order).or_default() += line.amount_fen;
        let month = month_start(day_of(line.posted_at));
        *per_month.entry((line.installer, month)).or_default() += line.amount_fen;
    }
    let installers: HashSet<Uuid> = lines.iter().map(|l| l.installer).collect();
    let disputed = lines.iter().filter(|l| l.disputed).count();
    FairnessGroup {
        tier: key.0,
        region_code: key.1,
        cooperation_mode: key.2,
        orders: per_order.len(),
        installers: installers.len(),
        per_order: spread(per_order.values().copied().collect()),
        per_installer_month: spread(per_month.values().copied().collect()),
        lines: lines.len(),
        disputed_lines: disputed,
        dispute_rate: ratio(disputed, lines.len()),
        outliers: outliers(lines, threshold),
    }
}

fn outliers(lines: &[&ReportLine], threshold: Decimal) -> Vec<Outlier> {
    let mut orders: BTreeMap<Uuid, OrderTally> = BTreeMap::new();
    for line in lines {
        let order = orders.entry(line.work_order).or_insert(OrderTally {
            installer: line.installer,
            net_fen: 0,
            work: BTreeSet::new(),
            reversed: false,
        });
        order.net_fen += line.amount_fen;
        let priced = line.kind != REWARD && line.kind != PENALTY;
        if line.entry != "posting" && priced {
            order.reversed = true;
        } else if priced {
            order
                .work
                .insert((line.service_item.clone(), line.quantity));
        }
    }
    let mut by_work: BTreeMap<String, Vec<(Uuid, i64)>> = BTreeMap::new();
    for order in orders.into_values() {
        if order.reversed || order.work.is_empty() {
            continue;
        }
        let name: Vec<String> = order
            .work
            .iter()
            .map(|(item, n)| format!("{item}×{n}"))
            .collect();
        by_work
            .entry(name.join("+"))
            .or_default()
            .push((order.installer, order.net_fen));
    }
    let mut found = Vec::new();
    for (work, orders) in by_work {
        if orders.len() < MIN_COMPARABLE_ORDERS {
            continue;
        }
        let median = percentile(&sorted(orders.iter().map(|o| o.1).collect()), 50);
        if median <= 0 {
            continue;
        }
        let mut per_installer: BTreeMap<Uuid, Vec<i64>> = BTreeMap::new();
        for (installer, net) in orders {
            per_installer.entry(installer).or_default().push(net);
        }
        for (installer, nets) in per_installer {
            let mean = Decimal::from(nets.iter().sum::<i64>()) / Decimal::from(nets.len());
            let deviation = ((mean - Decimal::from(median)) / Decimal::from(median))
                .round_dp_with_strategy(4, RoundingStrategy::MidpointAwayFromZero);
            if deviation.abs() > threshold {
                found.push(Outlier {
                    installer_id: installer,
                    work: work.clone(),
                    orders: nets.len(),
                    mean_fen: mean
                        .round_dp_with_strategy(0, RoundingStrategy::MidpointAwayFromZero)
                        .try_into()
                        .unwrap_or(i64::MAX),
                    median_fen: median,
                    deviation,
                });
            }
        }
    }
    found
}

/// One order as the comparison reads it: who did it, what it paid net,
/// which priced items in which quantities, and whether it was refunded.
struct OrderTally {
    installer: Uuid,
    net_fen: i64,
    work: BTreeSet<(String, i32)>,
    reversed: bool,
}

fn sorted(mut values: Vec<i64>) -> Vec<i64> {
    values.sort_unstable();
    values
}

fn spread(values: Vec<i64>) -> Spread {
    let values = sorted(values);
    Spread {
        p10_fen: percentile(&values, 10),
        p50_fen: percentile(&values, 50),
        p90_fen: percentile(&values, 90),
    }
}

/// The nearest-rank percentile of sorted values; 0 for none.
fn percentile(sorted: &[i64], p: usize) -> i64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = (p * sorted.len()).div_ceil(100).max(1);
    sorted[rank - 1]
}

fn ratio(part: usize, whole: usize) -> Decimal {
    if whole == 0 {
        return Decimal::ZERO;
    }
    (Decimal::from(part) / Decimal::from(whole))
        .round_dp_with_strategy(4, RoundingStrategy::MidpointAwayFromZero)
}

/// The most lines one report reads; a longer span is refused rather than
/// loaded whole.
pub const MAX_REPORT_LINES: u64 = 200_000;

#[derive(Debug, thiserror::Error)]
pub enum FairnessError {
    #[error("the span holds more than {MAX_REPORT_LINES} ledger lines; choose a shorter one")]
    TooManyLines,
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

/// The report over the lines posted in `from..to`.
#[tracing::instrument(name = "fairness report", skip_all, fields(tenant.id = %scope.tenant_id()))]
pub async fn fairness_report(
    db: &impl ConnectionTrait,
    scope: &TenantScope,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    threshold: Decimal,
) -> Result<Vec<FairnessGroup>, FairnessError> {
    let rows = scope
        .select::<earnings_line::Entity>()
        .filter(earnings_line::Column::PostedAt.gte(from))
        .filter(earnings_line::Column::PostedAt.lt(to))
        .limit(MAX_REPORT_LINES + 1)
        .all(db)
        .await
        .context("failed to load ledger lines for the report")?;
    if rows.len() as u64 > MAX_REPORT_LINES {
        return Err(FairnessError::TooManyLines);
    }
    let disputed: HashSet<Uuid> = {
        let window = Query::select()
            .column(earnings_line::Column::Id)
            .from(earnings_line::Entity)
            .and_where(earnings_line::Column::TenantId.eq(scope.tenant_id().as_uuid()))
            .and_where(earnings_line::Column::PostedAt.gte(from))
            .and_where(earnings_line::Column::PostedAt.lt(to))
            .to_owned();
        let ids: Vec<Uuid> = scope
            .select::<statement_dispute::Entity>()
            .select_only()
            .column(statement_dispute::Column::EarningsLineId)
            .filter(statement_dispute::Column::EarningsLineId.in_subquery(window))
            .into_tuple()
            .all(db)
            .await
            .context("failed to load disputed lines")?;
        ids.into_iter().collect()
    };
    let lines: Vec<ReportLine> = rows
        .into_iter()
        .map(|r| ReportLine {
            disputed: disputed.contains(&r.id),
            id: r.id,
            tier: r.tier,
            region_code: r.region_code,
            cooperation_mode: r.cooperation_mode,
            installer: r.installer_id,
            work_order: r.work_order_id,
            service_item: r.service_item,
            kind: r.kind,
            entry: r.entry,
            quantity: r.quantity,
            amount_fen: r.amount_fen,
            posted_at: r.posted_at,
        })
        .collect();
    Ok(report(&lines, threshold))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(installer: Uuid, order: Uuid, amount: i64) -> ReportLine {
        ReportLine {
            id: Uuid::now_v7(),
            tier: "T1".into(),
            region_code: "440305".into(),
            cooperation_mode: None,
            installer,
            work_order: order,
            service_item: "AC-INSTALL".into(),
            kind: "base".into(),
            entry: "posting".into(),
            quantity: 1,
            amount_fen: amount,
            posted_at: "2026-11-10T02:00:00Z".parse().expect("an instant"),
            disputed: false,
        }
    }

    #[test]
    fn percentiles_are_real_values_by_nearest_rank() {
        let values: Vec<i64> = (1..=10).map(|v| v * 100).collect();
        assert_eq!(percentile(&values, 10), 100);
        assert_eq!(percentile(&values, 50), 500);
        assert_eq!(percentile(&values, 90), 900);
        assert_eq!(percentile(&[42], 90), 42);
        assert_eq!(percentile(&[], 50), 0);
    }

    #[test]
    fn an_installer_paid_far_from_the_median_for_the_same_work_is_listed() {
        let (fair, low) = (Uuid::now_v7(), Uuid::now_v7());
        let mut lines: Vec<ReportLine> =
            (0..4).map(|_| line(fair, Uuid::now_v7(), 12000)).collect();
        lines.extend((0..2).map(|_| line(low, Uuid::now_v7(), 8000)));
        let groups = report(&lines, Decimal::new(2, 1));
        assert_eq!(groups.len(), 1);
        let outliers = &groups[0].outliers;
        assert_eq!(outliers.len(), 1, "{outliers:?}");
        assert_eq!(outliers[0].installer_id, low);
        assert_eq!(outliers[0].median_fen, 12000);
        assert_eq!(outliers[0].deviation, Decimal::new(-3333, 4));
    }

    #[test]
    fn refunded_orders_are_not_compared() {
        let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
        let mut lines: Vec<ReportLine> = (0..3).map(|_| line(a, Uuid::now_v7(), 12000)).collect();
        let refunded = Uuid::now_v7();
        lines.push(line(b, refunded, 12000));
        lines.push(ReportLine {
            entry: "reversal".into(),
            amount_fen: -12000,
            ..line(b, refunded, 12000)
        });
        let groups = report(&lines, Decimal::new(2, 1));
        assert!(groups[0].outliers.is_empty());
    }

    #[test]
    fn the_dispute_rate_is_disputed_lines_over_lines() {
        let a = Uuid::now_v7();
        let mut lines: Vec<ReportLine> = (0..3).map(|_| line(a, Uuid::now_v7(), 100)).collect();
        lines[0].disputed = true;
        let groups = report(&lines, Decimal::ONE);
        assert_eq!(groups[0].dispute_rate, Decimal::new(3333, 4));
        assert_eq!(groups[0].per_order.p50_fen, 100);
    }
}
