//! The command line: `scrm [serve [--no-worker]]`, `scrm migrate` and
//! `scrm create-admin`. Every command applies pending migrations first.

use anyhow::Context;
use clap::{Parser, Subcommand};
use secrecy::{ExposeSecret, SecretString};

use scrm_service::domain::{TenantCode, Username};
use scrm_service::users::check_password;
use scrm_worker::telemetry::{self, LogFormat};

use crate::configuration::Settings;
use crate::startup::{Application, RunOptions};
use crate::state::Clock;

#[derive(Debug, Parser)]
#[command(name = "scrm", version, about = "Field-work pay made transparent")]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the API (the default), with the worker unless --no-worker.
    Serve {
        /// Leave jobs to separate `scrm-worker` processes.
        #[arg(long)]
        no_worker: bool,
    },
    /// Apply pending database migrations and exit.
    Migrate,
    /// Create a tenant if it is missing, and an admin in it.
    CreateAdmin {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        username: String,
        #[arg(long)]
        password: String,
    },
}

/// Parses the command line and runs the command on a Tokio runtime.
pub fn run() -> anyhow::Result<()> {
    let cli = Cli::parse();
    // Logging first, so that what reading the settings warns about is seen.
    telemetry::init(LogFormat::from_env()?);
    let settings = Settings::from_env()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("failed to start the Tokio runtime")?;
    match cli.command.unwrap_or(Command::Serve { no_worker: false }) {
        Command::Serve { no_worker } => runtime.block_on(serve(settings, !no_worker)),
        Command::Migrate => runtime.block_on(migrate(settings)),
        Command::CreateAdmin {
            tenant,
            username,
            password,
        } => runtime.block_on(create_admin(settings, &tenant, &username, password)),
    }
}

async fn serve(settings: Settings, with_worker: bool) -> anyhow::Result<()> {
    let app = Application::build(
        settings,
        RunOptions {
            with_worker,
            clock: Clock::system(),
        },
    )
    .await?;
    app.run_until_stopped().await
}

async fn migrate(settings: Settings) -> anyhow::Result<()> {
    let db = scrm_service::db::connect_with(
        settings.database.url.expose_secret(),
        settings.database.pool_size,
    )
    .await?;
    scrm_service::db::migrate(&db).await
}

async fn create_admin(
    settings: Settings,
    tenant: &str,
    username: &str,
    password: String,
) -> anyhow::Result<()> {
    let code = TenantCode::parse(tenant).map_err(|e| anyhow::anyhow!("--tenant {e}"))?;
    let username = Username::parse(username).map_err(|e| anyhow::anyhow!("--username {e}"))?;
    let password = SecretString::from(password);
    check_password(&password).map_err(|e| anyhow::anyhow!("--password {e}"))?;

    let db = scrm_service::db::connect_with(
        settings.database.url.expose_secret(),
        settings.database.pool_size,
    )
    .await?;
    scrm_service::db::migrate(&db).await?;
    let (tenant_id, admin) =
        scrm_service::tenants::create_admin(&db, &code, username, password).await?;
    println!(
        "admin {} ({}) created in tenant {} ({})",
        admin.username,
        admin.id,
        code.as_str(),
        tenant_id
    );
    Ok(())
}
