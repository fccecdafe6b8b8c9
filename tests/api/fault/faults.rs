//! The faults, and when they strike: each kind spread evenly over the
//! load, struck while deliveries are in flight.

use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use sea_orm::DatabaseConnection;

use super::checks::count;
use super::processes::Cluster;
use crate::helpers::say;

/// How many of each fault a run strikes.
#[derive(Debug, Clone, Copy)]
pub struct FaultCounts {
    pub worker_kills: usize,
    pub api_kills: usize,
    pub redis_restarts: usize,
    pub redis_flushes: usize,
    pub connection_drops: usize,
}

impl fmt::Display for FaultCounts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "worker kills {}, API kills {}, Redis restarts {}, Redis flushes {}, \
             PostgreSQL connection drops {}",
            self.worker_kills,
            self.api_kills,
            self.redis_restarts,
            self.redis_flushes,
            self.connection_drops
        )
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// SIGKILL worker `n`, and start another in its place.
    KillWorker(usize),
    /// SIGKILL the second API process, and start it again.
    KillApi,
    /// Kill Redis and start it again, empty.
    RestartRedis,
    /// `FLUSHALL` the test's Redis.
    FlushRedis,
    /// End every other connection to the test's database.
    DropConnections,
}

/// The faults in the order they strike, each with the share of the load
/// sent before it. The `j`-th of `c` faults of a kind strikes at
/// `(j + offset) / c`; the offsets differ by kind, so that two kinds
/// seldom strike together and none strikes at the very end.
pub fn plan(counts: &FaultCounts, workers: usize) -> Vec<(f64, Fault)> {
    let mut plan = Vec::new();
    let mut spread = |count: usize, offset: f64, fault: &dyn Fn(usize) -> Fault| {
        for j in 0..count {
            plan.push(((j as f64 + offset) / count as f64, fault(j)));
        }
    };
    spread(counts.worker_kills, 0.5, &|j| {
        Fault::KillWorker(j % workers)
    });
    spread(counts.api_kills, 0.6, &|_| Fault::KillApi);
    spread(counts.redis_restarts, 0.3, &|_| Fault::RestartRedis);
    spread(counts.redis_flushes, 0.75, &|_| Fault::FlushRedis);
    spread(counts.connection_drops, 0.2, &|_| Fault::DropConnections);
    plan.sort_by(|a, b| a.0.total_cmp(&b.0));
    plan
}

/// Strikes each fault of `plan` once `done` of `total` deliveries have
/// finished; answers when the last one was struck.
pub async fn strike_during_load(
    plan: &[(f64, Fault)],
    done: &AtomicUsize,
    total: usize,
    cluster: &mut Cluster,
    db: &DatabaseConnection,
) -> Instant {
    let started = Instant::now();
    let mut last = started;
    for (share, fault) in plan {
        let due = (share * total as f64).ceil() as usize;
        while done.load(Ordering::Relaxed) < due {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let what = strike(*fault, cluster, db).await;
        last = Instant::now();
        say(&format!(
            "fault test: {:>6.1}s, {:>3.0} % sent: {what}",
            started.elapsed().as_secs_f64(),
            100.0 * done.load(Ordering::Relaxed) as f64 / total as f64
        ));
    }
    last
}

/// Strikes one fault; answers what was done.
pub async fn strike(fault: Fault, cluster: &mut Cluster, db: &DatabaseConnection) -> String {
    match fault {
        Fault::KillWorker(n) => {
            cluster.kill_worker(n).await;
            format!("SIGKILLed worker {n}, started another")
        }
        Fault::KillApi => {
            cluster.kill_api().await;
            "SIGKILLed the API process, started it again".to_owned()
        }
        Fault::RestartRedis => {
            cluster.redis.restart().await;
            "killed Redis, started it again empty".to_owned()
        }
        Fault::FlushRedis => {
            cluster.redis.flush().await;
            "flushed Redis".to_owned()
        }
        Fault::DropConnections => {
            let dropped = drop_connections(db).await;
            format!("dropped {dropped} PostgreSQL connections")
        }
    }
}

/// Ends every connection to the test's own database but the one asking,
/// as a restart of PostgreSQL would; answers how many were ended. Other
/// tests' databases are left alone.
async fn drop_connections(db: &DatabaseConnection) -> i64 {
    // The volatile call stays in the inner select list, so that it runs
    // only on rows that passed the filter.
    const SQL: &str = "SELECT COUNT(*) FROM (SELECT pg_terminate_backend(pid) AS ended \
        FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()) \
        AS dropped WHERE ended";
    assert_eq!(
        db.get_database_backend(),
        sea_orm::DatabaseBackend::Postgres,
        "connections are dropped on PostgreSQL only"
    );
    count(db, SQL).await
}
