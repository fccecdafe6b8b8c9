//! Every route, wired in one place with the roles that may call it.

pub mod auth;
pub mod catalog;
pub mod channels;
pub mod health;
pub mod me;
pub mod notifications;
pub mod partners;
pub mod price_lists;
pub mod quotes;
pub mod regions;
pub mod settlement;
pub mod statements;
pub mod users;
pub mod webhooks;
pub mod work_orders;
pub mod workflows;

use actix_web::middleware::from_fn;
use actix_web::web::{self, get, post, put};

use scrm_service::domain::Role;

use crate::authn::RequireRole;
use crate::error::ApiError;
use crate::idempotency::idempotent_posts;

const ADMIN: &[Role] = &[Role::Admin];
const STAFF: &[Role] = &[Role::Admin, Role::Dispatcher];
const CUSTOMER: &[Role] = &[Role::Customer];

/// Registers the routes of the whole API. In each scope the last `wrap` runs
/// first: the role check, then idempotency keys.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/healthz", get().to(health::healthz))
        .route("/readyz", get().to(health::readyz))
        .route("/metrics", get().to(health::metrics))
        .route("/docs", get().to(docs_redirect))
        .service(
            web::scope("/api/v1")
                .service(
                    web::scope("/auth")
                        .route("/login", post().to(auth::login))
                        .route("/refresh", post().to(auth::refresh))
                        .route("/wechat/login", post().to(auth::wechat_login)),
                )
                .service(
                    web::scope("/me")
                        .wrap(from_fn(idempotent_posts))
                        .wrap(RequireRole::signed_in())
                        .route("", get().to(me::get_me))
                        .route("/wechat-binding", post().to(me::bind_wechat))
                        .route("/work-orders", get().to(work_orders::list_my_work_orders))
                        .route("/earnings", get().to(settlement::list_my_earnings))
                        .route(
                            "/earnings/summary",
                            get().to(settlement::my_earnings_summary),
                        )
                        .route("/statements", get().to(statements::list_my_statements))
                        .route(
                            "/notifications",
                            get().to(notifications::list_my_notifications),
                        )
                        .route(
                            "/notifications/read-all",
                            post().to(notifications::mark_all_notifications_read),
                        )
                        .route(
                            "/notifications/{id}/read",
                            post().to(notifications::mark_notification_read),
                        ),
                )
                .service(
                    web::scope("/work-orders")
                        .wrap(from_fn(idempotent_posts))
                        .wrap(RequireRole::signed_in())
                        .service(
                            web::resource("")
                                .wrap(RequireRole::any_of(STAFF))
                                .route(post().to(work_orders::create_work_order))
                                .route(get().to(work_orders::list_work_orders)),
                        )
                        .route("/{id}", get().to(work_orders::get_work_order))
                        .route(
                            "/{id}/actions/{action}",
                            post().to(work_orders::act_on_work_order),
                        )
                        .service(
                            web::resource("/{id}/cancel")
                                .wrap(RequireRole::any_of(STAFF))
                                .route(post().to(work_orders::cancel_work_order)),
                        )
                        .service(
                            web::resource("/{id}/rewards-and-penalties")
                                .wrap(RequireRole::any_of(STAFF))
                                .route(post().to(settlement::add_reward_or_penalty)),
                        ),
                )
                .service(
                    web::scope("/statements")
                        .wrap(from_fn(idempotent_posts))
                        .wrap(RequireRole::signed_in())
                        .service(
                            web::resource("")
                                .wrap(RequireRole::any_of(STAFF))
                                .route(get().to(statements::list_statements)),
                        )
                        .route("/{id}", get().to(statements::get_statement))
                        .route("/{id}/export.csv", get().to(statements::export_statement))
                        .route("/{id}/confirm", post().to(statements::confirm_statement))
                        .route("/{id}/disputes", post().to(statements::dispute_line))
                        .service(
                            web::resource("/{id}/paid")
                                .wrap(RequireRole::any_of(ADMIN))
                                .route(post().to(statements::mark_statement_paid)),
                        ),
                )
                .service(
                    web::scope("/disputes")
                        .wrap(from_fn(idempotent_posts))
                        .wrap(RequireRole::any_of(STAFF))
                        .route("/{id}/resolve", post().to(statements::resolve_dispute)),
                )
                // Signed by the channel, not by a user: no role check, and no
                // idempotency keys (the inbox is keyed by `webhook-id`).
                .route(
                    "/webhooks/{channel_id}",
                    post().to(webhooks::receive_webhook),
                )
                .service(
                    web::scope("/service-requests")
                        .wrap(from_fn(idempotent_posts))
                        .wrap(RequireRole::any_of(CUSTOMER))
                        .route("", post().to(work_orders::create_service_request)),
                )
                .service(
                    web::scope("/customers")
                        .wrap(RequireRole::signed_in())
                        .route("/{id}/journey", get().to(work_orders::customer_journey)),
                )
                .service(
                    web::scope("/admin")
                        .wrap(from_fn(idempotent_posts))
                        .wrap(RequireRole::any_of(ADMIN))
                        .route("/users", post().to(users::create_user))
                        .route("/users", get().to(users::list_users))
                        .route("/users/{id}", get().to(users::get_user))
                        .route("/partners", post().to(partners::create_partner))
                        .route("/partners", get().to(partners::list_partners))
                        .route("/partners/{id}", get().to(partners::get_partner))
                        .route("/service-items", post().to(catalog::create_service_item))
                        .route("/service-items", get().to(catalog::list_service_items))
                        .route("/service-items/{id}", get().to(catalog::get_service_item))
                        .route("/tiers", post().to(catalog::create_tier))
                        .route("/tiers", get().to(catalog::list_tiers))
                        .route("/tiers/{id}", get().to(catalog::get_tier))
                        .route("/region-tiers", put().to(regions::put_region_tiers))
                        .route("/region-tiers", get().to(regions::get_region_tiers))
                        .route("/regions/resolve", post().to(regions::resolve_region))
                        .route("/price-lists", post().to(price_lists::create_price_list))
                        .route("/price-lists", get().to(price_lists::list_price_lists))
                        .route("/price-lists/{id}", get().to(price_lists::get_price_list))
                        .route(
                            "/price-lists/{id}/publish",
                            post().to(price_lists::publish_price_list),
                        )
                        .route(
                            "/price-lists/{id}/preview",
                            post().to(price_lists::preview_price_list),
                        )
                        .route("/workflows", post().to(workflows::create_workflow))
                        .route("/workflows", get().to(workflows::list_workflows))
                        .route("/workflows/{id}", get().to(workflows::get_workflow))
                        .route(
                            "/workflows/{id}/publish",
                            post().to(workflows::publish_workflow),
                        )
                        .route("/quotes/estimate", post().to(quotes::estimate_quote))
                        .route("/webhook-channels", post().to(channels::create_channel))
                        .route("/webhook-channels", get().to(channels::list_channels))
                        .route(
                            "/webhook-channels/{id}/rotate-secret",
                            post().to(channels::rotate_secret),
                        )
                        .route("/webhook-events", get().to(channels::list_events))
                        .route("/webhook-events/{id}", get().to(channels::get_event))
                        .route(
                            "/webhook-events/{id}/replay",
                            post().to(channels::replay_event),
                        )
                        .route("/wechat-templates", get().to(channels::list_templates))
                        .route("/wechat-templates/{kind}", put().to(channels::put_template))
                        .route("/settlement-periods", post().to(settlement::close_period))
                        .route("/settlement-periods", get().to(settlement::list_periods))
                        .route("/settlement-periods/{id}", get().to(settlement::get_period))
                        .route(
                            "/settlement-periods/{id}/export.csv",
                            get().to(settlement::export_period),
                        )
                        .route("/settlement-settings", get().to(settlement::get_settings))
                        .route("/settlement-settings", put().to(settlement::put_settings))
                        .route("/fairness-report", get().to(settlement::fairness_report)),
                ),
        );
}

/// The answer for a path that names no route.
pub async fn not_found() -> Result<actix_web::HttpResponse, ApiError> {
    Err(ApiError::not_found())
}

/// `/docs` is Swagger UI's folder; send the bare path there.
async fn docs_redirect() -> actix_web::HttpResponse {
    actix_web::HttpResponse::PermanentRedirect()
        .insert_header((actix_web::http::header::LOCATION, "/docs/"))
        .finish()
}
