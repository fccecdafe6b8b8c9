//! The processes the fault test runs beside its in-process API: a Redis of
//! its own, a second API process and the workers. Each can be SIGKILLed
//! and started again. Their output goes to files in a folder that is kept,
//! and named, when the test fails or `SCRM_SOAK_KEEP_LOGS` is set.

use std::fs::File;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::helpers::{JWT_SECRET, TestApp, say};

/// The longest a started process may take to answer.
const STARTUP_LIMIT: Duration = Duration::from_secs(60);
/// How long a killed API process or Redis stays down before it is started
/// again, so that clients meet it refusing connections.
const DOWNTIME: Duration = Duration::from_secs(1);

/// The `redis-server` on `PATH`, if there is one.
pub fn redis_server_binary() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join("redis-server"))
        .find(|candidate| candidate.is_file())
}

/// The `scrm-worker` binary that cargo builds beside this test binary when
/// the whole workspace is tested. A run of this package's tests alone does
/// not build it, so it is built here, in the same profile, when missing.
fn worker_binary() -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary has a path");
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("the test binary sits in target/<profile>/deps");
    let binary = dir.join("scrm-worker");
    if !binary.exists() {
        let profile = if dir.ends_with("release") {
            "release"
        } else {
            "dev"
        };
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
        let built = Command::new(cargo)
            .args(["build", "-p", "scrm-worker", "--profile", profile])
            .status()
            .expect("cargo runs");
        assert!(built.success(), "scrm-worker builds");
    }
    binary
}

/// A port that was free a moment ago: bound on port 0 and let go. Another
/// process could take it in between; the start-up checks would then fail
/// with the process's log named.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port()
}

/// The folder that holds the children's output.
pub struct LogFolder(PathBuf);

impl LogFolder {
    pub fn new() -> Self {
        let dir =
            std::env::temp_dir().join(format!("scrm-fault-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).expect("the log folder is created");
        Self(dir)
    }
}

impl Drop for LogFolder {
    fn drop(&mut self) {
        if std::thread::panicking() || std::env::var_os("SCRM_SOAK_KEEP_LOGS").is_some() {
            say(&format!(
                "fault test: process logs kept in {}",
                self.0.display()
            ));
        } else {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

/// How to start one kind of process.
struct Recipe {
    program: PathBuf,
    args: Vec<String>,
    env: Vec<(&'static str, String)>,
}

/// A child process that is started again after each kill; each start
/// writes its own log file, `<name>-<start>.log`.
struct Supervised {
    name: String,
    recipe: Recipe,
    /// What answers over HTTP once the process is ready, if anything does.
    ready_url: Option<String>,
    logs: PathBuf,
    starts: usize,
    child: Child,
}

impl Supervised {
    fn start(name: String, recipe: Recipe, ready_url: Option<String>, logs: &LogFolder) -> Self {
        let logs = logs.0.clone();
        let child = spawn(&recipe, &logs.join(format!("{name}-1.log")));
        Self {
            name,
            recipe,
            ready_url,
            logs,
            starts: 1,
            child,
        }
    }

    fn log(&self) -> PathBuf {
        self.logs.join(format!("{}-{}.log", self.name, self.starts))
    }

    /// SIGKILL: no chance to finish anything. A process that had already
    /// exited fails the test instead.
    fn kill(&mut self) {
        self.assert_running();
        self.child.kill().expect("the process is killed");
        let _ = self.child.wait();
    }

    fn start_again(&mut self) {
        self.starts += 1;
        self.child = spawn(&self.recipe, &self.log());
    }

    /// Fails the test, naming the log, if the process has exited.
    fn assert_running(&mut self) {
        if let Ok(Some(status)) = self.child.try_wait() {
            panic!(
                "{} exited with {status}; see {}",
                self.name,
                self.log().display()
            );
        }
    }

    /// Waits until the process answers at its readiness URL.
    async fn wait_until_ready(&mut self, probe: &reqwest::Client) {
        let Some(url) = self.ready_url.clone() else {
            return;
        };
        let started = Instant::now();
        loop {
            let answer = probe.get(&url).send().await;
            if answer.is_ok_and(|a| a.status().is_success()) {
                return;
            }
            self.assert_running();
            assert!(
                started.elapsed() < STARTUP_LIMIT,
                "{} answers in time",
                self.name
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Asks the process to stop with SIGTERM; answers whether it exited 0.
    fn terminate(&mut self) -> bool {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        self.child.wait().is_ok_and(|status| status.success())
    }
}

impl Drop for Supervised {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn spawn(recipe: &Recipe, log: &Path) -> Child {
    let file = File::create(log).expect("a log file is created");
    let mut command = Command::new(&recipe.program);
    command
        .args(&recipe.args)
        .env_remove("WECHAT_APPID")
        .env_remove("WECHAT_SECRET")
        .env_remove("METRICS_BIND")
        .stdin(Stdio::null())
        .stdout(Stdio::from(
            file.try_clone().expect("the log file is shared"),
        ))
        .stderr(Stdio::from(file));
    for (name, value) in &recipe.env {
        command.env(name, value);
    }
    command
        .spawn()
        .unwrap_or_else(|e| panic!("{} starts: {e}", recipe.program.display()))
}

/// A `redis-server` of the test's own, which keeps nothing on disk: a
/// restart empties it, as a crash of the machine's Redis would.
pub struct PrivateRedis {
    port: u16,
    process: Supervised,
}

impl PrivateRedis {
    pub async fn start(binary: PathBuf, logs: &LogFolder) -> Self {
        let port = free_port();
        let args = ["--port", &port.to_string(), "--bind", "127.0.0.1"]
            .into_iter()
            .chain(["--save", "", "--appendonly", "no"])
            .map(str::to_owned)
            .collect();
        let recipe = Recipe {
            program: binary,
            args,
            env: Vec::new(),
        };
        let mut redis = Self {
            port,
            process: Supervised::start("redis".to_owned(), recipe, None, logs),
        };
        redis.wait_until_ready().await;
        redis
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    pub fn client(&self) -> redis::Client {
        redis::Client::open(self.url()).expect("a Redis URL")
    }

    /// Kills Redis and starts it again, empty, on the same port.
    pub async fn restart(&mut self) {
        self.process.kill();
        tokio::time::sleep(DOWNTIME).await;
        self.process.start_again();
        self.wait_until_ready().await;
    }

    pub async fn flush(&self) {
        let mut connection = self.connection().await.expect("Redis answers");
        let _: () = redis::cmd("FLUSHALL")
            .query_async(&mut connection)
            .await
            .expect("the test's Redis is flushed");
    }

    async fn connection(&self) -> redis::RedisResult<redis::aio::MultiplexedConnection> {
        self.client().get_multiplexed_async_connection().await
    }

    async fn wait_until_ready(&mut self) {
        let started = Instant::now();
        loop {
            if let Ok(mut connection) = self.connection().await {
                let pong: redis::RedisResult<String> =
                    redis::cmd("PING").query_async(&mut connection).await;
                if pong.is_ok() {
                    return;
                }
            }
            self.process.assert_running();
            assert!(started.elapsed() < STARTUP_LIMIT, "Redis answers in time");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// Everything outside the test binary: the test's Redis, one more
/// `scrm serve --no-worker` on a fixed port, and the `scrm-worker`s, all
/// on the test's database and job stream.
pub struct Cluster {
    pub redis: PrivateRedis,
    api_port: u16,
    api: Supervised,
    workers: Vec<Supervised>,
    probe: reqwest::Client,
}

impl Cluster {
    pub async fn start(
        redis: PrivateRedis,
        app: &TestApp,
        workers: usize,
        logs: &LogFolder,
    ) -> Self {
        let shared = vec![
            ("DATABASE_URL", app.database_url.clone()),
            ("REDIS_URL", redis.url()),
            ("REDIS_STREAM", app.redis_stream.clone()),
            // Small pools: the suite's other tests share the server's
            // hundred connections with these processes.
            ("DATABASE_POOL_SIZE", "4".to_owned()),
            ("RUST_LOG", "warn".to_owned()),
        ];
        let api_port = free_port();
        let mut cluster = Self {
            redis,
            api_port,
            api: start_api(api_port, &shared, logs),
            workers: (0..workers)
                .map(|n| start_worker(n, &shared, logs))
                .collect(),
            probe: reqwest::Client::builder()
                .timeout(Duration::from_secs(1))
                .build()
                .expect("a client"),
        };
        cluster.api.wait_until_ready(&cluster.probe).await;
        for worker in &mut cluster.workers {
            worker.wait_until_ready(&cluster.probe).await;
        }
        cluster
    }

    /// Where the second API process listens, across its restarts.
    pub fn api_address(&self) -> String {
        format!("http://127.0.0.1:{}", self.api_port)
    }

    /// SIGKILLs worker `n`, and starts another in its place.
    pub async fn kill_worker(&mut self, n: usize) {
        let worker = &mut self.workers[n];
        worker.kill();
        worker.start_again();
        worker.wait_until_ready(&self.probe).await;
    }

    /// SIGKILLs the second API process, and starts it again on the same
    /// port once clients have met it refusing connections.
    pub async fn kill_api(&mut self) {
        self.api.kill();
        tokio::time::sleep(DOWNTIME).await;
        self.api.start_again();
        self.api.wait_until_ready(&self.probe).await;
    }

    /// Asks every process but Redis to stop with SIGTERM; answers each
    /// one's name and whether it exited 0.
    pub fn terminate(&mut self) -> Vec<(String, bool)> {
        std::iter::once(&mut self.api)
            .chain(self.workers.iter_mut())
            .map(|process| (process.name.clone(), process.terminate()))
            .collect()
    }
}

/// `scrm serve --no-worker` on `port`, ready once `/healthz` answers (it
/// binds after applying migrations).
fn start_api(port: u16, shared: &[(&'static str, String)], logs: &LogFolder) -> Supervised {
    let own = [
        ("BIND", format!("127.0.0.1:{port}")),
        ("JWT_SECRET", JWT_SECRET.to_owned()),
        // The run measures survival, not the allowance.
        ("WEBHOOK_RATE_LIMIT", "0".to_owned()),
    ];
    let recipe = Recipe {
        program: PathBuf::from(env!("CARGO_BIN_EXE_scrm")),
        args: vec!["serve".to_owned(), "--no-worker".to_owned()],
        env: own.into_iter().chain(shared.iter().cloned()).collect(),
    };
    let ready = format!("http://127.0.0.1:{port}/healthz");
    Supervised::start("api".to_owned(), recipe, Some(ready), logs)
}

/// Worker `n`, which serves its counters on a port of its own so that the
/// test can tell when it is ready: the worker binds it after applying
/// migrations, just before it starts consuming. Without that wait, a fault
/// striking a worker still starting up would stop it for good.
fn start_worker(n: usize, shared: &[(&'static str, String)], logs: &LogFolder) -> Supervised {
    let port = free_port();
    let recipe = Recipe {
        program: worker_binary(),
        args: Vec::new(),
        env: std::iter::once(("METRICS_BIND", format!("127.0.0.1:{port}")))
            .chain(shared.iter().cloned())
            .collect(),
    };
    let ready = format!("http://127.0.0.1:{port}/metrics");
    Supervised::start(format!("worker-{n}"), recipe, Some(ready), logs)
}
