use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{TestApp, assert_problem, json_of};

#[tokio::test]
async fn an_admin_of_another_tenant_gets_404_on_its_objects() {
    let app = TestApp::spawn().await;
    let acme = app.create_tenant("acme").await;
    let globex = app.create_tenant("globex").await;
    let (installer_id, _) = app.create_installer(&acme, "li.wei").await;
    let partner = app
        .post(
            "/api/v1/admin/partners",
            &acme.admin_token,
            &json!({"name": "华南安装服务部"}),
        )
        .await;
    let partner_id = json_of(partner).await["id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();

    for path in [
        format!("/api/v1/admin/users/{installer_id}"),
        format!("/api/v1/admin/users/{}", acme.admin_id),
        format!("/api/v1/admin/partners/{partner_id}"),
    ] {
        let foreign = app.get(&path, &globex.admin_token).await;
        assert_problem(foreign, StatusCode::NOT_FOUND, "not_found").await;
        let own = app.get(&path, &acme.admin_token).await;
        assert_eq!(own.status(), StatusCode::OK, "{path}");
    }
    let listed = json_of(app.get("/api/v1/admin/users", &globex.admin_token).await).await;
    let ids: Vec<&str> = listed["items"]
        .as_array()
        .map(|items| items.iter().filter_map(|u| u["id"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(ids, vec![globex.admin_id.as_str()]);
}

#[tokio::test]
async fn an_installer_partner_reference_of_another_tenant_is_refused() {
    let app = TestApp::spawn().await;
    let acme = app.create_tenant("acme").await;
    let globex = app.create_tenant("globex").await;
    let partner = app
        .post(
            "/api/v1/admin/partners",
            &acme.admin_token,
            &json!({"name": "华南安装服务部"}),
        )
        .await;
    let partner_id = json_of(partner).await["id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();

    let response = app
        .post(
            "/api/v1/admin/users",
            &globex.admin_token,
            &json!({"username": "wang", "password": "long-enough-1", "role": "installer",
                    "name": "王强", "cooperation_mode": "partner", "partner_id": partner_id}),
        )
        .await;

    let body = assert_problem(
        response,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert_eq!(body["errors"][0]["field"], "partner_id");
}

#[tokio::test]
async fn every_admin_route_refuses_an_installer_token() {
    let app = TestApp::spawn().await;
    let acme = app.create_tenant("acme").await;
    let (_, installer_token) = app.create_installer(&acme, "li.wei").await;
    let some_id = &acme.admin_id;

    let routes = [
        ("GET", "/api/v1/admin/users".to_owned()),
        ("POST", "/api/v1/admin/users".to_owned()),
        ("GET", format!("/api/v1/admin/users/{some_id}")),
        ("GET", "/api/v1/admin/partners".to_owned()),
        ("POST", "/api/v1/admin/partners".to_owned()),
        ("GET", format!("/api/v1/admin/partners/{some_id}")),
    ];
    for (method, path) in routes {
        let request = match method {
            "GET" => app.client.get(app.url(&path)),
            _ => app.client.post(app.url(&path)).json(&json!({"name": "x"})),
        };
        let response = request
            .bearer_auth(&installer_token)
            .send()
            .await
            .expect("sent");
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{method} {path}");
    }
    let partners = json_of(app.get("/api/v1/admin/partners", &acme.admin_token).await).await;
    assert_eq!(
        partners["items"],
        json!([]),
        "the refused POST created nothing"
    );
}

#[tokio::test]
async fn lists_page_by_cursor_and_cap_their_size() {
    let app = TestApp::spawn().await;
    let acme = app.create_tenant("acme").await;
    for name in ["一", "二", "三"] {
        app.post(
            "/api/v1/admin/partners",
            &acme.admin_token,
            &json!({"name": name}),
        )
        .await;
    }

    let first = json_of(
        app.get("/api/v1/admin/partners?limit=2", &acme.admin_token)
            .await,
    )
    .await;
    let cursor = first["next_cursor"].as_str().expect("a cursor").to_owned();
    let second = app
        .get(
            &format!("/api/v1/admin/partners?limit=2&cursor={cursor}"),
            &acme.admin_token,
        )
        .await;
    let second = json_of(second).await;

    let names = |page: &serde_json::Value| -> Vec<String> {
        page["items"]
            .as_array()
            .map(|items| {
                items
                    .iter()
                    .filter_map(|p| p["name"].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    };
    assert_eq!(names(&first), ["一", "二"]);
    assert_eq!(names(&second), ["三"]);
    assert!(second["next_cursor"].is_null());
    let too_big = app
        .get("/api/v1/admin/partners?limit=101", &acme.admin_token)
        .await;
    assert_problem(
        too_big,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
}
