//! Property: random sequences of autocommit writes, transactions and savepoints give the same
//! state on `CodeDatabase` (real SQLite worker) as on a plain in-memory model, at every step
//! inside the transaction and outside it, and at the end.
#![allow(clippy::unwrap_used)] // tests fail loudly on purpose

mod common;

use std::collections::BTreeMap;

use codedb_core::{CodeDatabase, Executor, Transaction, params};
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Op {
    Put(u8, i64),
    Del(u8),
    /// Several puts in one batch; with `fail`, a bad row makes the whole batch a no-op.
    Batch(Vec<(u8, i64)>, bool),
    Begin,
    Commit,
    Rollback,
    Savepoint,
    Release,
    RollbackSavepoint,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0u8..6, any::<i64>()).prop_map(|(k, v)| Op::Put(k, v)),
        2 => (0u8..6).prop_map(Op::Del),
        1 => (proptest::collection::vec((0u8..6, any::<i64>()), 1..4), any::<bool>()).prop_map(|(r, f)| Op::Batch(r, f)),
        2 => Just(Op::Begin),
        1 => Just(Op::Commit),
        1 => Just(Op::Rollback),
        2 => Just(Op::Savepoint),
        1 => Just(Op::Release),
        1 => Just(Op::RollbackSavepoint),
    ]
}

type State = BTreeMap<u8, i64>;

/// Levels of state: `[committed, transaction, savepoint, savepoint, ...]`.
struct Model(Vec<State>);

impl Model {
    fn top(&mut self) -> &mut State {
        self.0.last_mut().expect("a level")
    }
    fn apply(&mut self, op: &Op) {
        match op {
            Op::Put(k, v) => {
                self.top().insert(*k, *v);
            }
            Op::Del(k) => {
                self.top().remove(k);
            }
            Op::Batch(rows, false) => {
                for (k, v) in rows {
                    self.top().insert(*k, *v);
                }
            }
            _ => {}
        }
    }
    /// The current level ends keeping its work.
    fn keep(&mut self) {
        let top = self.0.pop().expect("a level");
        *self.top() = top;
    }
    /// The current level ends undoing its work.
    fn undo(&mut self) {
        self.0.pop();
    }
}

fn write(ex: &impl Executor, op: &Op) {
    match op {
        Op::Put(k, v) => {
            ex.execute("INSERT OR REPLACE INTO kv VALUES (?1, ?2)", params![*k, *v])
                .unwrap();
        }
        Op::Del(k) => {
            ex.execute("DELETE FROM kv WHERE k = ?1", params![*k])
                .unwrap();
        }
        Op::Batch(rows, fail) => {
            let mut sets: Vec<_> = rows.iter().map(|(k, v)| params![*k, *v]).collect();
            if *fail {
                sets.push(params![99, 0]); // violates the CHECK on k
            }
            let result = ex.execute_many("INSERT OR REPLACE INTO kv VALUES (?1, ?2)", sets);
            assert_eq!(result.is_err(), *fail, "{result:?}");
        }
        _ => unreachable!("not a write"),
    }
}

fn read(ex: &impl Executor) -> State {
    ex.query("SELECT k, v FROM kv ORDER BY k", params![])
        .unwrap()
        .iter()
        .map(|r| {
            (
                u8::try_from(r.get::<i64>(0).unwrap()).unwrap(),
                r.get::<i64>(1).unwrap(),
            )
        })
        .collect()
}

enum End {
    Keep,
    Undo,
    OutOfOps,
}

/// Runs ops inside `tx` (a transaction or savepoint at `depth` >= 1) until its level ends.
fn run_level(
    db: &CodeDatabase,
    tx: &mut Transaction<'_>,
    depth: usize,
    ops: &[Op],
    i: &mut usize,
    model: &mut Model,
) -> End {
    while *i < ops.len() {
        let op = &ops[*i];
        *i += 1;
        match op {
            Op::Put(..) | Op::Del(..) | Op::Batch(..) => {
                write(&*tx, op);
                model.apply(op);
            }
            Op::Begin => {} // already in a transaction
            Op::Commit | Op::Rollback if depth > 1 => {}
            Op::Release | Op::RollbackSavepoint if depth == 1 => {}
            Op::Commit | Op::Release => return End::Keep,
            Op::Rollback | Op::RollbackSavepoint => return End::Undo,
            Op::Savepoint => {
                let mut sp = tx.savepoint().unwrap();
                model.0.push(model.0.last().cloned().unwrap_or_default());
                let end = run_level(db, &mut sp, depth + 1, ops, i, model);
                match end {
                    End::Keep => {
                        sp.commit().unwrap();
                        model.keep();
                    }
                    End::Undo => {
                        sp.rollback().unwrap();
                        model.undo();
                    }
                    End::OutOfOps => {
                        drop(sp);
                        model.undo();
                        return End::OutOfOps;
                    }
                }
            }
        }
        assert_eq!(
            &read(&*tx),
            model.0.last().unwrap(),
            "inside the transaction, after {op:?}"
        );
        assert_eq!(
            read(db),
            model.0[0],
            "outside the transaction, after {op:?}"
        );
    }
    End::OutOfOps
}

fn run(ops: &[Op]) {
    let t = common::temp_db();
    t.db.execute(
        "CREATE TABLE kv(k INTEGER PRIMARY KEY CHECK (k < 10), v INTEGER NOT NULL)",
        params![],
    )
    .unwrap();
    let mut model = Model(vec![State::new()]);
    let mut i = 0;
    while i < ops.len() {
        let op = &ops[i];
        i += 1;
        match op {
            Op::Put(..) | Op::Del(..) | Op::Batch(..) => {
                write(&t.db, op);
                model.apply(op);
            }
            Op::Begin => {
                let mut tx = t.db.begin_transaction().unwrap();
                model.0.push(model.0[0].clone());
                match run_level(&t.db, &mut tx, 1, ops, &mut i, &mut model) {
                    End::Keep => {
                        tx.commit().unwrap();
                        model.keep();
                    }
                    End::Undo => {
                        tx.rollback().unwrap();
                        model.undo();
                    }
                    End::OutOfOps => {
                        drop(tx);
                        model.undo();
                    }
                }
            }
            _ => {}
        }
        assert_eq!(read(&t.db), model.0[0], "after {op:?}");
    }
    assert_eq!(read(&t.db), model.0[0], "final state");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn code_database_matches_an_in_memory_model(ops in proptest::collection::vec(op(), 1..40)) {
        run(&ops);
    }
}
