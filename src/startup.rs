//! Building and running the application, the same way for `main` and for
//! the tests.

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::Server;
use actix_web::middleware::from_fn;
use actix_web::{App, HttpServer, web};
use anyhow::Context;
use secrecy::ExposeSecret;
use tracing_actix_web::TracingLogger;
use utoipa::OpenApi;
use utoipa_swagger_ui::SwaggerUi;

use scrm_service::auth::TokenKeys;
use scrm_service::channels::group_commit::InboxWriterTask;
use scrm_service::channels::inbox::Inbox;
use scrm_service::retry::RetryPolicy;
use scrm_worker::jobs::JobContext;
use scrm_worker::redis_stream::ConsumerOptions;
use scrm_worker::runtime::{Background, QueueBackend};

use crate::configuration::Settings;
use crate::error::ApiError;
use crate::metrics::Metrics;
use crate::openapi::ApiDoc;
use crate::rate_limit::RateLimiter;
use crate::routes;
use crate::slow_clients;
use crate::state::{AppState, Clock};
use crate::telemetry::{RequestSpan, observe};

/// How long in-flight requests and jobs may take to finish after a stop
/// signal.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(30);

/// How `scrm serve` was asked to run.
#[derive(Debug, Clone, Copy)]
pub struct RunOptions {
    /// Run the worker in this process too.
    pub with_worker: bool,
    /// The calendar that closing a settlement period goes by.
    pub clock: Clock,
}

/// A built application, bound to its port and ready to run.
pub struct Application {
    port: u16,
    server: Server,
    inbox_writer: InboxWriterTask,
    background: Background,
}

impl std::fmt::Debug for Application {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Application")
            .field("port", &self.port)
            .finish_non_exhaustive()
    }
}

impl Application {
    /// Connects to the database, applies migrations, starts the queue and
    /// binds the listener.
    pub async fn build(settings: Settings, options: RunOptions) -> anyhow::Result<Self> {
        let db = scrm_service::db::connect_with(
            settings.database.url.expose_secret(),
            settings.database.pool_size,
        )
        .await?;
        scrm_service::db::migrate(&db).await?;
        let wechat = settings.wechat.as_ref().map(|w| w.client()).transpose()?;
        let redis = settings
            .redis_url
            .map(|url| redis::Client::open(url.expose_secret()))
            .transpose()
            .context("REDIS_URL is not a usable Redis URL")?;
        let metrics = Metrics::new()?;
        let context = Arc::new(JobContext {
            db: db.clone(),
            wechat: wechat.clone(),
            policy: RetryPolicy::default(),
            metrics: Some(metrics.worker.clone()),
        });
        let backend = match &redis {
            Some(client) => QueueBackend::Redis {
                client: client.clone(),
                stream: settings.redis_stream.clone(),
            },
            None => QueueBackend::InProcess,
        };
        anyhow::ensure!(
            options.with_worker || redis.is_some(),
            "--no-worker needs REDIS_URL: without Redis, jobs can only run inside this process"
        );
        let (queue, background) = Background::start(
            context,
            &backend,
            options.with_worker,
            ConsumerOptions::default(),
        )
        .await?;
        let (inbox, inbox_writer) = Inbox::start(
            db.clone(),
            routes::webhooks::queue_accepted_events(Arc::clone(&queue)),
        );

        let state = web::Data::new(AppState {
            db,
            tokens: TokenKeys::new(&settings.jwt_secret)?,
            wechat,
            redis,
            redis_stream: settings.redis_stream.clone(),
            queue,
            inbox,
            clock: options.clock,
            webhook_limiter: settings.webhook_rate_limit.map(RateLimiter::new),
        });
        let metrics = web::Data::new(metrics);
        let openapi = ApiDoc::openapi();

        let listener = TcpListener::bind(settings.bind)
            .with_context(|| format!("failed to listen on {}", settings.bind))?;
        let port = listener
            .local_addr()
            .context("the listener has no address")?
            .port();
        let server = HttpServer::new(move || {
            App::new()
                .app_data(state.clone())
                .app_data(metrics.clone())
                .app_data(web::QueryConfig::default().error_handler(|error, _| {
                    ApiError::bad_request(format!("The query string is invalid: {error}")).into()
                }))
                // Before the routes: the /api/v1 scope would otherwise claim
                // the document's path.
                .service(
                    SwaggerUi::new("/docs/{_:.*}").url("/api/v1/openapi.json", openapi.clone()),
                )
                .configure(routes::configure)
                .default_service(web::to(routes::not_found))
                .wrap(from_fn(slow_clients::body_deadline))
                .wrap(from_fn(observe))
                .wrap(TracingLogger::<RequestSpan>::new())
        })
        .listen(listener)
        .context("failed to start the HTTP server")?
        .client_request_timeout(slow_clients::HEAD_DEADLINE)
        .shutdown_timeout(SHUTDOWN_GRACE.as_secs())
        // actix stops at once on SIGINT; this makes Ctrl-C as graceful as SIGTERM.
        .shutdown_signal(scrm_worker::shutdown::signal())
        .run();
        tracing::info!(port, "scrm is listening");
        Ok(Self {
            port,
            server,
            inbox_writer,
            background,
        })
    }

    /// The port the server listens on (useful when bound to port 0).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Serves until SIGTERM or Ctrl-C; in-flight requests, then the inbox
    /// rows and the job in hand, get [`SHUTDOWN_GRACE`] to finish. The inbox
    /// writer stops before the queue, since it queues what it stores.
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        let served = self.server.await.context("the HTTP server failed");
        self.inbox_writer.stop(SHUTDOWN_GRACE).await;
        self.background.stop(SHUTDOWN_GRACE).await;
        served?;
        tracing::info!("scrm stopped");
        Ok(())
    }
}
