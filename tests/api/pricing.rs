use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{Tenant, TestApp, assert_problem, json_of};

/// An item, three tiers and a mapping: Guangdong T2, Shenzhen T1, the rest T3.
pub async fn set_up_catalogue(app: &TestApp, tenant: &Tenant) {
    let token = &tenant.admin_token;
    let item = json!({"code": "AC-INSTALL", "name": "空调挂机安装", "unit": "台"});
    assert_eq!(
        app.post("/api/v1/admin/service-items", token, &item)
            .await
            .status(),
        StatusCode::CREATED
    );
    for (code, name) in [("T1", "一档"), ("T2", "二档"), ("T3", "三档")] {
        let tier = app
            .post(
                "/api/v1/admin/tiers",
                token,
                &json!({"code": code, "name": name}),
            )
            .await;
        assert_eq!(tier.status(), StatusCode::CREATED);
    }
    let mapping = json!({"default_tier": "T3", "mappings": [
        {"region_code": "44", "tier": "T2"}, {"region_code": "4403", "tier": "T1"}]});
    let response = app
        .client
        .put(app.url("/api/v1/admin/region-tiers"))
        .bearer_auth(token)
        .json(&mapping)
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), StatusCode::OK);
}

pub async fn publish_standard_list(app: &TestApp, tenant: &Tenant) -> Value {
    let list = json!({"name": "2026 标准价", "effective_from": "2026-01-01T00:00:00Z", "prices": [
        {"service_item": "AC-INSTALL", "tier": "T1", "unit_price_fen": 12000},
        {"service_item": "AC-INSTALL", "tier": "T1", "cooperation_mode": "partner", "unit_price_fen": 15000},
        {"service_item": "AC-INSTALL", "tier": "T2", "rate": "0.0300"}]});
    let created = app
        .post("/api/v1/admin/price-lists", &tenant.admin_token, &list)
        .await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let created = json_of(created).await;
    assert_eq!(created["status"], "draft");
    let id = created["id"].as_str().unwrap_or_default();
    let published = app
        .post(
            &format!("/api/v1/admin/price-lists/{id}/publish"),
            &tenant.admin_token,
            &json!({}),
        )
        .await;
    assert_eq!(published.status(), StatusCode::OK);
    json_of(published).await
}

async fn estimate(app: &TestApp, tenant: &Tenant, region: &str, mode: &str) -> Value {
    let body = json!({"region_code": region, "cooperation_mode": mode,
                      "lines": [{"service_item": "AC-INSTALL", "quantity": 2, "sale_price_fen": 100000}]});
    let response = app
        .post("/api/v1/admin/quotes/estimate", &tenant.admin_token, &body)
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    json_of(response).await
}

#[tokio::test]
async fn an_address_resolves_to_its_region_and_tier_or_to_candidates() {
    let app = TestApp::spawn().await;
    let acme = app.create_tenant("acme").await;
    set_up_catalogue(&app, &acme).await;
    let resolve = |address: &'static str| {
        let token = acme.admin_token.clone();
        let app = &app;
        async move {
            json_of(
                app.post(
                    "/api/v1/admin/regions/resolve",
                    &token,
                    &json!({"address": address}),
                )
                .await,
            )
            .await
        }
    };

    let shenzhen = resolve("广东省深圳市南山区科技园科苑路15号 张先生 13800138000").await;
    let guangzhou = resolve("广州天河区体育西路").await;
    let beijing = resolve("北京市朝阳区建国路88号").await;
    let ambiguous = resolve("朝阳区幸福小区3栋").await;

    assert_eq!(
        shenzhen["region"],
        json!({"code": "440305", "name": "广东省深圳市南山区", "tier": "T1"})
    );
    assert_eq!(guangzhou["region"]["tier"], "T2");
    assert_eq!(beijing["region"]["code"], "110105");
    assert_eq!(beijing["region"]["tier"], "T3");
    assert!(ambiguous["region"].is_null());
    let candidates: Vec<&str> = ambiguous["candidates"]
        .as_array()
        .map(|c| c.iter().filter_map(|r| r["code"].as_str()).collect())
        .unwrap_or_default();
    assert!(
        candidates.contains(&"110105") && candidates.contains(&"220104"),
        "{candidates:?}"
    );
}

#[tokio::test]
async fn a_price_list_with_bad_prices_lists_every_problem() {
    let app = TestApp::spawn().await;
    let acme = app.create_tenant("acme").await;
    set_up_catalogue(&app, &acme).await;
    let list = json!({"name": "坏价目表", "effective_from": "2026-01-01T00:00:00Z", "prices": [
        {"service_item": "AC-INSTALL", "tier": "T1", "rate": "1.5"},
        {"service_item": "AC-INSTALL", "tier": "T2", "unit_price_fen": -1},
        {"service_item": "AC-INSTALL", "tier": "T3", "rate": "0.12345"},
        {"service_item": "AC-INSTALL", "tier": "T1", "cooperation_mode": "boss", "unit_price_fen": 1},
        {"service_item": "AC-INSTALL", "tier": "T1"}]});

    let response = app
        .post("/api/v1/admin/price-lists", &acme.admin_token, &list)
        .await;

    let body = assert_problem(
        response,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    let fields: Vec<&str> = body["errors"]
        .as_array()
        .map(|e| e.iter().filter_map(|e| e["field"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(
        fields,
        [
            "prices[0].rate",
            "prices[1].unit_price_fen",
            "prices[2].rate",
            "prices[3].cooperation_mode",
            "prices[4]"
        ]
    );
}

#[tokio::test]
async fn unknown_items_and_tiers_and_duplicates_are_refused() {
    let app = TestApp::spawn().await;
    let acme = app.create_tenant("acme").await;
    set_up_catalogue(&app, &acme).await;
    let list = json!({"name": "坏价目表", "effective_from": "2026-01-01T00:00:00Z", "prices": [
        {"service_item": "NOPE", "tier": "T1", "unit_price_fen": 1},
        {"service_item": "AC-INSTALL", "tier": "T9", "unit_price_fen": 1},
        {"service_item": "AC-INSTALL", "tier": "T1", "unit_price_fen": 1},
        {"service_item": "AC-INSTALL", "tier": "T1", "unit_price_fen": 2}]});

    let response = app
        .post("/api/v1/admin/price-lists", &acme.admin_token, &list)
        .await;

    let body = assert_problem(
        response,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    let fields: Vec<&str> = body["errors"]
        .as_array()
        .map(|e| e.iter().filter_map(|e| e["field"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(
        fields,
        ["prices[0].service_item", "prices[1].tier", "prices[3]"]
    );
    let lists = json_of(
        app.get("/api/v1/admin/price-lists", &acme.admin_token)
            .await,
    )
    .await;
    assert_eq!(lists["items"], json!([]), "nothing was created");
}

#[tokio::test]
async fn publishing_reports_what_stays_unpriced_and_happens_once() {
    let app = TestApp::spawn().await;
    let acme = app.create_tenant("acme").await;
    set_up_catalogue(&app, &acme).await;

    let published = publish_standard_list(&app, &acme).await;

    assert_eq!(published["status"], "published");
    assert_eq!(published["published_by"], acme.admin_id.as_str());
    let unpriced: Vec<(String, Vec<String>)> = published["unpriced"]
        .as_array()
        .map(|gaps| {
            gaps.iter()
                .map(|g| {
                    let modes = g["cooperation_modes"].as_array().map(|m| {
                        m.iter()
                            .filter_map(|v| v.as_str().map(str::to_owned))
                            .collect()
                    });
                    (
                        g["tier"].as_str().unwrap_or_default().to_owned(),
                        modes.unwrap_or_default(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(
        unpriced,
        [(
            "T3".to_owned(),
            vec!["employee".to_owned(), "partner".into(), "freelance".into()]
        )]
    );
    let id = published["id"].as_str().unwrap_or_default();
    let again = app
        .post(
            &format!("/api/v1/admin/price-lists/{id}/publish"),
            &acme.admin_token,
            &json!({}),
        )
        .await;
    assert_problem(again, StatusCode::CONFLICT, "already_published").await;
}

#[tokio::test]
async fn an_estimate_shows_each_line_with_its_rule_and_a_mode_price_wins() {
    let app = TestApp::spawn().await;
    let acme = app.create_tenant("acme").await;
    set_up_catalogue(&app, &acme).await;
    publish_standard_list(&app, &acme).await;

    let employee = estimate(&app, &acme, "440305", "employee").await;
    let partner = estimate(&app, &acme, "440305", "partner").await;
    let by_rate = estimate(&app, &acme, "440106", "employee").await;

    assert_eq!(employee["tier"], "T1");
    assert_eq!(employee["earnings"]["status"], "estimated");
    assert_eq!(employee["earnings"]["total_fen"], 24_000);
    let line = &employee["earnings"]["lines"][0];
    assert_eq!(line["unit_price_fen"], 12_000);
    assert_eq!(line["amount_fen"], 24_000);
    assert_eq!(line["rule"]["version"], 1);
    assert_eq!(line["rule"]["tier"], "T1");
    assert_eq!(line["rule"]["region_code"], "440305");
    let explanation = line["explanation"].as_str().unwrap_or_default();
    assert!(
        explanation.contains("第1版") && explanation.contains("¥240.00"),
        "{explanation}"
    );
    assert_eq!(partner["earnings"]["total_fen"], 30_000);
    assert_eq!(
        partner["earnings"]["lines"][0]["rule"]["cooperation_mode"],
        "partner"
    );
    // 3 % of 2 × ¥1,000.00.
    assert_eq!(by_rate["earnings"]["total_fen"], 6_000);
    assert_eq!(by_rate["earnings"]["lines"][0]["rate"], "0.0300");
}

#[tokio::test]
async fn an_order_without_a_price_is_unpriced_never_zero() {
    let app = TestApp::spawn().await;
    let acme = app.create_tenant("acme").await;
    set_up_catalogue(&app, &acme).await;
    publish_standard_list(&app, &acme).await;

    let beijing = estimate(&app, &acme, "110105", "freelance").await;

    assert_eq!(beijing["earnings"]["status"], "unpriced");
    assert!(beijing["earnings"]["total_fen"].is_null());
    assert_eq!(
        beijing["earnings"]["missing"],
        json!([{"service_item": "AC-INSTALL", "tier": "T3", "cooperation_mode": "freelance"}])
    );
}

#[tokio::test]
async fn every_version_stays_readable_and_other_tenants_see_none() {
    let app = TestApp::spawn().await;
    let acme = app.create_tenant("acme").await;
    let globex = app.create_tenant("globex").await;
    set_up_catalogue(&app, &acme).await;
    let first = publish_standard_list(&app, &acme).await;
    let second = publish_standard_list(&app, &acme).await;

    let listed = json_of(
        app.get("/api/v1/admin/price-lists", &acme.admin_token)
            .await,
    )
    .await;
    let id = first["id"].as_str().unwrap_or_default();
    let detail = json_of(
        app.get(
            &format!("/api/v1/admin/price-lists/{id}"),
            &acme.admin_token,
        )
        .await,
    )
    .await;
    let foreign = app
        .get(
            &format!("/api/v1/admin/price-lists/{id}"),
            &globex.admin_token,
        )
        .await;

    let versions: Vec<i64> = listed["items"]
        .as_array()
        .map(|l| l.iter().filter_map(|p| p["version"].as_i64()).collect())
        .unwrap_or_default();
    assert_eq!(versions, [1, 2]);
    assert_eq!(second["version"], 2);
    assert_eq!(detail["prices"].as_array().map(Vec::len), Some(3));
    assert_problem(foreign, StatusCode::NOT_FOUND, "not_found").await;
}

#[tokio::test]
async fn a_mapping_to_an_unknown_region_or_tier_is_refused() {
    let app = TestApp::spawn().await;
    let acme = app.create_tenant("acme").await;
    set_up_catalogue(&app, &acme).await;
    let mapping = json!({"default_tier": "T7", "mappings": [
        {"region_code": "999999", "tier": "T1"}, {"region_code": "4403", "tier": "T9"},
        {"region_code": "12345", "tier": "T1"}]});

    let response = app
        .client
        .put(app.url("/api/v1/admin/region-tiers"))
        .bearer_auth(&acme.admin_token)
        .json(&mapping)
        .send()
        .await
        .expect("sent");

    let body = assert_problem(
        response,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    let fields: Vec<&str> = body["errors"]
        .as_array()
        .map(|e| e.iter().filter_map(|e| e["field"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(
        fields,
        ["mappings[2].region_code"],
        "codes are parsed before the database is asked"
    );
    let current = json_of(
        app.get("/api/v1/admin/region-tiers", &acme.admin_token)
            .await,
    )
    .await;
    assert_eq!(current["default_tier"], "T3", "nothing changed");
}

#[tokio::test]
async fn a_draft_can_be_previewed_and_only_by_its_tenant() {
    let app = TestApp::spawn().await;
    let acme = app.create_tenant("acme").await;
    let globex = app.create_tenant("globex").await;
    set_up_catalogue(&app, &acme).await;
    let list = json!({"name": "草案", "effective_from": "2027-01-01T00:00:00Z", "prices": [
        {"service_item": "AC-INSTALL", "tier": "T1", "unit_price_fen": 13000}]});
    let created = json_of(
        app.post("/api/v1/admin/price-lists", &acme.admin_token, &list)
            .await,
    )
    .await;
    let path = format!(
        "/api/v1/admin/price-lists/{}/preview",
        created["id"].as_str().unwrap_or_default()
    );

    let preview = app.post(&path, &acme.admin_token, &json!({})).await;
    let foreign = app.post(&path, &globex.admin_token, &json!({})).await;

    assert_eq!(preview.status(), StatusCode::OK);
    let preview = json_of(preview).await;
    assert_eq!(
        (
            preview["orders"].as_u64(),
            preview["old_total_fen"].as_i64()
        ),
        (Some(0), Some(0))
    );
    assert_eq!(preview["by_tier"], json!([]));
    assert_problem(foreign, StatusCode::NOT_FOUND, "not_found").await;
}
