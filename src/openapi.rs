//! The OpenAPI description, generated from the handlers' annotations so that
//! it cannot drift from the code. Served at `/api/v1/openapi.json`, with
//! Swagger UI at `/docs/`.

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::routes;

#[derive(Debug, OpenApi)]
#[openapi(
    info(
        title = "scrm",
        description = "Work orders, workflows and explainable installer earnings.\n\n\
            Conventions: money is integer fen in fields ending in `_fen`; times are RFC 3339 \
            in UTC; ids are opaque strings. Errors are `application/problem+json` (RFC 9457) \
            with a stable `code`, and `errors: [{field, message}]` for `validation_failed`. \
            Lists take `?limit=&cursor=` (at most 100 per page) and answer \
            `{items, next_cursor}`. A `POST` may carry `Idempotency-Key`: the same key with \
            the same body replays the first answer (with `Idempotency-Replayed: true`), a \
            different body answers 422 `idempotency_key_reused`, and a repeat while the first \
            is still running answers 409 `idempotency_key_in_flight`. JSON bodies are capped \
            at 64 KiB (413 beyond). A request's head must arrive within 5 s of the \
            connection and its body within 5 s of the head: a late body answers 408 \
            `request_timeout`, and a late head closes the connection. Objects of another \
            tenant, and routes of another role, answer 404. Every answer carries `x-request-id`."
    ),
    paths(
        routes::health::healthz,
        routes::health::readyz,
        routes::health::metrics,
        routes::auth::login,
        routes::auth::refresh,
        routes::auth::wechat_login,
        routes::me::get_me,
        routes::me::bind_wechat,
        routes::users::create_user,
        routes::users::list_users,
        routes::users::get_user,
        routes::partners::create_partner,
        routes::partners::list_partners,
        routes::partners::get_partner,
        routes::catalog::create_service_item,
        routes::catalog::list_service_items,
        routes::catalog::get_service_item,
        routes::catalog::create_tier,
        routes::catalog::list_tiers,
        routes::catalog::get_tier,
        routes::regions::put_region_tiers,
        routes::regions::get_region_tiers,
        routes::regions::resolve_region,
        routes::price_lists::create_price_list,
        routes::price_lists::list_price_lists,
        routes::price_lists::get_price_list,
        routes::price_lists::publish_price_list,
        routes::price_lists::preview_price_list,
        routes::quotes::estimate_quote,
        routes::workflows::create_workflow,
        routes::workflows::list_workflows,
        routes::workflows::get_workflow,
        routes::workflows::publish_workflow,
        routes::work_orders::create_work_order,
        routes::work_orders::create_service_request,
        routes::work_orders::list_work_orders,
        routes::work_orders::get_work_order,
        routes::work_orders::act_on_work_order,
        routes::work_orders::cancel_work_order,
        routes::work_orders::list_my_work_orders,
        routes::work_orders::customer_journey,
        routes::notifications::list_my_notifications,
        routes::notifications::mark_notification_read,
        routes::notifications::mark_all_notifications_read,
        routes::channels::create_channel,
        routes::channels::list_channels,
        routes::channels::rotate_secret,
        routes::channels::list_events,
        routes::channels::get_event,
        routes::channels::replay_event,
        routes::channels::put_template,
        routes::channels::list_templates,
        routes::webhooks::receive_webhook,
        routes::settlement::close_period,
        routes::settlement::list_periods,
        routes::settlement::get_period,
        routes::settlement::export_period,
        routes::settlement::get_settings,
        routes::settlement::put_settings,
        routes::settlement::fairness_report,
        routes::settlement::my_earnings_summary,
        routes::settlement::list_my_earnings,
        routes::settlement::add_reward_or_penalty,
        routes::statements::list_my_statements,
        routes::statements::list_statements,
        routes::statements::get_statement,
        routes::statements::confirm_statement,
        routes::statements::dispute_line,
        routes::statements::resolve_dispute,
        routes::statements::mark_statement_paid,
        routes::statements::export_statement,
    ),
    modifiers(&BearerAuth),
    tags(
        (name = "auth", description = "Sign-in and tokens."),
        (name = "me", description = "The signed-in user."),
        (name = "admin", description = "Tenant configuration; admins only."),
        (name = "pricing", description = "Service items, tiers, regions, price lists and earnings; admins only."),
        (name = "workflows", description = "Workflow definitions by version; admins only."),
        (name = "work orders", description = "Work orders through their workflows."),
        (name = "channels", description = "Sales channels, their webhook events and the WeChat templates of notifications; admins only."),
        (name = "webhooks", description = "Signed events from sales channels (Standard Webhooks)."),
        (name = "settlement", description = "Settlement (结算): closing periods, settings, exports and the fairness report; admins only. Periods are calendar days in China Standard Time."),
        (name = "statements", description = "Statements (结算单): installers confirm or dispute them, staff resolve disputes, admins record payouts."),
        (name = "operations", description = "Health, readiness and metrics."),
    )
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
    }
}
