//! Authentication and the role check of each route.
//!
//! [`RequireRole`] wraps a scope or resource where the route is wired: it
//! verifies the bearer token (401 without a valid one) and lets through only
//! the listed roles. Any other role gets 404, as for an object that is not
//! the caller's, so that routes cannot be probed. Handlers then take a
//! [`Caller`], which reads the verified principal.

use std::future::{Ready, ready};
use std::rc::Rc;

use actix_web::body::EitherBody;
use actix_web::dev::{Service, ServiceRequest, ServiceResponse, Transform, forward_ready};
use actix_web::http::header;
use actix_web::{FromRequest, HttpMessage, HttpRequest, web};
use futures_util::future::LocalBoxFuture;

use scrm_service::auth::Principal;
use scrm_service::domain::Role;

use crate::error::ApiError;
use crate::state::AppState;

/// The verified caller of a request.
#[derive(Clone, Copy, Debug)]
pub struct Caller(pub Principal);

impl FromRequest for Caller {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        let principal = match req.extensions().get::<Principal>() {
            Some(principal) => Ok(*principal),
            None => authenticate(req),
        };
        ready(principal.map(Caller))
    }
}

/// Verifies the request's bearer token.
pub fn authenticate(req: &HttpRequest) -> Result<Principal, ApiError> {
    let state = req
        .app_data::<web::Data<AppState>>()
        .ok_or_else(|| ApiError::unexpected(anyhow::anyhow!("the app state is missing")))?;
    let token = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or_else(|| {
            ApiError::unauthorized(
                "unauthenticated",
                "Send an access token as Authorization: Bearer.",
            )
        })?;
    state
        .tokens
        .verify(token.trim())
        .map_err(|e| ApiError::unauthorized("invalid_token", e.to_string()))
}

/// Lets through only callers with one of `roles`.
#[derive(Clone, Copy, Debug)]
pub struct RequireRole {
    roles: &'static [Role],
}

impl RequireRole {
    pub const fn any_of(roles: &'static [Role]) -> Self {
        Self { roles }
    }

    /// Any signed-in caller.
    pub const fn signed_in() -> Self {
        Self { roles: &Role::ALL }
    }
}

impl<S, B> Transform<S, ServiceRequest> for RequireRole
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error> + 'static,
    B: 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = actix_web::Error;
    type Transform = RequireRoleMiddleware<S>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, ()>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(RequireRoleMiddleware {
            service: Rc::new(service),
            roles: self.roles,
        }))
    }
}

#[derive(Debug)]
pub struct RequireRoleMiddleware<S> {
    service: Rc<S>,
    roles: &'static [Role],
}

impl<S, B> Service<ServiceRequest> for RequireRoleMiddleware<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error> + 'static,
    B: 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = actix_web::Error;
    type Future = LocalBoxFuture<'static, Result<Self::Response, Self::Error>>;

    forward_ready!(service);

    fn call(&self, req: ServiceRequest) -> Self::Future {
        let checked = authenticate(req.request()).and_then(|principal| {
            if self.roles.contains(&principal.role()) {
                Ok(principal)
            } else {
                Err(ApiError::not_found())
            }
        });
        match checked {
            Ok(principal) => {
                tracing::Span::current()
                    .record("user.id", tracing::field::display(principal.user_id()));
                req.extensions_mut().insert(principal);
                let service = Rc::clone(&self.service);
                Box::pin(async move { Ok(service.call(req).await?.map_into_left_body()) })
            }
            Err(error) => {
                let response = req.error_response(error).map_into_right_body();
                Box::pin(async move { Ok(response) })
            }
        }
    }
}
