//! `TestApp`: a real server on a random port, with its own database, and
//! one helper per endpoint.
//!
//! The database is a fresh SQLite file, or, when `SCRM_TEST_POSTGRES_URL`
//! is set, a fresh PostgreSQL database created on that server for this test
//! alone. `SCRM_TEST_REDIS_URL` points the app at a real Redis. WeChat is a
//! wiremock server per test.

mod crew;
mod settlement;

pub use crew::*;
pub use settlement::*;

use std::io::Write;

use reqwest::{Response, StatusCode};
use sea_orm::{ConnectionTrait, Database, DatabaseConnection};
use secrecy::SecretString;
use serde_json::{Value, json};
use uuid::Uuid;
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

use scrm::configuration::{Settings, WechatSettings};
use scrm::startup::{Application, RunOptions};
use scrm::state::Clock;
use scrm_service::domain::{TenantCode, Username};
use scrm_worker::settings::DatabaseSettings;
use scrm_worker::telemetry::LogFormat;

pub const JWT_SECRET: &str = "test-secret-that-is-long-enough-for-hs256!";
pub const WECHAT_APPID: &str = "wx-test-app";
pub const PASSWORD: &str = "correct-horse-battery";

/// A running app and what a test needs to talk to it.
pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    pub db: DatabaseConnection,
    pub database_url: String,
    pub database_name: Option<String>,
    pub wechat: MockServer,
    /// The Redis stream this app's jobs travel on.
    pub redis_stream: String,
    sqlite_file: Option<std::path::PathBuf>,
}

/// A tenant with its admin, made through the same code as `scrm create-admin`.
pub struct Tenant {
    pub id: String,
    pub code: String,
    pub admin_id: String,
    pub admin_token: String,
}

/// Writes a line that the test harness does not capture, so that a skipped
/// check is visible in the output of a passing run.
pub fn say(line: &str) {
    let _ = writeln!(std::io::stderr(), "{line}");
}

/// The PostgreSQL server to test against, if any.
pub fn postgres_url() -> Option<String> {
    std::env::var("SCRM_TEST_POSTGRES_URL")
        .ok()
        .filter(|v| !v.is_empty())
}

/// The Redis to test against, if any.
pub fn redis_url() -> Option<String> {
    std::env::var("SCRM_TEST_REDIS_URL")
        .ok()
        .filter(|v| !v.is_empty())
}

/// Options for [`TestApp::spawn_with`].
#[derive(Default)]
pub struct Setup {
    /// Overrides the Redis URL (for pointing at nothing).
    pub redis_url: Option<String>,
    /// Serve only, as `scrm serve --no-worker`: other processes run the jobs.
    pub no_worker: bool,
    /// How far ahead of the system clock the server closes settlement
    /// periods, so that a test can close the month it posts earnings in.
    pub clock_ahead: Option<chrono::Duration>,
    /// The per-channel webhook allowance; the default when unset.
    pub webhook_rate_limit: Option<u32>,
}

impl TestApp {
    pub async fn spawn() -> Self {
        Self::spawn_with(Setup {
            redis_url: redis_url(),
            no_worker: false,
            clock_ahead: None,
            webhook_rate_limit: None,
        })
        .await
    }

    pub async fn spawn_with(setup: Setup) -> Self {
        let (url, database_name, sqlite_file) = match postgres_url() {
            Some(server) => {
                let (url, name) = create_postgres_database(&server).await;
                (url, Some(name), None)
            }
            None => {
                let path = std::env::temp_dir().join(format!("scrm-test-{}.db", Uuid::new_v4()));
                (
                    format!("sqlite://{}?mode=rwc", path.display()),
                    None,
                    Some(path),
                )
            }
        };
        let wechat = MockServer::start().await;
        let redis_stream = format!("scrm-test:{}", Uuid::new_v4().simple());
        let settings = Settings {
            database: DatabaseSettings {
                url: SecretString::from(url.clone()),
                is_default: false,
                is_sqlite: sqlite_file.is_some(),
                sqlite_path: None,
                pool_size: None,
            },
            redis_url: setup.redis_url.map(SecretString::from),
            // A stream of its own, so that tests sharing one Redis never
            // run each other's jobs.
            redis_stream: redis_stream.clone(),
            bind: "127.0.0.1:0".parse().expect("a valid address"),
            jwt_secret: SecretString::from(JWT_SECRET),
            wechat: Some(WechatSettings {
                appid: WECHAT_APPID.to_owned(),
                secret: SecretString::from("wx-test-secret"),
                api_base: wechat.uri(),
            }),
            log_format: LogFormat::Pretty,
            webhook_rate_limit: Some(
                setup
                    .webhook_rate_limit
                    .unwrap_or(scrm::configuration::DEFAULT_WEBHOOK_RATE_LIMIT),
            ),
        };
        if std::env::var("TEST_LOG").is_ok() {
            scrm_worker::telemetry::init(LogFormat::Pretty);
        }
        let app = Application::build(
            settings,
            RunOptions {
                with_worker: !setup.no_worker,
                clock: setup
                    .clock_ahead
                    .map(Clock::ahead_by)
                    .unwrap_or_else(Clock::system),
            },
        )
        .await
        .expect("the app builds");
        let address = format!("http://127.0.0.1:{}", app.port());
        tokio::spawn(app.run_until_stopped());
        let db = Database::connect(&url)
            .await
            .expect("the test connects to its database");
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("a client");
        Self {
            address,
            client,
            db,
            database_url: url,
            database_name,
            wechat,
            redis_stream,
            sqlite_file,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    /// Creates a tenant and its admin, and signs the admin in.
    pub async fn create_tenant(&self, code: &str) -> Tenant {
        let (tenant_id, admin) = scrm_service::tenants::create_admin(
            &self.db,
            &TenantCode::parse(code).expect("a valid code"),
            Username::parse("admin").expect("a valid username"),
            SecretString::from(PASSWORD),
        )
        .await
        .expect("the admin is created");
        let admin_token = self.token(code, "admin", PASSWORD).await;
        Tenant {
            id: tenant_id.to_string(),
            code: code.to_owned(),
            admin_id: admin.id.to_string(),
            admin_token,
        }
    }

    /// Creates a user through the admin API and answers its id.
    pub async fn create_user(&self, tenant: &Tenant, body: Value) -> String {
        let response = self
            .post("/api/v1/admin/users", &tenant.admin_token, &body)
            .await;
        assert_eq!(response.status(), StatusCode::CREATED, "creating {body}");
        json_of(response).await["id"]
            .as_str()
            .expect("an id")
            .to_owned()
    }

    /// Creates an installer and answers its id and access token.
    pub async fn create_installer(&self, tenant: &Tenant, username: &str) -> (String, String) {
        let id = self
            .create_user(
                tenant,
                json!({"username": username, "password": PASSWORD, "role": "installer",
                       "name": "李伟", "phone": "13800138000", "cooperation_mode": "employee"}),
            )
            .await;
        let token = self.token(&tenant.code, username, PASSWORD).await;
        (id, token)
    }

    pub async fn login(&self, tenant: &str, username: &str, password: &str) -> Response {
        self.post_anonymous(
            "/api/v1/auth/login",
            &json!({"tenant": tenant, "username": username, "password": password}),
        )
        .await
    }

    /// Signs in and answers the access token.
    pub async fn token(&self, tenant: &str, username: &str, password: &str) -> String {
        let response = self.login(tenant, username, password).await;
        assert_eq!(
            response.status(),
            StatusCode::OK,
            "signing in as {username}"
        );
        json_of(response).await["access_token"]
            .as_str()
            .expect("a token")
            .to_owned()
    }

    pub async fn refresh(&self, refresh_token: &str) -> Response {
        self.post_anonymous(
            "/api/v1/auth/refresh",
            &json!({"refresh_token": refresh_token}),
        )
        .await
    }

    pub async fn wechat_login(&self, tenant: &str, code: &str) -> Response {
        self.post_anonymous(
            "/api/v1/auth/wechat/login",
            &json!({"tenant": tenant, "code": code}),
        )
        .await
    }

    pub async fn get(&self, path: &str, token: &str) -> Response {
        self.client
            .get(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .expect("the request is sent")
    }

    pub async fn post(&self, path: &str, token: &str, body: &Value) -> Response {
        self.client
            .post(self.url(path))
            .bearer_auth(token)
            .json(body)
            .send()
            .await
            .expect("the request is sent")
    }

    /// Any request: `token` signs it in, `body` is sent as JSON.
    pub async fn request(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> Response {
        let mut request = self.client.request(method, self.url(path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        request.send().await.expect("the request is sent")
    }

    pub async fn post_anonymous(&self, path: &str, body: &Value) -> Response {
        self.client
            .post(self.url(path))
            .json(body)
            .send()
            .await
            .expect("the request is sent")
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(path) = &self.sqlite_file {
            for suffix in ["", "-wal", "-shm"] {
                let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
            }
        }
    }
}

/// WeChat answers `body` when the code `code` is exchanged through
/// `/sns/jscode2session`.
pub async fn wechat_answers(app: &TestApp, code: &str, body: Value) {
    Mock::given(method("GET"))
        .and(path("/sns/jscode2session"))
        .and(query_param("appid", WECHAT_APPID))
        .and(query_param("js_code", code))
        .and(query_param("grant_type", "authorization_code"))
        .respond_with(ResponseTemplate::new(200).set_body_json(body))
        .mount(&app.wechat)
        .await;
}

/// Reads a JSON body.
pub async fn json_of(response: Response) -> Value {
    response.json().await.expect("a JSON body")
}

/// The response's content type, or "" when it has none.
pub fn content_type_of(response: &Response) -> String {
    response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

/// Asserts the problem+json shape and answers the body.
pub async fn assert_problem(response: Response, status: StatusCode, code: &str) -> Value {
    assert_eq!(response.status(), status);
    let content_type = content_type_of(&response);
    assert_eq!(content_type, "application/problem+json");
    let body = json_of(response).await;
    assert_eq!(body["status"], status.as_u16());
    assert_eq!(body["code"], code, "{body}");
    assert_eq!(body["type"], format!("urn:scrm:problem:{code}"));
    assert!(
        body["title"].is_string() && body["detail"].is_string(),
        "{body}"
    );
    body
}

/// Creates an empty PostgreSQL database on `server`; answers its URL and name.
pub async fn create_postgres_database(server: &str) -> (String, String) {
    let admin = Database::connect(server).await.expect("PostgreSQL answers");
    let name = format!("scrm_test_{}", Uuid::new_v4().simple());
    admin
        .execute_unprepared(&format!("CREATE DATABASE {name}"))
        .await
        .expect("a test database is created");
    let base = server.rsplit_once('/').map_or(server, |(base, _)| base);
    (format!("{base}/{name}"), name)
}
