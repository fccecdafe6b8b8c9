//! Request extractors whose failures answer problem+json: JSON bodies with
//! a size cap that name the offending field, and list paging parameters.

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::web::BytesMut;
use actix_web::{FromRequest, HttpRequest};
use futures_util::StreamExt;
use futures_util::future::LocalBoxFuture;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::error::Category;
use utoipa::IntoParams;

use scrm_service::page::PageRequest;

use crate::error::ApiError;
use crate::slow_clients::is_body_timeout;

/// The largest JSON body a route accepts unless it says otherwise.
pub const DEFAULT_BODY_LIMIT: usize = 64 * 1024;

/// A route's own body cap, set as app data on its scope.
#[derive(Clone, Copy, Debug)]
pub struct BodyLimit(pub usize);

/// A JSON body. Unreadable JSON answers 400; JSON of the wrong shape
/// answers 422 naming the field; a body over the cap answers 413.
#[derive(Debug)]
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned + 'static> FromRequest for ApiJson<T> {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let limit = req
            .app_data::<BodyLimit>()
            .map_or(DEFAULT_BODY_LIMIT, |l| l.0);
        let declared_length = declared_length(req);
        let is_json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| {
                let essence = v.split(';').next().unwrap_or_default().trim();
                essence == "application/json" || essence.ends_with("+json")
            });
        let mut payload = payload.take();
        Box::pin(async move {
            if !is_json {
                return Err(ApiError::new(
                    actix_web::http::StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    "unsupported_media_type",
                    "The body must be JSON, sent as Content-Type: application/json.",
                ));
            }
            let body = read_capped(&mut payload, declared_length, limit).await?;
            parse_json(&body).map(ApiJson)
        })
    }
}

/// A raw body of at most `N` bytes, for routes that must see the exact
/// bytes sent (signed webhooks). A larger body answers 413.
#[derive(Debug)]
pub struct RawBody<const N: usize>(pub BytesMut);

impl<const N: usize> FromRequest for RawBody<N> {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let declared_length = declared_length(req);
        let mut payload = payload.take();
        Box::pin(async move {
            read_capped(&mut payload, declared_length, N)
                .await
                .map(RawBody)
        })
    }
}

fn declared_length(req: &HttpRequest) -> Option<usize> {
    req.headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok())
}

/// Reads a body, refusing it as soon as it is known to exceed `limit`.
async fn read_capped(
    payload: &mut Payload,
    declared_length: Option<usize>,
    limit: usize,
) -> Result<BytesMut, ApiError> {
    if declared_length.is_some_and(|length| length > limit) {
        return Err(ApiError::payload_too_large(limit));
    }
    let mut body = BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| {
            if is_body_timeout(&e) {
                ApiError::request_timeout()
            } else {
                ApiError::bad_request(format!("The body could not be read: {e}"))
            }
        })?;
        if body.len() + chunk.len() > limit {
            return Err(ApiError::payload_too_large(limit));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// Parses a JSON document, naming the field of the first shape error.
pub fn parse_json<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    let value = serde_path_to_error::deserialize(&mut deserializer).map_err(|error| {
        let path = error.path().to_string();
        let inner = error.into_inner();
        match inner.classify() {
            Category::Data => shape_error(&path, &inner),
            Category::Syntax | Category::Eof | Category::Io => {
                ApiError::bad_request(format!("The body is not valid JSON: {inner}"))
            }
        }
    })?;
    deserializer
        .end()
        .map_err(|e| ApiError::bad_request(format!("The body is not valid JSON: {e}")))?;
    Ok(value)
}

fn shape_error(path: &str, error: &serde_json::Error) -> ApiError {
    let full = error.to_string();
    // serde_json appends " at line L column C", which says nothing to an API
    // client that sent a field name.
    let message = full.split(" at line ").next().unwrap_or(&full).to_owned();
    let named = message
        .split('`')
        .nth(1)
        .filter(|_| message.starts_with("missing field") || message.starts_with("unknown field"));
    // An unknown field is already the last step of the path; a missing one
    // is not, since it was never reached.
    let field = match (path, named) {
        (".", Some(name)) => name.to_owned(),
        (_, Some(name)) if path.ends_with(name) => path.to_owned(),
        (_, Some(name)) => format!("{path}.{name}"),
        (_, None) => path.to_owned(),
    };
    ApiError::invalid_field(&field, message)
}

/// `?limit=&cursor=` of every list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// Items per page, 1 to 100; 20 when absent.
    pub limit: Option<u64>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

impl PageQuery {
    pub fn parse(&self) -> Result<PageRequest, ApiError> {
        PageRequest::parse(self.limit, self.cursor.as_deref())
            .map_err(|(field, message)| ApiError::invalid_field(&field, message))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Body {
        name: String,
        items: Vec<Item>,
    }

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Item {
        quantity: u32,
    }

    fn field_of(body: &str) -> String {
        let error = parse_json::<Body>(body.as_bytes()).expect_err("should fail");
        format!("{error}")
    }

    #[test]
    fn a_mistyped_nested_field_is_named_by_its_path() {
        let detail = field_of(r#"{"name": "a", "items": [{"quantity": "two"}]}"#);
        assert!(detail.starts_with("422 validation_failed"), "{detail}");
        let error = parse_json::<Body>(br#"{"name": "a", "items": [{"quantity": "two"}]}"#)
            .expect_err("should fail");
        assert_eq!(
            error.errors_for_test(),
            vec!["items[0].quantity".to_owned()]
        );
    }

    #[test]
    fn a_missing_or_unknown_field_is_named() {
        let missing = parse_json::<Body>(br#"{"items": []}"#).expect_err("should fail");
        assert_eq!(missing.errors_for_test(), vec!["name".to_owned()]);
        let unknown = parse_json::<Body>(br#"{"name": "a", "items": [], "role": "admin"}"#)
            .expect_err("should fail");
        assert_eq!(unknown.errors_for_test(), vec!["role".to_owned()]);
    }

    #[test]
    fn broken_json_is_a_bad_request() {
        assert!(field_of(r#"{"name": "#).starts_with("400"));
        assert!(field_of(r#"{"name": "a", "items": []} trailing"#).starts_with("400"));
    }
}
