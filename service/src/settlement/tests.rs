//! Invariants of settlement against a real database, under random
//! sequences of posting, reversal, closing, disputes, resolutions,
//! confirmations and payouts:
//!
//! - a ledger line is on at most one statement;
//! - a statement's total is the sum of its lines and adjustments;
//! - the statements' lines plus the unsettled lines are the whole ledger,
//!   to the fen;
//! - a statement's lines never change after its close.
//!
//! Time only moves forward in a case, as it does for a real ledger: lines
//! are posted at the case's clock, and a month closes once the clock has
//! passed its end. It runs on SQLite, and also on PostgreSQL when
//! `SCRM_TEST_POSTGRES_URL` names a server (a database of its own is
//! created there). Each case is a fresh tenant in one shared database.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Duration, Utc};
use proptest::prelude::*;
use scrm_entity::{earnings_line, statement, statement_adjustment};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter,
    Set,
};
use uuid::Uuid;

use super::close::{ClosePeriodError, close_period};
use super::transitions::{
    NewDispute, Resolution, confirm_statement, dispute_line, mark_paid, resolve_dispute,
};
use crate::auth::Principal;
use crate::domain::{DisputeId, Role, StatementId, TenantId, UserId};
use crate::pricing::money::Fen;
use crate::tenancy::TenantScope;

/// What a case does, step by step.
#[derive(Clone, Debug)]
enum Step {
    /// Moves the clock on by `hours`.
    Wait {
        hours: i64,
    },
    /// Posts a line of `amount` for installer `who`.
    Post {
        who: usize,
        amount: i64,
    },
    /// Reverses the `pick`-th posting not yet reversed.
    Reverse {
        pick: usize,
    },
    /// Tries to close month `month`; one not over, or before a closed one,
    /// is refused.
    Close {
        month: usize,
    },
    /// Disputes the `pick`-th line of the `statement`-th statement.
    Dispute {
        statement: usize,
        pick: usize,
    },
    /// Resolves the `pick`-th open dispute: accepts with `amount` unless 0.
    Resolve {
        pick: usize,
        amount: i64,
    },
    Confirm {
        statement: usize,
    },
    Pay {
        statement: usize,
    },
}

const MONTHS: [(&str, &str); 4] = [
    ("2026-08-01", "2026-08-31"),
    ("2026-09-01", "2026-09-30"),
    ("2026-10-01", "2026-10-31"),
    ("2026-11-01", "2026-11-30"),
];
const INSTALLERS: usize = 3;

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        3 => (1i64..720).prop_map(|hours| Step::Wait { hours }),
        4 => (0..INSTALLERS, -5_000i64..50_000)
            .prop_map(|(who, amount)| Step::Post { who, amount }),
        1 => (0..20usize).prop_map(|pick| Step::Reverse { pick }),
        2 => (0..MONTHS.len()).prop_map(|month| Step::Close { month }),
        1 => (0..6usize, 0..20usize).prop_map(|(statement, pick)| Step::Dispute { statement, pick }),
        1 => (0..6usize, -3_000i64..3_000).prop_map(|(pick, amount)| Step::Resolve { pick, amount }),
        1 => (0..6usize).prop_map(|statement| Step::Confirm { statement }),
        1 => (0..6usize).prop_map(|statement| Step::Pay { statement }),
    ]
}

fn at(text: &str) -> DateTime<Utc> {
    text.parse().expect("an instant")
}

/// Where every case's clock starts: early in the first month.
fn start() -> DateTime<Utc> {
    at("2026-08-03T02:00:00Z")
}

struct Case<'a> {
    db: &'a DatabaseConnection,
    scope: TenantScope,
    admin: Principal,
    installers: Vec<Principal>,
    order: Uuid,
    line_no: i32,
    now: DateTime<Utc>,
    /// Each statement's lines, as first seen after its close.
    frozen: BTreeMap<Uuid, BTreeSet<Uuid>>,
}

impl<'a> Case<'a> {
    fn new(db: &'a DatabaseConnection) -> Self {
        let tenant = TenantId::generate();
        let installers = (0..INSTALLERS)
            .map(|_| Principal::new(UserId::generate(), tenant, Role::Installer))
            .collect();
        Self {
            db,
            scope: TenantScope::new(tenant),
            admin: Principal::new(UserId::generate(), tenant, Role::Admin),
            installers,
            order: Uuid::now_v7(),
            line_no: 0,
            now: start(),
            frozen: BTreeMap::new(),
        }
    }

    async fn run(&mut self, step: &Step) {
        let now = self.now;
        match *step {
            Step::Wait { hours } => self.now += Duration::hours(hours),
            Step::Post { who, amount } => {
                let installer = self.installers[who].user_id().as_uuid();
                self.post(installer, amount, "posting", now).await;
            }
            Step::Reverse { pick } => self.reverse(pick).await,
            Step::Close { month } => {
                let (from, to) = MONTHS[month];
                match close_period(self.db, &self.admin, from, to, now).await {
                    Ok(_)
                    | Err(ClosePeriodError::Span(_))
                    | Err(ClosePeriodError::Overlaps(..))
                    | Err(ClosePeriodError::OutOfOrder(..)) => {}
                    Err(other) => panic!("a close failed: {other:?}"),
                }
            }
            Step::Dispute { statement, pick } => self.dispute(statement, pick).await,
            Step::Resolve { pick, amount } => self.resolve(pick, amount).await,
            Step::Confirm { statement } => {
                if let Some((row, owner)) = self.statement(statement).await {
                    // Refusals (a disputed statement, say) are part of the walk.
                    let _ = confirm_statement(self.db, &owner, StatementId::from_uuid(row.id), now)
                        .await;
                }
            }
            Step::Pay { statement } => {
                if let Some((row, _)) = self.statement(statement).await {
                    let id = StatementId::from_uuid(row.id);
                    let _ = mark_paid(self.db, &self.admin, id, "BANK-1", now).await;
                }
            }
        }
    }

    async fn post(&mut self, installer: Uuid, amount: i64, entry: &str, posted_at: DateTime<Utc>) {
        self.line_no += 1;
        ledger_row(
            &self.scope,
            self.order,
            self.line_no,
            installer,
            amount,
            entry,
            posted_at,
        )
        .insert(self.db)
        .await
        .expect("a ledger line");
    }

    async fn reverse(&mut self, pick: usize) {
        let ledger = self.ledger().await;
        let reversed: BTreeSet<i32> = ledger
            .iter()
            .filter(|l| l.entry == "reversal")
            .map(|l| l.line_no)
            .collect();
        let open: Vec<&earnings_line::Model> = ledger
            .iter()
            .filter(|l| l.entry == "posting" && !reversed.contains(&l.line_no))
            .collect();
        if open.is_empty() {
            return;
        }
        let line = open[pick % open.len()];
        let row = ledger_row(
            &self.scope,
            line.work_order_id,
            line.line_no,
            line.installer_id,
            -line.amount_fen,
            "reversal",
            self.now,
        );
        row.insert(self.db).await.expect("a reversal");
    }

    async fn dispute(&mut self, statement: usize, pick: usize) {
        let Some((row, owner)) = self.statement(statement).await else {
            return;
        };
        let lines: Vec<Uuid> = self.lines_of(&row).await.into_iter().collect();
        if lines.is_empty() {
            return;
        }
        let dispute = NewDispute {
            line_id: lines[pick % lines.len()],
            reason: "数量不对".into(),
            photo_urls: Vec::new(),
        };
        let _ = dispute_line(
            self.db,
            &owner,
            StatementId::from_uuid(row.id),
            dispute,
            self.now,
        )
        .await;
    }

    async fn resolve(&mut self, pick: usize, amount: i64) {
        let open: Vec<Uuid> = scrm_entity::statement_dispute::Entity::find()
            .filter(
                scrm_entity::statement_dispute::Column::TenantId
                    .eq(self.scope.tenant_id().as_uuid()),
            )
            .filter(scrm_entity::statement_dispute::Column::Status.eq("open"))
            .all(self.db)
            .await
            .expect("disputes")
            .into_iter()
            .map(|d| d.id)
            .collect();
        if open.is_empty() {
            return;
        }
        let resolution = if amount == 0 {
            Resolution::Reject {
                reason: "核实无误".into(),
            }
        } else {
            Resolution::Accept {
                amount: Fen::new(amount),
                reason: "补差".into(),
            }
        };
        let id = DisputeId::from_uuid(open[pick % open.len()]);
        resolve_dispute(self.db, &self.admin, id, resolution, self.now)
            .await
            .expect("an open dispute resolves");
    }

    async fn statement(&self, pick: usize) -> Option<(statement::Model, Principal)> {
        let rows = self.statements().await;
        if rows.is_empty() {
            return None;
        }
        let row = rows[pick % rows.len()].clone();
        let owner = *self
            .installers
            .iter()
            .find(|p| p.user_id().as_uuid() == row.installer_id)?;
        Some((row, owner))
    }

    async fn statements(&self) -> Vec<statement::Model> {
        statement::Entity::find()
            .filter(statement::Column::TenantId.eq(self.scope.tenant_id().as_uuid()))
            .all(self.db)
            .await
            .expect("statements")
    }

    async fn ledger(&self) -> Vec<earnings_line::Model> {
        earnings_line::Entity::find()
            .filter(earnings_line::Column::TenantId.eq(self.scope.tenant_id().as_uuid()))
            .all(self.db)
            .await
            .expect("the ledger")
    }

    /// The ledger lines whose posting falls in the statement's span.
    async fn lines_of(&self, row: &statement::Model) -> BTreeSet<Uuid> {
        self.ledger()
            .await
            .into_iter()
            .filter(|l| {
                l.installer_id == row.installer_id
                    && row.covers_from <= l.posted_at
                    && l.posted_at < row.covers_until
            })
            .map(|l| l.id)
            .collect()
    }

    /// Checks every invariant; answers what failed.
    async fn check(&mut self) -> Result<(), String> {
        let ledger = self.ledger().await;
        let amount_of: BTreeMap<Uuid, i64> = ledger.iter().map(|l| (l.id, l.amount_fen)).collect();
        let mut held: BTreeSet<Uuid> = BTreeSet::new();
        let mut statements_lines_total = 0i64;
        for row in self.statements().await {
            let lines = self.lines_of(&row).await;
            for line in &lines {
                if !held.insert(*line) {
                    return Err(format!("line {line} is on two statements"));
                }
            }
            let lines_sum: i64 = lines.iter().map(|l| amount_of[l]).sum();
            let adjustments: i64 = statement_adjustment::Entity::find()
                .filter(statement_adjustment::Column::StatementId.eq(row.id))
                .all(self.db)
                .await
                .expect("adjustments")
                .iter()
                .map(|a| a.amount_fen)
                .sum();
            if row.lines_total_fen != lines_sum || row.total_fen != lines_sum + adjustments {
                return Err(format!(
                    "statement {} says {} + {} = {}, its rows add to {lines_sum} + {adjustments}",
                    row.id, row.lines_total_fen, row.adjustments_total_fen, row.total_fen
                ));
            }
            if row.lines_count as usize != lines.len() {
                return Err(format!("statement {} miscounts its lines", row.id));
            }
            match self.frozen.get(&row.id) {
                Some(first) if *first != lines => {
                    return Err(format!("the lines of statement {} changed", row.id));
                }
                Some(_) => {}
                None => {
                    self.frozen.insert(row.id, lines);
                }
            }
            statements_lines_total += lines_sum;
        }
        let unsettled: i64 = ledger
            .iter()
            .filter(|l| !held.contains(&l.id))
            .map(|l| l.amount_fen)
            .sum();
        let whole: i64 = ledger.iter().map(|l| l.amount_fen).sum();
        if statements_lines_total + unsettled != whole {
            return Err(format!(
                "statements {statements_lines_total} + unsettled {unsettled} != ledger {whole}"
            ));
        }
        Ok(())
    }
}

fn ledger_row(
    scope: &TenantScope,
    order: Uuid,
    line_no: i32,
    installer: Uuid,
    amount: i64,
    entry: &str,
    posted_at: DateTime<Utc>,
) -> earnings_line::ActiveModel {
    earnings_line::ActiveModel {
        id: Set(Uuid::now_v7()),
        tenant_id: Set(scope.tenant_id().as_uuid()),
        work_order_id: Set(order),
        line_no: Set(line_no),
        kind: Set("base".into()),
        service_item: Set("AC-INSTALL".into()),
        label: Set("空调挂机安装".into()),
        quantity: Set(1),
        sale_price_fen: Set(0),
        unit_price_fen: Set(Some(amount)),
        rate_ten_thousandths: Set(None),
        amount_fen: Set(amount),
        explanation: Set(format!("单价{}×1", Fen::new(amount))),
        price_list_id: Set(Uuid::nil()),
        price_list_version: Set(1),
        price_list_name: Set("标准价".into()),
        tier: Set("T1".into()),
        region_code: Set("440305".into()),
        cooperation_mode: Set(None),
        installer_id: Set(installer),
        entry: Set(entry.to_owned()),
        posted_at: Set(posted_at),
    }
}

async fn sqlite() -> DatabaseConnection {
    let path = std::env::temp_dir().join(format!("scrm-settlement-{}.db", Uuid::new_v4()));
    let db = crate::db::connect(&format!("sqlite://{}?mode=rwc", path.display()))
        .await
        .expect("a database");
    crate::db::migrate(&db).await.expect("migrated");
    db
}

/// A fresh database on the PostgreSQL server the tests were pointed at.
async fn postgres() -> Option<DatabaseConnection> {
    let server = std::env::var("SCRM_TEST_POSTGRES_URL")
        .ok()
        .filter(|v| !v.is_empty())?;
    let admin = crate::db::connect(&server).await.expect("the test server");
    let name = format!("scrm_test_settlement_{}", Uuid::new_v4().simple());
    admin
        .execute_unprepared(&format!("CREATE DATABASE {name}"))
        .await
        .expect("a test database");
    let base = server
        .rsplit_once('/')
        .map_or(server.as_str(), |(base, _)| base);
    let db = crate::db::connect(&format!("{base}/{name}"))
        .await
        .expect("the test database");
    crate::db::migrate(&db).await.expect("migrated");
    Some(db)
}

fn run_cases(db: &DatabaseConnection, runtime: &tokio::runtime::Runtime, cases: u32) {
    let config = ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    };
    proptest!(config, |(steps in proptest::collection::vec(step(), 1..40))| {
        let outcome: Result<(), String> = runtime.block_on(async {
            let mut case = Case::new(db);
            for step in &steps {
                case.run(step).await;
                case.check().await.map_err(|e| format!("after {step:?}: {e}"))?;
            }
            Ok(())
        });
        prop_assert!(outcome.is_ok(), "{}", outcome.err().unwrap_or_default());
    });
}

#[test]
fn random_settlement_keeps_every_invariant_on_sqlite() {
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    let db = runtime.block_on(sqlite());
    run_cases(&db, &runtime, 96);
}

#[test]
fn random_settlement_keeps_every_invariant_on_postgres() {
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    let Some(db) = runtime.block_on(postgres()) else {
        eprintln!(
            "SKIPPED random_settlement_keeps_every_invariant_on_postgres: SCRM_TEST_POSTGRES_URL is unset"
        );
        return;
    };
    run_cases(&db, &runtime, 48);
}

#[test]
fn the_database_refuses_edits_of_the_ledger_and_of_closed_statements() {
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    runtime.block_on(async {
        let db = sqlite().await;
        let mut case = Case::new(&db);
        let installer = case.installers[0].user_id().as_uuid();
        case.post(installer, 12_000, "posting", case.now).await;
        case.now = at("2026-09-02T00:00:00Z");
        case.run(&Step::Close { month: 0 }).await;
        assert_eq!(case.statements().await.len(), 1, "the month closed");

        let edit_ledger = earnings_line::Entity::update_many()
            .col_expr(
                earnings_line::Column::AmountFen,
                sea_orm::sea_query::Expr::value(1),
            )
            .filter(earnings_line::Column::TenantId.eq(case.scope.tenant_id().as_uuid()))
            .exec(&db)
            .await;
        assert!(edit_ledger.is_err(), "a ledger line was edited");
        let drop_line = earnings_line::Entity::delete_many()
            .filter(earnings_line::Column::TenantId.eq(case.scope.tenant_id().as_uuid()))
            .exec(&db)
            .await;
        assert!(drop_line.is_err(), "a ledger line was deleted");
        let refix_total = statement::Entity::update_many()
            .col_expr(
                statement::Column::LinesTotalFen,
                sea_orm::sea_query::Expr::value(1),
            )
            .filter(statement::Column::TenantId.eq(case.scope.tenant_id().as_uuid()))
            .exec(&db)
            .await;
        assert!(
            refix_total.is_err(),
            "a closed statement's lines total was changed"
        );
        let unbalanced = statement::Entity::update_many()
            .col_expr(
                statement::Column::TotalFen,
                sea_orm::sea_query::Expr::value(1),
            )
            .filter(statement::Column::TenantId.eq(case.scope.tenant_id().as_uuid()))
            .exec(&db)
            .await;
        assert!(
            unbalanced.is_err(),
            "a total that is not lines plus adjustments was stored"
        );
    });
}

#[test]
fn lines_posted_before_a_first_close_are_carried_into_it() {
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    runtime.block_on(async {
        let db = sqlite().await;
        let mut case = Case::new(&db);
        let installer = case.installers[0].user_id().as_uuid();
        case.post(installer, 10_000, "posting", at("2026-08-10T00:00:00Z"))
            .await;
        case.post(installer, 2_000, "posting", at("2026-10-10T00:00:00Z"))
            .await;

        let now = at("2026-11-02T00:00:00Z");
        let closed = close_period(&db, &case.admin, MONTHS[2].0, MONTHS[2].1, now)
            .await
            .expect("closed");

        assert_eq!(closed.statements, 1);
        let rows = case.statements().await;
        assert_eq!(rows[0].lines_total_fen, 12_000);
        assert_eq!(rows[0].lines_count, 2);
        case.check().await.expect("the invariants hold");
    });
}
