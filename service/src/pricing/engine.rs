//! The earnings engine: from order lines, a tier, a cooperation mode and the
//! price list in force, to earnings lines that each say where their figure
//! came from. Pure code: no I/O, no clock, the same answer for the same
//! inputs.
//!
//! A line earns `unit_price_fen × quantity + rate × sale_price_fen ×
//! quantity`, computed in `rust_decimal` with checked arithmetic and rounded
//! half up to the fen once, at the end of the line. The quote's total is the
//! sum of its lines, exactly. A price for the installer's cooperation mode
//! beats the general price of the same item and tier. A line with no price
//! is never priced at zero: the quote fails and names every missing
//! combination.

use std::collections::HashMap;
use std::sync::Arc;

use rust_decimal::{Decimal, RoundingStrategy};
use serde::Serialize;
use uuid::Uuid;

use super::money::{Fen, Rate};
use crate::domain::CooperationMode;

/// One line of an order, as the engine sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OrderLine {
    pub service_item: String,
    pub quantity: u32,
    pub sale_price_fen: Fen,
}

/// What one price says: a fixed unit price, a share of the sale price, or
/// both.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Price {
    pub unit_price_fen: Option<Fen>,
    pub rate: Option<Rate>,
}

/// One entry of a price list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PriceEntry {
    pub service_item: String,
    pub service_item_name: String,
    pub tier: String,
    /// `None` for the general price of every mode.
    pub cooperation_mode: Option<CooperationMode>,
    pub price: Price,
}

/// The prices of one item at one tier.
#[derive(Debug, Default)]
struct TierPrices {
    general: Option<Price>,
    by_mode: [Option<Price>; 3],
}

#[derive(Debug)]
struct ItemPrices {
    name: Arc<str>,
    tiers: HashMap<String, TierPrices>,
}

/// A price list arranged for look-ups.
#[derive(Debug)]
pub struct PriceBook {
    pub id: Uuid,
    pub name: Arc<str>,
    pub version: i32,
    items: HashMap<String, ItemPrices>,
}

fn mode_index(mode: CooperationMode) -> usize {
    match mode {
        CooperationMode::Employee => 0,
        CooperationMode::Partner => 1,
        CooperationMode::Freelance => 2,
    }
}

impl PriceBook {
    pub fn new(
        id: Uuid,
        name: &str,
        version: i32,
        entries: impl IntoIterator<Item = PriceEntry>,
    ) -> Self {
        let mut items: HashMap<String, ItemPrices> = HashMap::new();
        for entry in entries {
            let item = items
                .entry(entry.service_item)
                .or_insert_with(|| ItemPrices {
                    name: Arc::from(entry.service_item_name.as_str()),
                    tiers: HashMap::new(),
                });
            let tier = item.tiers.entry(entry.tier).or_default();
            match entry.cooperation_mode {
                None => tier.general = Some(entry.price),
                Some(mode) => tier.by_mode[mode_index(mode)] = Some(entry.price),
            }
        }
        Self {
            id,
            name: Arc::from(name),
            version,
            items,
        }
    }

    /// The price that applies, its item's name, and whether it is specific
    /// to the mode.
    fn find(
        &self,
        item: &str,
        tier: &str,
        mode: Option<CooperationMode>,
    ) -> Option<(&Arc<str>, Price, bool)> {
        let prices = self.items.get(item)?;
        let tier_prices = prices.tiers.get(tier)?;
        match mode.and_then(|mode| tier_prices.by_mode[mode_index(mode)]) {
            Some(price) => Some((&prices.name, price, true)),
            None => tier_prices
                .general
                .map(|price| (&prices.name, price, false)),
        }
    }
}

/// What a quote is asked for.
#[derive(Clone, Copy, Debug)]
pub struct QuoteRequest<'a> {
    pub lines: &'a [OrderLine],
    pub tier: &'a str,
    pub region_code: &'a str,
    /// The installer's mode; `None` before anyone is assigned, when only
    /// general prices apply.
    pub mode: Option<CooperationMode>,
    pub price_book: &'a PriceBook,
}

/// The rule behind a line: enough to find the exact price again.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Rule {
    pub price_list_id: Uuid,
    pub price_list: Arc<str>,
    pub version: i32,
    pub tier: Arc<str>,
    pub region_code: Arc<str>,
    /// The price was specific to this cooperation mode, not the general one.
    pub cooperation_mode: Option<CooperationMode>,
}

/// One line of earnings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EarningsLine {
    pub kind: &'static str,
    pub service_item: String,
    pub label: Arc<str>,
    pub quantity: u32,
    pub sale_price_fen: Fen,
    pub unit_price_fen: Option<Fen>,
    pub rate: Option<Rate>,
    pub amount_fen: Fen,
    pub rule: Rule,
}

/// A priced order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Quote {
    pub total_fen: Fen,
    pub lines: Vec<EarningsLine>,
}

/// An item × tier × mode for which the price list has no price.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct MissingPrice {
    pub service_item: String,
    pub tier: String,
    /// `None` when no installer (and so no mode) was known.
    pub cooperation_mode: Option<CooperationMode>,
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum QuoteError {
    #[error("no price applies to {0:?}")]
    Unpriced(Vec<MissingPrice>),
    #[error("the earnings of {service_item} overflow")]
    Overflow { service_item: String },
}

/// The kind of every line the engine makes.
pub const BASE_KIND: &str = "base";

/// Prices an order.
pub fn quote(request: &QuoteRequest<'_>) -> Result<Quote, QuoteError> {
    let book = request.price_book;
    let tier: Arc<str> = Arc::from(request.tier);
    let region_code: Arc<str> = Arc::from(request.region_code);
    let mut lines = Vec::with_capacity(request.lines.len());
    let mut missing = Vec::new();
    let mut total = Fen::ZERO;

    for line in request.lines {
        let Some((label, price, mode_specific)) =
            book.find(&line.service_item, &tier, request.mode)
        else {
            let gap = MissingPrice {
                service_item: line.service_item.clone(),
                tier: request.tier.to_owned(),
                cooperation_mode: request.mode,
            };
            if !missing.contains(&gap) {
                missing.push(gap);
            }
            continue;
        };
        let overflow = || QuoteError::Overflow {
            service_item: line.service_item.clone(),
        };
        let amount = line_amount(line, price).ok_or_else(overflow)?;
        total = total.checked_add(amount).ok_or_else(overflow)?;
        lines.push(EarningsLine {
            kind: BASE_KIND,
            service_item: line.service_item.clone(),
            label: Arc::clone(label),
            quantity: line.quantity,
            sale_price_fen: line.sale_price_fen,
            unit_price_fen: price.unit_price_fen,
            rate: price.rate,
            amount_fen: amount,
            rule: Rule {
                price_list_id: book.id,
                price_list: Arc::clone(&book.name),
                version: book.version,
                tier: Arc::clone(&tier),
                region_code: Arc::clone(&region_code),
                cooperation_mode: request.mode.filter(|_| mode_specific),
            },
        });
    }
    if missing.is_empty() {
        Ok(Quote {
            total_fen: total,
            lines,
        })
    } else {
        Err(QuoteError::Unpriced(missing))
    }
}

/// `unit × quantity + rate × sale × quantity`, rounded half up to the fen.
/// Inputs are never negative here, so half up and half away from zero agree.
pub fn line_amount(line: &OrderLine, price: Price) -> Option<Fen> {
    let quantity = Decimal::from(line.quantity);
    let fixed = match price.unit_price_fen {
        Some(unit) => Decimal::from(unit.get()).checked_mul(quantity)?,
        None => Decimal::ZERO,
    };
    let share = match price.rate {
        Some(rate) => Decimal::from(line.sale_price_fen.get())
            .checked_mul(quantity)?
            .checked_mul(rate.as_decimal())?,
        None => Decimal::ZERO,
    };
    let exact = fixed.checked_add(share)?;
    let rounded = exact.round_dp_with_strategy(0, RoundingStrategy::MidpointAwayFromZero);
    i64::try_from(rounded).ok().map(Fen::new)
}

impl EarningsLine {
    /// One sentence, in Chinese, that says how the amount was reached.
    pub fn explanation(&self) -> String {
        let quantity = self.quantity;
        let mut parts = Vec::with_capacity(2);
        if let Some(unit) = self.unit_price_fen {
            parts.push(format!("单价{unit}×{quantity}"));
        }
        if let Some(rate) = self.rate {
            parts.push(format!(
                "售价{}×{quantity}×提成{}",
                self.sale_price_fen,
                rate.percent()
            ));
        }
        let scope = match self.rule.cooperation_mode {
            Some(mode) => format!("{}专属价", mode_name(mode)),
            None => "通用价".to_owned(),
        };
        format!(
            "{}：按价目表《{}》第{}版，{}档（地区{}）{}，{}，四舍五入到分得{}。",
            self.label,
            self.rule.price_list,
            self.rule.version,
            self.rule.tier,
            self.rule.region_code,
            scope,
            parts.join(" + "),
            self.amount_fen
        )
    }
}

/// The Chinese name of a cooperation mode, as installers call it.
pub fn mode_name(mode: CooperationMode) -> &'static str {
    match mode {
        CooperationMode::Employee => "员工",
        CooperationMode::Partner => "服务商",
        CooperationMode::Freelance => "自由职业",
    }
}

#[cfg(test)]
mod tests;
