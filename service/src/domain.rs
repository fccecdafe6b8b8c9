//! Identifiers and values that carry their own rules. Each has private
//! fields and one fallible constructor, so that a value of the type is valid
//! by construction.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(Uuid);

        impl $name {
            /// A new, time-ordered id (UUID version 7).
            pub fn generate() -> Self {
                Self(Uuid::now_v7())
            }

            /// Parses the opaque string form used on the wire.
            pub fn parse(text: &str) -> Result<Self, InvalidId> {
                Uuid::parse_str(text).map(Self).map_err(|_| InvalidId)
            }

            /// Wraps an id read back from the database.
            pub fn from_uuid(uuid: Uuid) -> Self {
                Self(uuid)
            }

            /// The id as stored in the database.
            pub fn as_uuid(&self) -> Uuid {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

id_type!(
    /// The id of a tenant.
    TenantId
);
id_type!(
    /// The id of a user of any role.
    UserId
);
id_type!(
    /// The id of a partner firm.
    PartnerId
);
id_type!(
    /// The id of a service item.
    ServiceItemId
);
id_type!(
    /// The id of a tier.
    TierId
);
id_type!(
    /// The id of a price list.
    PriceListId
);
id_type!(
    /// The id of a work order.
    WorkOrderId
);
id_type!(
    /// The id of one version of a workflow.
    WorkflowId
);
id_type!(
    /// The id of a sales channel that posts webhooks.
    ChannelId
);
id_type!(
    /// The id of a received webhook event in the inbox.
    WebhookEventId
);
id_type!(
    /// The id of a notification.
    NotificationId
);
id_type!(
    /// The id of a closed settlement period.
    PeriodId
);
id_type!(
    /// The id of a statement: an installer's, or a partner firm's.
    StatementId
);
id_type!(
    /// The id of a dispute of a statement line.
    DisputeId
);

/// A string that is not a well-formed id. Handlers answer 404 for it, as for
/// an id that names nothing.
#[derive(Debug, thiserror::Error)]
#[error("not a valid id")]
pub struct InvalidId;

/// What a user may do. The wire names are those of the API contract.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Admin,
    Dispatcher,
    Installer,
    PartnerManager,
    Customer,
}

impl Role {
    /// Every role, for tables that must cover them all.
    pub const ALL: [Role; 5] = [
        Role::Admin,
        Role::Dispatcher,
        Role::Installer,
        Role::PartnerManager,
        Role::Customer,
    ];

    /// The wire and database name.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Dispatcher => "dispatcher",
            Role::Installer => "installer",
            Role::PartnerManager => "partner_manager",
            Role::Customer => "customer",
        }
    }
}

impl FromStr for Role {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|role| role.as_str() == text)
            .ok_or_else(|| {
                "must be one of admin, dispatcher, installer, partner_manager, customer".into()
            })
    }
}

/// How an installer works for the tenant; prices may differ by mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CooperationMode {
    Employee,
    Partner,
    Freelance,
}

impl CooperationMode {
    /// The wire and database name.
    pub fn as_str(self) -> &'static str {
        match self {
            CooperationMode::Employee => "employee",
            CooperationMode::Partner => "partner",
            CooperationMode::Freelance => "freelance",
        }
    }
}

impl FromStr for CooperationMode {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "employee" => Ok(CooperationMode::Employee),
            "partner" => Ok(CooperationMode::Partner),
            "freelance" => Ok(CooperationMode::Freelance),
            _ => Err("must be one of employee, partner, freelance".into()),
        }
    }
}

/// A tenant's short code, as typed at sign-in: 2 to 64 characters of
/// lower-case letters, digits, `-` and `_`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TenantCode(String);

impl TenantCode {
    pub fn parse(text: &str) -> Result<Self, String> {
        let ok_char =
            |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_';
        if (2..=64).contains(&text.len()) && text.chars().all(ok_char) {
            Ok(Self(text.to_owned()))
        } else {
            Err("must be 2 to 64 characters of a-z, 0-9, '-' and '_'".into())
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A sign-in name, unique within a tenant: 1 to 64 characters of letters,
/// digits, `.`, `-`, `_` and `@`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Username(String);

impl Username {
    pub fn parse(text: &str) -> Result<Self, String> {
        let ok_char = |c: char| c.is_ascii_alphanumeric() || ".-_@".contains(c);
        if (1..=64).contains(&text.len()) && text.chars().all(ok_char) {
            Ok(Self(text.to_owned()))
        } else {
            Err("must be 1 to 64 characters of letters, digits, '.', '-', '_' and '@'".into())
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A mainland mobile number: 11 digits starting with 1, with an optional
/// `+86` prefix that is dropped. `Debug` and `Display` show it masked
/// (`138****0000`), so that a full number never reaches a log by accident.
#[derive(Clone, PartialEq, Eq)]
pub struct Phone(String);

impl Phone {
    pub fn parse(text: &str) -> Result<Self, String> {
        let digits: String = text.chars().filter(|c| !matches!(c, ' ' | '-')).collect();
        let digits = digits.strip_prefix("+86").unwrap_or(&digits);
        if digits.len() == 11
            && digits.starts_with('1')
            && digits.chars().all(|c| c.is_ascii_digit())
        {
            Ok(Self(digits.to_owned()))
        } else {
            Err("must be an 11-digit mainland mobile number".into())
        }
    }

    /// The full number, for the people allowed to call it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The number with its middle four digits hidden: `138****0000`.
    pub fn masked(&self) -> String {
        format!("{}****{}", &self.0[..3], &self.0[7..])
    }
}

impl fmt::Debug for Phone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Phone({})", self.masked())
    }
}

impl fmt::Display for Phone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.masked())
    }
}

/// The code of a service item or a tier, such as `AC-INSTALL` or `T1`:
/// 1 to 64 characters of letters, digits, `-` and `_`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CatalogCode(String);

impl CatalogCode {
    pub fn parse(text: &str) -> Result<Self, String> {
        let ok_char = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
        if (1..=64).contains(&text.len()) && text.chars().all(ok_char) {
            Ok(Self(text.to_owned()))
        } else {
            Err("must be 1 to 64 characters of letters, digits, '-' and '_'".into())
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A display name: 1 to 100 characters after trimming.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DisplayName(String);

impl DisplayName {
    pub fn parse(text: &str) -> Result<Self, String> {
        let trimmed = text.trim();
        match trimmed.chars().count() {
            1..=100 => Ok(Self(trimmed.to_owned())),
            _ => Err("must be 1 to 100 characters".into()),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phone_accepts_a_prefixed_number_and_masks_its_middle() {
        let phone = Phone::parse("+86 138-0013-0000").expect("a valid number");
        assert_eq!(phone.expose(), "13800130000");
        assert_eq!(phone.masked(), "138****0000");
        assert_eq!(format!("{phone:?}"), "Phone(138****0000)");
    }

    #[test]
    fn phone_rejects_numbers_that_are_not_mainland_mobiles() {
        for text in ["", "12345", "23800130000", "1380013000a", "138001300001"] {
            assert!(Phone::parse(text).is_err(), "{text} should be rejected");
        }
    }

    #[test]
    fn roles_round_trip_through_their_wire_names() {
        for role in Role::ALL {
            assert_eq!(role.as_str().parse::<Role>(), Ok(role));
        }
        assert!("root".parse::<Role>().is_err());
    }

    #[test]
    fn tenant_codes_and_usernames_refuse_odd_characters() {
        assert!(TenantCode::parse("acme").is_ok());
        assert!(TenantCode::parse("Acme").is_err());
        assert!(TenantCode::parse("a").is_err());
        assert!(Username::parse("li.wei@acme").is_ok());
        assert!(Username::parse("li wei").is_err());
    }
}
