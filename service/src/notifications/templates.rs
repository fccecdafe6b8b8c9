//! Which WeChat subscribe-message template a tenant uses for each kind of
//! notification, and how a notification fills the template's fields.
//!
//! WeChat checks each field's value by the field's type, which is the key
//! without its number (`thing1` is a `thing`): `thing` is at most 20
//! characters, `phrase` 5, `name` 10, `character_string` 32, `amount` an
//! amount such as `¥240.00`, `time` a date and time. A value that breaks
//! these rules makes WeChat refuse the whole message, so values are cut to
//! fit here.

use std::collections::BTreeMap;

use anyhow::Context;
use chrono::{DateTime, FixedOffset, Utc};
use scrm_entity::wechat_template;
use sea_orm::sea_query::OnConflict;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set};
use serde::{Deserialize, Serialize};

use super::{NotificationKind, PushData};
use crate::tenancy::TenantScope;

/// Where a template field takes its value from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FieldSource {
    Title,
    Body,
    /// The amount, as `¥240.00`.
    Amount,
    OrderNumber,
    Node,
    /// When the notification was written, in China Standard Time.
    Time,
}

/// A tenant's template for one kind.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TemplateSetting {
    pub kind: NotificationKind,
    pub template_id: String,
    pub page: Option<String>,
    /// Template field key (`thing1`) → where its value comes from.
    pub fields: BTreeMap<String, FieldSource>,
}

#[derive(Debug, thiserror::Error)]
pub enum PutTemplateError {
    #[error("{field}: {message}")]
    Invalid { field: String, message: String },
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

/// The field mapping used when a tenant names none: a title, the order
/// number or amount, and the time.
pub fn default_fields(kind: NotificationKind) -> BTreeMap<String, FieldSource> {
    let pairs: &[(&str, FieldSource)] = match kind {
        NotificationKind::EarningsPosted | NotificationKind::StatementPaid => &[
            ("amount1", FieldSource::Amount),
            ("character_string2", FieldSource::OrderNumber),
            ("time3", FieldSource::Time),
        ],
        NotificationKind::StatementIssued => &[
            ("amount1", FieldSource::Amount),
            ("thing2", FieldSource::Title),
            ("time3", FieldSource::Time),
        ],
        NotificationKind::DisputeResolved => &[
            ("thing1", FieldSource::Title),
            ("thing2", FieldSource::Body),
            ("time3", FieldSource::Time),
        ],
        NotificationKind::OrderProgress | NotificationKind::Overdue => &[
            ("thing1", FieldSource::Title),
            ("character_string2", FieldSource::OrderNumber),
            ("time3", FieldSource::Time),
        ],
    };
    pairs.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect()
}

/// Checks a setting's template id, page and field keys.
pub fn check_setting(setting: &TemplateSetting) -> Result<(), PutTemplateError> {
    let invalid = |field: &str, message: &str| PutTemplateError::Invalid {
        field: field.to_owned(),
        message: message.to_owned(),
    };
    let id = setting.template_id.trim();
    if id.is_empty() || id.len() > 128 || !id.chars().all(|c| c.is_ascii_graphic()) {
        return Err(invalid(
            "template_id",
            "must be 1 to 128 visible ASCII characters",
        ));
    }
    if let Some(page) = &setting.page
        && (page.is_empty() || page.len() > 200)
    {
        return Err(invalid("page", "must be 1 to 200 characters"));
    }
    if setting.fields.is_empty() || setting.fields.len() > 10 {
        return Err(invalid("fields", "must map 1 to 10 template fields"));
    }
    for key in setting.fields.keys() {
        if field_type(key).is_none() {
            return Err(PutTemplateError::Invalid {
                field: format!("fields.{key}"),
                message: "is not a WeChat field key such as thing1 or amount2".into(),
            });
        }
    }
    Ok(())
}

/// Sets the template of one kind for the scope's tenant.
#[tracing::instrument(name = "put wechat template", skip_all, fields(tenant.id = %scope.tenant_id(), kind = setting.kind.as_str()))]
pub async fn put_template(
    db: &impl ConnectionTrait,
    scope: &TenantScope,
    setting: &TemplateSetting,
    now: DateTime<Utc>,
) -> Result<(), PutTemplateError> {
    check_setting(setting)?;
    let fields = serde_json::to_string(&setting.fields).context("failed to encode fields")?;
    let row = wechat_template::ActiveModel {
        tenant_id: Set(scope.tenant_id().as_uuid()),
        kind: Set(setting.kind.as_str().to_owned()),
        template_id: Set(setting.template_id.trim().to_owned()),
        page: Set(setting.page.clone()),
        fields: Set(fields),
        updated_at: Set(now),
    };
    wechat_template::Entity::insert(row)
        .on_conflict(
            OnConflict::columns([
                wechat_template::Column::TenantId,
                wechat_template::Column::Kind,
            ])
            .update_columns([
                wechat_template::Column::TemplateId,
                wechat_template::Column::Page,
                wechat_template::Column::Fields,
                wechat_template::Column::UpdatedAt,
            ])
            .to_owned(),
        )
        .exec(db)
        .await
        .context("failed to store a WeChat template")?;
    Ok(())
}

/// Every template the scope's tenant has set.
pub async fn list_templates(
    db: &impl ConnectionTrait,
    scope: &TenantScope,
) -> anyhow::Result<Vec<TemplateSetting>> {
    let rows = scope
        .select::<wechat_template::Entity>()
        .all(db)
        .await
        .context("failed to list WeChat templates")?;
    Ok(rows.into_iter().filter_map(setting_of).collect())
}

/// The template of one kind for one tenant, if set.
pub(crate) async fn template_for(
    db: &impl ConnectionTrait,
    tenant_id: uuid::Uuid,
    kind: &str,
) -> anyhow::Result<Option<TemplateSetting>> {
    let row = wechat_template::Entity::find()
        .filter(wechat_template::Column::TenantId.eq(tenant_id))
        .filter(wechat_template::Column::Kind.eq(kind))
        .one(db)
        .await
        .context("failed to load a WeChat template")?;
    Ok(row.and_then(setting_of))
}

fn setting_of(row: wechat_template::Model) -> Option<TemplateSetting> {
    Some(TemplateSetting {
        kind: NotificationKind::parse_templated(&row.kind)?,
        template_id: row.template_id,
        page: row.page,
        fields: serde_json::from_str(&row.fields).ok()?,
    })
}

/// What a notification says, for filling a template.
#[derive(Debug, Clone)]
pub struct Filling<'a> {
    pub title: &'a str,
    pub body: &'a str,
    pub data: &'a PushData,
    pub created_at: DateTime<Utc>,
}

/// The `data` object of a subscribe message: each field's value, cut to
/// what WeChat accepts for the field's type. A field whose source has no
/// value (an amount on a notification without one) is left out.
pub fn fill(fields: &BTreeMap<String, FieldSource>, filling: &Filling<'_>) -> serde_json::Value {
    let mut data = serde_json::Map::new();
    for (key, source) in fields {
        let raw = match source {
            FieldSource::Title => Some(filling.title.to_owned()),
            FieldSource::Body => Some(filling.body.to_owned()),
            FieldSource::Amount => filling.data.amount_fen.map(format_yuan),
            FieldSource::OrderNumber => filling.data.order_number.clone(),
            FieldSource::Node => filling.data.node.clone(),
            FieldSource::Time => Some(format_china_time(filling.created_at)),
        };
        if let Some(value) = raw {
            let fitted = fit(field_type(key).unwrap_or("thing"), &value);
            data.insert(key.clone(), serde_json::json!({ "value": fitted }));
        }
    }
    serde_json::Value::Object(data)
}

/// The type of a field key: `thing12` → `thing`.
fn field_type(key: &str) -> Option<&str> {
    let kind = key.trim_end_matches(|c: char| c.is_ascii_digit());
    let known = [
        "thing",
        "number",
        "letter",
        "symbol",
        "character_string",
        "time",
        "date",
        "amount",
        "phone_number",
        "car_number",
        "name",
        "phrase",
    ];
    (kind.len() < key.len() && known.contains(&kind)).then_some(kind)
}

/// Cuts a value to the length WeChat allows for its type, marking the cut.
fn fit(field_type: &str, value: &str) -> String {
    let limit = match field_type {
        "thing" => 20,
        "phrase" => 5,
        "name" => 10,
        "character_string" | "number" | "letter" | "symbol" => 32,
        "phone_number" => 17,
        "car_number" => 8,
        _ => return value.to_owned(),
    };
    if value.chars().count() <= limit {
        return value.to_owned();
    }
    if field_type == "thing" || field_type == "name" {
        let mut cut: String = value.chars().take(limit - 1).collect();
        cut.push('…');
        cut
    } else {
        value.chars().take(limit).collect()
    }
}

/// `¥240.00` for 24000 fen; `-¥12.30` for a deduction. Fen convert to yuan
/// exactly (two decimals), so nothing is rounded.
pub fn format_yuan(fen: i64) -> String {
    let sign = if fen < 0 { "-" } else { "" };
    let abs = fen.unsigned_abs();
    format!("{sign}¥{}.{:02}", abs / 100, abs % 100)
}

/// `2026-12-03 20:30` in China Standard Time (UTC+8), the time installers
/// read.
pub fn format_china_time(at: DateTime<Utc>) -> String {
    let china = FixedOffset::east_opt(8 * 3600).expect("UTC+8 is a valid offset");
    at.with_timezone(&china)
        .format("%Y-%m-%d %H:%M")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filling<'a>(title: &'a str, data: &'a PushData) -> Filling<'a> {
        Filling {
            title,
            body: "正文",
            data,
            created_at: DateTime::parse_from_rfc3339("2026-12-03T12:30:00Z")
                .expect("valid")
                .with_timezone(&Utc),
        }
    }

    #[test]
    fn amounts_read_as_yuan_with_two_decimals() {
        assert_eq!(format_yuan(24000), "¥240.00");
        assert_eq!(format_yuan(5), "¥0.05");
        assert_eq!(format_yuan(-1230), "-¥12.30");
        assert_eq!(format_yuan(0), "¥0.00");
    }

    #[test]
    fn things_are_cut_to_twenty_characters() {
        let data = PushData::default();
        let long = "空调安装工单已到达待上门节点请尽快联系客户确认上门时间";
        let fields = BTreeMap::from([("thing1".to_owned(), FieldSource::Title)]);
        let out = fill(&fields, &filling(long, &data));
        let value = out["thing1"]["value"].as_str().expect("a string");
        assert_eq!(value.chars().count(), 20);
        assert!(value.ends_with('…'));
        let short = fill(&fields, &filling("待上门", &data));
        assert_eq!(short["thing1"]["value"], "待上门");
    }

    #[test]
    fn every_source_fills_its_field_in_china_time() {
        let data = PushData {
            amount_fen: Some(24000),
            order_number: Some("WO-20261203-1a2b3c4d".into()),
            node: Some("已完工".into()),
        };
        let fields = default_fields(NotificationKind::EarningsPosted);
        let out = fill(&fields, &filling("收入入账", &data));
        assert_eq!(out["amount1"]["value"], "¥240.00");
        assert_eq!(out["character_string2"]["value"], "WO-20261203-1a2b3c4d");
        assert_eq!(out["time3"]["value"], "2026-12-03 20:30");
    }

    #[test]
    fn a_field_without_a_value_is_left_out() {
        let data = PushData::default();
        let fields = BTreeMap::from([("amount1".to_owned(), FieldSource::Amount)]);
        let out = fill(&fields, &filling("x", &data));
        assert!(out.get("amount1").is_none());
    }

    #[test]
    fn field_keys_must_be_wechat_types_with_a_number() {
        assert_eq!(field_type("thing1"), Some("thing"));
        assert_eq!(field_type("character_string12"), Some("character_string"));
        assert_eq!(field_type("thing"), None);
        assert_eq!(field_type("colour1"), None);
        let setting = TemplateSetting {
            kind: NotificationKind::Overdue,
            template_id: "tmpl-1".into(),
            page: None,
            fields: BTreeMap::from([("colour1".to_owned(), FieldSource::Title)]),
        };
        assert!(matches!(
            check_setting(&setting),
            Err(PutTemplateError::Invalid { field, .. }) if field == "fields.colour1"
        ));
    }
}
