use std::process::{Command, Output};

use reqwest::StatusCode;
use sea_orm::{ConnectionTrait, Database, Statement};

use crate::helpers::{JWT_SECRET, TestApp, create_postgres_database, postgres_url, say};

/// Runs the `scrm` binary with a clean environment plus `vars`.
fn scrm(args: &[&str], vars: &[(&str, &str)]) -> Output {
    let workdir = std::env::temp_dir();
    let mut command = Command::new(env!("CARGO_BIN_EXE_scrm"));
    command
        .args(args)
        .current_dir(workdir)
        .env_clear()
        .env("PATH", "/usr/bin:/bin");
    for (name, value) in vars {
        command.env(name, value);
    }
    command.output().expect("scrm runs")
}

fn sqlite_url() -> String {
    let path = std::env::temp_dir().join(format!("scrm-cli-{}.db", uuid::Uuid::new_v4()));
    format!("sqlite://{}?mode=rwc", path.display())
}

#[test]
fn a_bad_setting_stops_startup_with_a_message_naming_it() {
    let database = sqlite_url();
    let cases = [
        (
            "BIND",
            vec![
                ("DATABASE_URL", database.as_str()),
                ("JWT_SECRET", JWT_SECRET),
                ("BIND", "nowhere"),
            ],
        ),
        (
            "JWT_SECRET",
            vec![
                ("DATABASE_URL", database.as_str()),
                ("JWT_SECRET", "too-short"),
            ],
        ),
        ("JWT_SECRET", vec![("DATABASE_URL", database.as_str())]),
        (
            "DATABASE_URL",
            vec![
                ("DATABASE_URL", "mysql://somewhere"),
                ("JWT_SECRET", JWT_SECRET),
            ],
        ),
        (
            "WECHAT_SECRET",
            vec![
                ("DATABASE_URL", database.as_str()),
                ("JWT_SECRET", JWT_SECRET),
                ("WECHAT_APPID", "wx1"),
            ],
        ),
        (
            "LOG_FORMAT",
            vec![
                ("DATABASE_URL", database.as_str()),
                ("JWT_SECRET", JWT_SECRET),
                ("LOG_FORMAT", "xml"),
            ],
        ),
    ];
    for (variable, vars) in cases {
        let output = scrm(&["migrate"], &vars);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            !output.status.success(),
            "{variable}: should refuse to start"
        );
        assert!(
            stderr.contains(&format!("{variable}:")),
            "{variable}: {stderr}"
        );
    }
}

#[tokio::test]
async fn create_admin_makes_an_admin_who_can_sign_in() {
    let app = TestApp::spawn().await;

    let output = scrm(
        &[
            "create-admin",
            "--tenant",
            "acme",
            "--username",
            "boss",
            "--password",
            "long-enough-1",
        ],
        &[
            ("DATABASE_URL", app.database_url.as_str()),
            ("JWT_SECRET", JWT_SECRET),
        ],
    );

    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let response = app.login("acme", "boss", "long-enough-1").await;
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn concurrent_starts_apply_each_migration_once() {
    let Some(server) = postgres_url() else {
        say("SKIPPED concurrent_starts_apply_each_migration_once: SCRM_TEST_POSTGRES_URL is unset");
        return;
    };
    let (url, _) = create_postgres_database(&server).await;

    let runs: Vec<_> = (0..4)
        .map(|_| {
            let url = url.clone();
            std::thread::spawn(move || {
                scrm(
                    &["migrate"],
                    &[("DATABASE_URL", url.as_str()), ("JWT_SECRET", JWT_SECRET)],
                )
            })
        })
        .collect();
    for run in runs {
        let output = run.join().expect("the run finished");
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }

    let db = Database::connect(&url).await.expect("connects");
    let row = db
        .query_one_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT COUNT(*) AS applied, COUNT(DISTINCT version) AS distinct_versions FROM seaql_migrations",
        ))
        .await
        .expect("counted")
        .expect("a row");
    let applied: i64 = row.try_get("", "applied").expect("a count");
    let distinct: i64 = row.try_get("", "distinct_versions").expect("a count");
    assert_eq!(applied, distinct);
    assert!(applied >= 3);
}
