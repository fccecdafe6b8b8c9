//! The lifecycle against a real (SQLite) database: estimate, lock, post and
//! reverse, with a price change in between.

use chrono::Duration;
use sea_orm::DatabaseConnection;

use super::*;
use crate::catalog::{create_service_item, create_tier};
use crate::domain::{CatalogCode, DisplayName, TenantId};
use crate::price_lists::{NewPrice, NewPriceList, create_price_list, publish_price_list};
use crate::region_tiers::put_region_tiers;

async fn database() -> DatabaseConnection {
    let path = std::env::temp_dir().join(format!("scrm-quotes-{}.db", Uuid::new_v4()));
    let db = crate::db::connect(&format!("sqlite://{}?mode=rwc", path.display()))
        .await
        .expect("a database");
    crate::db::migrate(&db).await.expect("migrated");
    db
}

fn code(text: &str) -> CatalogCode {
    CatalogCode::parse(text).expect("a valid code")
}

fn name(text: &str) -> DisplayName {
    DisplayName::parse(text).expect("a valid name")
}

async fn publish(db: &DatabaseConnection, scope: &TenantScope, unit_fen: i64, from: DateTime<Utc>) {
    let new = NewPriceList {
        name: name("标准价"),
        effective_from: from,
        prices: vec![NewPrice {
            service_item: "AC-INSTALL".into(),
            tier: "T1".into(),
            cooperation_mode: None,
            unit_price_fen: Some(Fen::new(unit_fen)),
            rate: None,
        }],
    };
    let list = create_price_list(db, scope, UserId::generate(), new)
        .await
        .expect("drafted");
    publish_price_list(db, scope, UserId::generate(), list.id, Utc::now())
        .await
        .expect("published");
}

async fn priced_tenant(db: &DatabaseConnection) -> TenantScope {
    let scope = TenantScope::new(TenantId::generate());
    create_service_item(
        db,
        &scope,
        code("AC-INSTALL"),
        name("空调挂机安装"),
        name("台"),
    )
    .await
    .expect("an item");
    create_tier(db, &scope, code("T1"), name("一档"))
        .await
        .expect("a tier");
    put_region_tiers(db, &scope, code("T1"), vec![])
        .await
        .expect("mapped");
    publish(db, &scope, 12_000, Utc::now() - Duration::days(1)).await;
    scope
}

fn acceptor(installer: UserId) -> Acceptor {
    Acceptor {
        installer,
        mode: CooperationMode::Employee,
    }
}

fn order() -> Vec<OrderLine> {
    vec![OrderLine {
        service_item: "AC-INSTALL".into(),
        quantity: 2,
        sale_price_fen: Fen::new(300_000),
    }]
}

#[tokio::test]
async fn a_locked_quote_ignores_later_prices_and_posts_once() {
    let db = database().await;
    let scope = priced_tenant(&db).await;
    let region = RegionCode::parse("440305").expect("a code");
    let work_order = WorkOrderId::generate();
    let installer = UserId::generate();

    let estimate = estimate(
        &db,
        &scope,
        &region,
        Some(CooperationMode::Employee),
        &order(),
        Utc::now(),
    )
    .await
    .expect("estimated");
    assert_eq!(estimate.total_fen, Fen::new(24_000));
    let locked = lock_quote(
        &db,
        &scope,
        work_order,
        acceptor(installer),
        &estimate.lines,
        Utc::now(),
    )
    .await
    .expect("locked");

    publish(&db, &scope, 15_000, Utc::now() - Duration::seconds(1)).await;
    let repriced = super::estimate(
        &db,
        &scope,
        &region,
        Some(CooperationMode::Employee),
        &order(),
        Utc::now(),
    )
    .await
    .expect("estimated");
    assert_eq!(
        repriced.total_fen,
        Fen::new(30_000),
        "a live estimate follows the new list"
    );
    let relocked = lock_quote(
        &db,
        &scope,
        work_order,
        acceptor(installer),
        &repriced.lines,
        Utc::now(),
    )
    .await
    .expect("kept");
    assert_eq!(relocked, locked, "locking again keeps the first quote");

    post_quote(&db, &scope, work_order, installer, Utc::now())
        .await
        .expect("posted");
    let ledger = post_quote(&db, &scope, work_order, installer, Utc::now())
        .await
        .expect("posted");
    assert_eq!(ledger.len(), 1, "a replayed post adds nothing");
    assert_eq!(ledger[0].line.amount_fen, Fen::new(24_000));

    reverse_postings(&db, &scope, work_order, Utc::now())
        .await
        .expect("reversed");
    let ledger = reverse_postings(&db, &scope, work_order, Utc::now())
        .await
        .expect("reversed");
    let total: i64 = ledger.iter().map(|l| l.line.amount_fen.get()).sum();
    assert_eq!((ledger.len(), total), (2, 0));
}

#[tokio::test]
async fn an_unpriced_order_is_an_error_and_not_a_zero() {
    let db = database().await;
    let scope = priced_tenant(&db).await;
    let region = RegionCode::parse("110105").expect("a code");
    let lines = vec![OrderLine {
        service_item: "HEATER".into(),
        quantity: 1,
        sale_price_fen: Fen::ZERO,
    }];

    let error = estimate(
        &db,
        &scope,
        &region,
        Some(CooperationMode::Partner),
        &lines,
        Utc::now(),
    )
    .await
    .expect_err("unpriced");

    assert!(
        matches!(error, EstimateError::Quote(QuoteError::Unpriced(ref m)) if m.len() == 1),
        "{error:?}"
    );
}

#[tokio::test]
async fn posting_without_a_locked_quote_is_refused() {
    let db = database().await;
    let scope = priced_tenant(&db).await;

    let error = post_quote(
        &db,
        &scope,
        WorkOrderId::generate(),
        UserId::generate(),
        Utc::now(),
    )
    .await
    .expect_err("nothing to post");

    assert!(matches!(error, PostQuoteError::NotLocked));
}

async fn draft(
    db: &DatabaseConnection,
    scope: &TenantScope,
    mode: Option<CooperationMode>,
) -> crate::domain::PriceListId {
    let new = NewPriceList {
        name: name("提价草案"),
        effective_from: Utc::now() + Duration::days(1),
        prices: vec![NewPrice {
            service_item: "AC-INSTALL".into(),
            tier: "T1".into(),
            cooperation_mode: mode,
            unit_price_fen: Some(Fen::new(15_000)),
            rate: None,
        }],
    };
    create_price_list(db, scope, UserId::generate(), new)
        .await
        .expect("drafted")
        .id
}

#[tokio::test]
async fn a_preview_sets_locked_totals_beside_the_drafts() {
    let db = database().await;
    let scope = priced_tenant(&db).await;
    let region = RegionCode::parse("440305").expect("a code");
    let installer = UserId::generate();
    for _ in 0..2 {
        let estimate = estimate(
            &db,
            &scope,
            &region,
            Some(CooperationMode::Employee),
            &order(),
            Utc::now(),
        )
        .await
        .expect("estimated");
        lock_quote(
            &db,
            &scope,
            WorkOrderId::generate(),
            acceptor(installer),
            &estimate.lines,
            Utc::now(),
        )
        .await
        .expect("locked");
    }
    let raise = draft(&db, &scope, None).await;
    let partners_only = draft(&db, &scope, Some(CooperationMode::Partner)).await;

    let raised = crate::price_lists::preview_price_list(&db, &scope, raise, Utc::now())
        .await
        .expect("previewed");
    let narrowed = crate::price_lists::preview_price_list(&db, &scope, partners_only, Utc::now())
        .await
        .expect("previewed");

    let expected = crate::price_lists::Comparison {
        orders: 2,
        old_total_fen: Fen::new(48_000),
        new_total_fen: Fen::new(60_000),
        unpriced_orders: 0,
    };
    assert_eq!(raised.overall, expected);
    assert_eq!(raised.by_tier, vec![("T1".to_owned(), expected)]);
    assert_eq!(raised.by_installer.len(), 1);
    assert_eq!(raised.by_installer[0].0, installer);
    assert_eq!(
        (
            narrowed.overall.unpriced_orders,
            narrowed.overall.new_total_fen
        ),
        (2, Fen::ZERO)
    );
}
