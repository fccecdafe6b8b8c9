//! Cursor pages for every list: `?limit=&cursor=` in, `{items, next_cursor}`
//! out. Rows are ordered by their time-ordered UUID ids, and the cursor is
//! the last id of the page, encoded so that clients treat it as opaque.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Select};
use serde::Serialize;
use uuid::Uuid;

/// The page size when a client names none.
pub const DEFAULT_LIMIT: u64 = 20;
/// The largest page any list answers.
pub const MAX_LIMIT: u64 = 100;

/// A validated page request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PageRequest {
    limit: u64,
    after: Option<Uuid>,
}

impl PageRequest {
    /// Parses the query parameters; each problem names its parameter.
    pub fn parse(limit: Option<u64>, cursor: Option<&str>) -> Result<Self, (String, String)> {
        let limit = limit.unwrap_or(DEFAULT_LIMIT);
        if !(1..=MAX_LIMIT).contains(&limit) {
            return Err(("limit".into(), format!("must be between 1 and {MAX_LIMIT}")));
        }
        let after = match cursor {
            None | Some("") => None,
            Some(text) => Some(decode_cursor(text).ok_or_else(|| {
                (
                    "cursor".to_owned(),
                    "is not a cursor this server gave out".to_owned(),
                )
            })?),
        };
        Ok(Self { limit, after })
    }

    /// Fetches one page of `query`, oldest first by `id_column`.
    pub async fn fetch<E, C>(
        &self,
        db: &impl sea_orm::ConnectionTrait,
        query: Select<E>,
        id_column: C,
        id_of: impl Fn(&E::Model) -> Uuid,
    ) -> Result<Page<E::Model>, sea_orm::DbErr>
    where
        E: EntityTrait,
        C: ColumnTrait,
    {
        let query = match self.after {
            Some(after) => query.filter(id_column.gt(after)),
            None => query,
        };
        self.fetch_ordered(db, query.order_by_asc(id_column), id_of)
            .await
    }

    /// Fetches one page of `query`, newest first by `id_column`.
    pub async fn fetch_newest_first<E, C>(
        &self,
        db: &impl sea_orm::ConnectionTrait,
        query: Select<E>,
        id_column: C,
        id_of: impl Fn(&E::Model) -> Uuid,
    ) -> Result<Page<E::Model>, sea_orm::DbErr>
    where
        E: EntityTrait,
        C: ColumnTrait,
    {
        let query = match self.after {
            Some(after) => query.filter(id_column.lt(after)),
            None => query,
        };
        self.fetch_ordered(db, query.order_by_desc(id_column), id_of)
            .await
    }

    async fn fetch_ordered<E: EntityTrait>(
        &self,
        db: &impl sea_orm::ConnectionTrait,
        query: Select<E>,
        id_of: impl Fn(&E::Model) -> Uuid,
    ) -> Result<Page<E::Model>, sea_orm::DbErr> {
        let mut items = query.limit(self.limit + 1).all(db).await?;
        let next_cursor = if items.len() as u64 > self.limit {
            items.truncate(self.limit as usize);
            items.last().map(|last| encode_cursor(id_of(last)))
        } else {
            None
        };
        Ok(Page { items, next_cursor })
    }
}

/// One page of a list.
#[derive(Debug, Serialize)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

impl<T> Page<T> {
    /// Converts every item, keeping the cursor.
    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page {
            items: self.items.into_iter().map(f).collect(),
            next_cursor: self.next_cursor,
        }
    }
}

fn encode_cursor(id: Uuid) -> String {
    URL_SAFE_NO_PAD.encode(id.as_bytes())
}

fn decode_cursor(text: &str) -> Option<Uuid> {
    let bytes = URL_SAFE_NO_PAD.decode(text).ok()?;
    Uuid::from_slice(&bytes).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_outside_one_to_a_hundred_are_refused() {
        assert!(PageRequest::parse(Some(0), None).is_err());
        assert!(PageRequest::parse(Some(101), None).is_err());
        assert_eq!(
            PageRequest::parse(None, None).map(|p| p.limit),
            Ok(DEFAULT_LIMIT)
        );
    }

    #[test]
    fn cursors_round_trip_and_garbage_is_refused() {
        let id = Uuid::now_v7();
        let page = PageRequest::parse(Some(5), Some(&encode_cursor(id))).expect("valid");
        assert_eq!(page.after, Some(id));
        assert!(PageRequest::parse(None, Some("not-a-cursor!")).is_err());
    }
}
