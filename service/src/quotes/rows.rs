//! Conversions between stored lines and their database rows. Locked quote
//! lines and ledger lines share the same columns for the line itself.

use anyhow::Context;
use chrono::{DateTime, Utc};
use scrm_entity::{earnings_line, quote_line};
use sea_orm::Set;
use uuid::Uuid;

use super::{Acceptor, LedgerLine, StoredLine, StoredRule};
use crate::domain::{UserId, WorkOrderId};
use crate::pricing::money::{Fen, Rate};
use crate::tenancy::TenantScope;

pub(super) fn quote_row(
    scope: &TenantScope,
    work_order: WorkOrderId,
    acceptor: Acceptor,
    line: &StoredLine,
    now: DateTime<Utc>,
) -> quote_line::ActiveModel {
    quote_line::ActiveModel {
        id: Set(Uuid::now_v7()),
        tenant_id: Set(scope.tenant_id().as_uuid()),
        work_order_id: Set(work_order.as_uuid()),
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
        installer_id: Set(acceptor.installer.as_uuid()),
        installer_mode: Set(acceptor.mode.as_str().to_owned()),
        locked_at: Set(now),
    }
}

pub(super) fn ledger_row(
    scope: &TenantScope,
    work_order: WorkOrderId,
    installer: UserId,
    line: &StoredLine,
    entry: &str,
    now: DateTime<Utc>,
) -> earnings_line::ActiveModel {
    earnings_line::ActiveModel {
        id: Set(Uuid::now_v7()),
        tenant_id: Set(scope.tenant_id().as_uuid()),
        work_order_id: Set(work_order.as_uuid()),
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
        installer_id: Set(installer.as_uuid()),
        entry: Set(entry.to_owned()),
        posted_at: Set(now),
    }
}

/// The columns of a line, read back from either table.
struct LineColumns {
    line_no: i32,
    kind: String,
    service_item: String,
    label: String,
    quantity: i32,
    sale_price_fen: i64,
    unit_price_fen: Option<i64>,
    rate_ten_thousandths: Option<i64>,
    amount_fen: i64,
    explanation: String,
    price_list_id: Uuid,
    price_list_version: i32,
    price_list_name: String,
    tier: String,
    region_code: String,
    cooperation_mode: Option<String>,
}

fn to_line(c: LineColumns) -> anyhow::Result<StoredLine> {
    let rate = c
        .rate_ten_thousandths
        .map(Rate::from_ten_thousandths)
        .transpose();
    let mode = c.cooperation_mode.as_deref().map(str::parse).transpose();
    Ok(StoredLine {
        line_no: c.line_no,
        kind: c.kind,
        service_item: c.service_item,
        label: c.label,
        quantity: c.quantity,
        sale_price_fen: Fen::new(c.sale_price_fen),
        unit_price_fen: c.unit_price_fen.map(Fen::new),
        rate: rate
            .map_err(anyhow::Error::msg)
            .context("a stored rate is out of range")?,
        amount_fen: Fen::new(c.amount_fen),
        explanation: c.explanation,
        rule: StoredRule {
            price_list_id: c.price_list_id,
            price_list: c.price_list_name,
            version: c.price_list_version,
            tier: c.tier,
            region_code: c.region_code,
            cooperation_mode: mode.map_err(anyhow::Error::msg)?,
        },
    })
}

pub(super) fn from_quote_row(r: quote_line::Model) -> anyhow::Result<StoredLine> {
    to_line(LineColumns {
        line_no: r.line_no,
        kind: r.kind,
        service_item: r.service_item,
        label: r.label,
        quantity: r.quantity,
        sale_price_fen: r.sale_price_fen,
        unit_price_fen: r.unit_price_fen,
        rate_ten_thousandths: r.rate_ten_thousandths,
        amount_fen: r.amount_fen,
        explanation: r.explanation,
        price_list_id: r.price_list_id,
        price_list_version: r.price_list_version,
        price_list_name: r.price_list_name,
        tier: r.tier,
        region_code: r.region_code,
        cooperation_mode: r.cooperation_mode,
    })
}

pub(super) fn from_ledger_row(r: earnings_line::Model) -> anyhow::Result<LedgerLine> {
    let (id, installer, entry, posted_at) = (r.id, r.installer_id, r.entry, r.posted_at);
    let line = to_line(LineColumns {
        line_no: r.line_no,
        kind: r.kind,
        service_item: r.service_item,
        label: r.label,
        quantity: r.quantity,
        sale_price_fen: r.sale_price_fen,
        unit_price_fen: r.unit_price_fen,
        rate_ten_thousandths: r.rate_ten_thousandths,
        amount_fen: r.amount_fen,
        explanation: r.explanation,
        price_list_id: r.price_list_id,
        price_list_version: r.price_list_version,
        price_list_name: r.price_list_name,
        tier: r.tier,
        region_code: r.region_code,
        cooperation_mode: r.cooperation_mode,
    })?;
    Ok(LedgerLine {
        id,
        installer: UserId::from_uuid(installer),
        entry,
        posted_at,
        line,
    })
}
