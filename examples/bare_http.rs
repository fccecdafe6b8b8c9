//! The HTTP floor of the benchmarks: an actix-web server with the same
//! release settings as `scrm serve`, whose one handler answers every GET
//! with a fixed JSON body after checking that a bearer token is present.
//! It reads no database and builds nothing, so what a load generator gets
//! from it is what the machine's HTTP stack alone allows; a script runs the
//! same load against it and against the real route, in the same run.
//!
//! ```sh
//! cargo run --release --example bare_http -- --bind 127.0.0.1:18090 --body-file detail.json
//! ```
//!
//! `--body-file` is usually a real answer of the route being measured, so
//! that both serialise and send the same number of bytes.

use std::net::SocketAddr;
use std::path::PathBuf;

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use anyhow::Context;
use clap::Parser;

#[derive(Debug, Parser)]
#[command(about = "Answers every GET with a fixed JSON body: the HTTP floor")]
struct Args {
    /// Where to listen.
    #[arg(long, default_value = "127.0.0.1:18090")]
    bind: SocketAddr,
    /// The body to answer with; `{}` when absent.
    #[arg(long)]
    body_file: Option<PathBuf>,
    /// Worker threads; as many as cores when absent, as `scrm serve` runs.
    #[arg(long)]
    workers: Option<usize>,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let body = match &args.body_file {
        Some(path) => {
            std::fs::read(path).with_context(|| format!("failed to read {}", path.display()))?
        }
        None => b"{}".to_vec(),
    };
    let body = web::Bytes::from(body);
    actix_web::rt::System::new().block_on(serve(args, body))
}

async fn serve(args: Args, body: web::Bytes) -> anyhow::Result<()> {
    let mut server = HttpServer::new(move || {
        let body = body.clone();
        App::new().default_service(web::to(move |request: HttpRequest| {
            let body = body.clone();
            async move { answer(&request, body) }
        }))
    });
    if let Some(workers) = args.workers {
        server = server.workers(workers);
    }
    server
        .bind(args.bind)
        .with_context(|| format!("failed to listen on {}", args.bind))?
        .run()
        .await
        .context("the HTTP server failed")
}

/// 200 with the body when a bearer token is present, as the real routes
/// need one; 401 otherwise.
fn answer(request: &HttpRequest, body: web::Bytes) -> HttpResponse {
    let bearer = request
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("Bearer "));
    if bearer {
        HttpResponse::Ok()
            .content_type("application/json")
            .body(body)
    } else {
        HttpResponse::Unauthorized().finish()
    }
}
