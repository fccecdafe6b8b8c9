//! Conversions between stored lines and their database rows. Locked quote
//! lines and ledger lines share the same columns for the line itself, so
//! one macro writes those columns and one reads them, for either table.

use anyhow::Context;
use chrono::{DateTime, Utc};
use scrm_entity::{earnings_line, quote_line};
use sea_orm::Set;
use uuid::Uuid;

use super::{Acceptor, LedgerLine, StoredLine, StoredRule};
use crate::domain::{UserId, WorkOrderId};
use crate::pricing::money::{Fen, Rate};
use crate::tenancy::TenantScope;

/// An active model of `$model` with the line's columns set, plus `$extra`.
macro_rules! line_row {
    ($model:path, $scope:expr, $work_order:expr, $line:expr, { $($extra:ident: $value:expr),* $(,)? }) => {{
        let line: &StoredLine = $line;
        $model {
            id: Set(Uuid::now_v7()),
            tenant_id: Set($scope.tenant_id().as_uuid()),
            work_order_id: Set($work_order.as_uuid()),
            line_no: Set(line.line_no),
            kind: Set(line.kind.clone()),
            service_item: Set(line.service_item.clone()),
            label: Set(line.label.clone()),
            quantity: Set(line.quantity),
            sale_price_fen: Set(line.sale_price_fen.get()),
            unit_price_fen: Set(line.unit_price_fen.map(Fen::get)),
            rate_ten_thousandths: Set(line.rate.map(Rate::ten_thousandths)),
            amount_fen: Set(line.amount_fen.get()),
            explanation: Set(line.explanation.clone()),
            price_list_id: Set(line.rule.price_list_id),
            price_list_version: Set(line.rule.version),
            price_list_name: Set(line.rule.price_list.clone()),
            tier: Set(line.rule.tier.clone()),
            region_code: Set(line.rule.region_code.clone()),
            cooperation_mode: Set(line.rule.cooperation_mode.map(|m| m.as_str().to_owned())),
            $($extra: Set($value)),*
        }
    }};
}

/// The stored line held in a row of either table.
macro_rules! line_of {
    ($row:expr) => {{
        let r = $row;
        let rate = r
            .rate_ten_thousandths
            .map(Rate::from_ten_thousandths)
            .transpose();
        let mode = r.cooperation_mode.as_deref().map(str::parse).transpose();
        StoredLine {
            line_no: r.line_no,
            kind: r.kind,
            service_item: r.service_item,
            label: r.label,
            quantity: r.quantity,
            sale_price_fen: Fen::new(r.sale_price_fen),
            unit_price_fen: r.unit_price_fen.map(Fen::new),
            rate: rate
                .map_err(anyhow::Error::msg)
                .context("a stored rate is out of range")?,
            amount_fen: Fen::new(r.amount_fen),
            explanation: r.explanation,
            rule: StoredRule {
                price_list_id: r.price_list_id,
                price_list: r.price_list_name,
                version: r.price_list_version,
                tier: r.tier,
                region_code: r.region_code,
                cooperation_mode: mode.map_err(anyhow::Error::msg)?,
            },
        }
    }};
}

pub(super) fn quote_row(
    scope: &TenantScope,
    work_order: WorkOrderId,
    acceptor: Acceptor,
    line: &StoredLine,
    now: DateTime<Utc>,
) -> quote_line::ActiveModel {
    line_row!(quote_line::ActiveModel, scope, work_order, line, {
        installer_id: acceptor.installer.as_uuid(),
        installer_mode: acceptor.mode.as_str().to_owned(),
        locked_at: now,
    })
}

pub(super) fn ledger_row(
    scope: &TenantScope,
    work_order: WorkOrderId,
    installer: UserId,
    line: &StoredLine,
    entry: &str,
    now: DateTime<Utc>,
) -> earnings_line::ActiveModel {
    line_row!(earnings_line::ActiveModel, scope, work_order, line, {
        installer_id: installer.as_uuid(),
        entry: entry.to_owned(),
        posted_at: now,
    })
}

pub(super) fn from_quote_row(row: quote_line::Model) -> anyhow::Result<StoredLine> {
    Ok(line_of!(row))
}

pub(super) fn from_ledger_row(row: earnings_line::Model) -> anyhow::Result<LedgerLine> {
    let (id, installer, entry, posted_at) =
        (row.id, row.installer_id, row.entry.clone(), row.posted_at);
    let line = line_of!(row);
    Ok(LedgerLine {
        id,
        installer: UserId::from_uuid(installer),
        entry,
        posted_at,
        line,
    })
}
