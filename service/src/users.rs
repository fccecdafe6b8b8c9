//! Users of a tenant, as admins create and list them.

use std::collections::HashMap;

use anyhow::Context;
use chrono::{DateTime, Utc};
use scrm_entity::user;
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, QueryFilter, QuerySelect, Set};
use secrecy::{ExposeSecret, SecretString};
use uuid::Uuid;

use crate::auth::password::hash_password;
use crate::db::is_unique_violation;
use crate::domain::{CooperationMode, DisplayName, PartnerId, Phone, Role, UserId, Username};
use crate::page::{Page, PageRequest};
use crate::partners;
use crate::tenancy::TenantScope;
use crate::validation::{FieldError, FieldErrors};

/// A user of a tenant. The phone number masks itself in `Debug`, so a
/// logged `User` never shows it whole.
#[derive(Debug, Clone)]
pub struct User {
    pub id: UserId,
    pub username: String,
    pub role: Role,
    pub name: String,
    pub phone: Option<Phone>,
    pub cooperation_mode: Option<CooperationMode>,
    pub partner_id: Option<PartnerId>,
    pub created_at: DateTime<Utc>,
}

impl TryFrom<user::Model> for User {
    type Error = anyhow::Error;

    fn try_from(row: user::Model) -> anyhow::Result<Self> {
        let role = row.role.parse().map_err(anyhow::Error::msg)?;
        let cooperation_mode = row
            .cooperation_mode
            .as_deref()
            .map(str::parse)
            .transpose()
            .map_err(anyhow::Error::msg)?;
        Ok(Self {
            id: UserId::from_uuid(row.id),
            username: row.username,
            role,
            name: row.name,
            phone: row
                .phone
                .as_deref()
                .map(Phone::parse)
                .transpose()
                .map_err(anyhow::Error::msg)?,
            cooperation_mode,
            partner_id: row.partner_id.map(PartnerId::from_uuid),
            created_at: row.created_at,
        })
    }
}

/// A user to create, each field already parsed.
#[derive(Debug)]
pub struct NewUser {
    pub username: Username,
    pub password: SecretString,
    pub role: Role,
    pub name: DisplayName,
    pub phone: Option<Phone>,
    pub cooperation_mode: Option<CooperationMode>,
    pub partner_id: Option<PartnerId>,
}

#[derive(Debug, thiserror::Error)]
pub enum CreateUserError {
    #[error("the request has invalid fields")]
    Invalid(Vec<FieldError>),
    #[error("the username is taken in this tenant")]
    UsernameTaken,
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

#[derive(Debug, thiserror::Error)]
pub enum GetUserError {
    #[error("no such user")]
    NotFound,
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

/// A password's length rule, shared by every way a password is set.
pub fn check_password(password: &SecretString) -> Result<(), String> {
    match password.expose_secret().chars().count() {
        8..=128 => Ok(()),
        _ => Err("must be 8 to 128 characters".into()),
    }
}

/// Creates a user in the scope's tenant. Installers must say how they
/// cooperate; a partner manager, and an installer of a partner firm, must
/// name a firm of this tenant.
#[tracing::instrument(name = "create user", skip_all, fields(tenant.id = %scope.tenant_id()))]
pub async fn create_user(
    db: &impl ConnectionTrait,
    scope: &TenantScope,
    new: NewUser,
) -> Result<User, CreateUserError> {
    check_new_user(db, scope, &new).await?;
    let password_hash = hash_password(new.password).await?;
    let row = user::ActiveModel {
        id: Set(UserId::generate().as_uuid()),
        tenant_id: Set(scope.tenant_id().as_uuid()),
        username: Set(new.username.as_str().to_owned()),
        password_hash: Set(Some(password_hash)),
        role: Set(new.role.as_str().to_owned()),
        name: Set(new.name.as_str().to_owned()),
        phone: Set(new.phone.map(|p| p.expose().to_owned())),
        cooperation_mode: Set(new.cooperation_mode.map(|m| m.as_str().to_owned())),
        partner_id: Set(new.partner_id.map(|p| p.as_uuid())),
        created_at: Set(Utc::now()),
    };
    let row = row.insert(db).await.map_err(|e| {
        if is_unique_violation(&e) {
            CreateUserError::UsernameTaken
        } else {
            anyhow::Error::new(e)
                .context("failed to insert a user")
                .into()
        }
    })?;
    tracing::info!(user.id = %row.id, user.role = %row.role, "user created");
    Ok(User::try_from(row)?)
}

async fn check_new_user(
    db: &impl ConnectionTrait,
    scope: &TenantScope,
    new: &NewUser,
) -> Result<(), CreateUserError> {
    let mut errors = FieldErrors::new();
    errors.check("password", check_password(&new.password));
    match (new.role, new.cooperation_mode) {
        (Role::Installer, None) => errors.add("cooperation_mode", "is required for installers"),
        (Role::Installer, Some(_)) | (_, None) => {}
        (_, Some(_)) => errors.add("cooperation_mode", "applies to installers only"),
    }
    let needs_partner =
        new.role == Role::PartnerManager || new.cooperation_mode == Some(CooperationMode::Partner);
    let may_have_partner = matches!(new.role, Role::Installer | Role::PartnerManager);
    match new.partner_id {
        None if needs_partner => errors.add("partner_id", "is required for this role and mode"),
        Some(_) if !may_have_partner => errors.add(
            "partner_id",
            "applies to installers and partner managers only",
        ),
        Some(id) if !partners::exists(db, scope, id).await? => {
            errors.add("partner_id", "names no partner firm of this tenant")
        }
        _ => {}
    }
    errors.finish().map_err(CreateUserError::Invalid)
}

/// One user of the scope's tenant.
pub async fn get_user(
    db: &impl ConnectionTrait,
    scope: &TenantScope,
    id: UserId,
) -> Result<User, GetUserError> {
    let row = scope
        .select::<user::Entity>()
        .filter(user::Column::Id.eq(id.as_uuid()))
        .one(db)
        .await
        .context("failed to load a user")?
        .ok_or(GetUserError::NotFound)?;
    Ok(User::try_from(row)?)
}

/// The users of the scope's tenant, oldest first.
pub async fn list_users(
    db: &impl ConnectionTrait,
    scope: &TenantScope,
    page: PageRequest,
) -> anyhow::Result<Page<User>> {
    let rows = page
        .fetch(db, scope.select::<user::Entity>(), user::Column::Id, |u| {
            u.id
        })
        .await
        .context("failed to list users")?;
    let users = rows
        .items
        .into_iter()
        .map(User::try_from)
        .collect::<Result<_, _>>()?;
    Ok(Page {
        items: users,
        next_cursor: rows.next_cursor,
    })
}

/// The names of the tenant's users among `ids`, read a chunk of 500 ids a
/// statement so that no list of ids outgrows a backend's parameter limit.
/// An id of another tenant, or of nobody, has no entry.
pub async fn names_of(
    db: &impl ConnectionTrait,
    scope: &TenantScope,
    ids: impl IntoIterator<Item = Uuid>,
) -> anyhow::Result<HashMap<Uuid, String>> {
    let mut ids: Vec<Uuid> = ids.into_iter().collect();
    ids.sort_unstable();
    ids.dedup();
    let mut names = HashMap::with_capacity(ids.len());
    for chunk in ids.chunks(500) {
        let rows: Vec<(Uuid, String)> = scope
            .select::<user::Entity>()
            .select_only()
            .column(user::Column::Id)
            .column(user::Column::Name)
            .filter(user::Column::Id.is_in(chunk.iter().copied()))
            .into_tuple()
            .all(db)
            .await
            .context("failed to load people's names")?;
        names.extend(rows);
    }
    Ok(names)
}
