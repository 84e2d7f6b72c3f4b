//! The DBWorker benchmark: what the worker chain costs against plain rusqlite, how long one
//! round trip takes, and whether readers keep their pace while a writer runs.
//!
//! Run it with `cargo xtask bench worker [--json]` (or `cargo bench -p codedb-core --bench
//! worker -- --json`). Figures are ratios against a baseline measured in the same run, since
//! the machine is shared and noisy:
//!
//! * `direct_rows_per_s`: rusqlite, one transaction, one prepared statement (the baseline);
//! * `worker_rows_per_s`: the same rows through `CodeDatabase` -> proxy -> DBWorker in one
//!   transaction with `execute_stream` (chunks pipelined); `worker_vs_direct` is their ratio
//!   (target >= 0.85). `worker_collected_*`: the same, collected first and sent as one batch;
//! * `roundtrip_p50_us` / `roundtrip_p99_us`: one small statement inside a transaction;
//! * `read_qps_alone` / `read_qps_with_writer`: point reads on the reader pool from one
//!   thread, without and with a writer committing small read-modify-write transactions back
//!   to back on the same database; `read_with_writer_vs_alone` is their ratio (target >= 0.8).
//!   `read_qps_with_batch_writer`: the same with a writer of 1000-row transactions.
//!
//! Each throughput figure is the median of several alternating rounds.
#![allow(clippy::print_stdout, clippy::unwrap_used, clippy::cast_precision_loss)]

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use codedb_core::{CodeDatabase, Executor, Value, params};
use codedb_sqlite::{DBWorkerManager, SqliteConfig};

const SETUP: &str =
    "CREATE TABLE bench(id INTEGER PRIMARY KEY, name TEXT NOT NULL, value REAL, payload TEXT)";
const INSERT: &str = "INSERT INTO bench(id, name, value, payload) VALUES (?1, ?2, ?3, ?4)";

fn row(i: usize) -> Vec<Value> {
    let i = i as i64;
    params![
        i,
        format!("name-{i}"),
        i as f64 * 0.5,
        format!("payload-{:016x}", i.wrapping_mul(2_654_435_761))
    ]
}

struct Args {
    json: bool,
    rows: usize,
    rounds: usize,
    read_seconds: f64,
}

fn parse_args() -> Args {
    let mut args = Args {
        json: false,
        rows: 200_000,
        rounds: 5,
        read_seconds: 2.0,
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        match a.as_str() {
            "--json" => args.json = true,
            "--rows" => args.rows = it.next().and_then(|v| v.parse().ok()).expect("--rows N"),
            "--rounds" => args.rounds = it.next().and_then(|v| v.parse().ok()).expect("--rounds N"),
            "--read-seconds" => {
                args.read_seconds = it
                    .next()
                    .and_then(|v| v.parse().ok())
                    .expect("--read-seconds S")
            }
            _ => {} // cargo bench passes --bench
        }
    }
    args
}

fn open(path: &Path) -> (DBWorkerManager, CodeDatabase) {
    let manager = DBWorkerManager::start(SqliteConfig::new(path)).unwrap();
    let db = CodeDatabase::open(manager.driver()).unwrap();
    (manager, db)
}

fn direct_round(dir: &Path, n: usize, round: usize) -> f64 {
    let path = dir.join(format!("direct-{round}.sqlite"));
    let elapsed = codedb_sqlite::baseline::direct_insert(&path, SETUP, INSERT, n, row).unwrap();
    n as f64 / elapsed.as_secs_f64()
}

/// The same rows through `CodeDatabase` -> proxy -> DBWorker in one transaction: streamed
/// (chunks pipelined: the worker inserts one while the caller makes the next), or collected
/// first and sent as one batch.
fn worker_round(dir: &Path, n: usize, round: usize, streamed: bool) -> f64 {
    let (manager, db) = open(&dir.join(format!("worker-{round}-{streamed}.sqlite")));
    db.execute(SETUP, params![]).unwrap();
    let start = Instant::now();
    let tx = db.begin_transaction().unwrap();
    let inserted = if streamed {
        tx.execute_stream(INSERT, (0..n).map(row)).unwrap()
    } else {
        tx.execute_many(INSERT, (0..n).map(row).collect()).unwrap()
    };
    tx.commit().unwrap();
    let elapsed = start.elapsed();
    assert_eq!(inserted, n as u64);
    manager.stop().unwrap();
    n as f64 / elapsed.as_secs_f64()
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let idx = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[idx]
}

fn roundtrips(db: &CodeDatabase) -> (f64, f64) {
    db.execute(
        "CREATE TABLE IF NOT EXISTS rt(k INTEGER PRIMARY KEY, v INTEGER)",
        params![],
    )
    .unwrap();
    db.execute("INSERT OR REPLACE INTO rt VALUES (1, 0)", params![])
        .unwrap();
    let tx = db.begin_transaction().unwrap();
    for _ in 0..1000 {
        tx.execute("UPDATE rt SET v = v + 1 WHERE k = 1", params![])
            .unwrap();
    }
    let mut samples = Vec::with_capacity(20_000);
    for _ in 0..20_000 {
        let t = Instant::now();
        tx.execute("UPDATE rt SET v = v + 1 WHERE k = 1", params![])
            .unwrap();
        samples.push(t.elapsed().as_secs_f64() * 1e6);
    }
    tx.commit().unwrap();
    samples.sort_by(f64::total_cmp);
    (percentile(&samples, 0.5), percentile(&samples, 0.99))
}

const READ_KEYS: i64 = 10_000;

fn reads_for(db: &CodeDatabase, seconds: f64) -> f64 {
    let deadline = Instant::now() + Duration::from_secs_f64(seconds);
    let mut n = 0u64;
    let mut k = 1i64;
    let start = Instant::now();
    while Instant::now() < deadline {
        for _ in 0..64 {
            k = (k * 48_271) % READ_KEYS;
            let v: Option<i64> = db
                .query_row("SELECT v FROM kv WHERE k = ?1", params![k])
                .unwrap()
                .map(|r| r.get(0).unwrap());
            assert!(v.is_some());
            n += 1;
        }
    }
    n as f64 / start.elapsed().as_secs_f64()
}

/// The writer that runs while readers are measured.
#[derive(Clone, Copy)]
enum Writer {
    /// Small read-modify-write transactions back to back (the shape of a command): every
    /// commit makes each reader drop its page cache.
    Small,
    /// Transactions of 500 updates and 500 inserts (the shape of the indexer).
    Batch,
}

fn write_loop(db: &CodeDatabase, kind: Writer, stop: &AtomicBool, commits: &AtomicU64) {
    let mut i = 0i64;
    while !stop.load(Ordering::Relaxed) {
        db.transaction(|tx| {
            match kind {
                Writer::Small => {
                    let v: i64 =
                        tx.query_scalar("SELECT v FROM kv WHERE k = ?1", params![i % READ_KEYS])?;
                    tx.execute(
                        "UPDATE kv SET v = ?2 WHERE k = ?1",
                        params![i % READ_KEYS, v + 1],
                    )?;
                    tx.execute(
                        "INSERT INTO log(k, at) VALUES (?1, ?2)",
                        params![i % READ_KEYS, i],
                    )?;
                }
                Writer::Batch => {
                    tx.execute_stream(
                        "UPDATE kv SET v = v + 1 WHERE k = ?1",
                        (0..500).map(|j| params![(i + j * 13) % READ_KEYS]),
                    )?;
                    tx.execute_stream(
                        "INSERT INTO log(k, at) VALUES (?1, ?2)",
                        (0..500).map(|j| params![(i + j) % READ_KEYS, i]),
                    )?;
                }
            }
            Ok(())
        })
        .unwrap();
        commits.fetch_add(1, Ordering::Relaxed);
        i += 7;
    }
}

struct ReadFigures {
    alone: f64,
    with_small_writer: f64,
    small_writer_tps: f64,
    with_batch_writer: f64,
    batch_writer_tps: f64,
}

fn read_figures(dir: &Path, seconds: f64, rounds: usize) -> ReadFigures {
    let (manager, db) = open(&dir.join("reads.sqlite"));
    db.execute(
        "CREATE TABLE kv(k INTEGER PRIMARY KEY, v INTEGER NOT NULL)",
        params![],
    )
    .unwrap();
    db.execute_many(
        "INSERT INTO kv VALUES (?1, ?2)",
        (0..READ_KEYS).map(|k| params![k, k]).collect(),
    )
    .unwrap();
    db.execute(
        "CREATE TABLE log(id INTEGER PRIMARY KEY, k INTEGER, at INTEGER)",
        params![],
    )
    .unwrap();
    reads_for(&db, 0.2); // warm the pool and the page cache
    let mut alone = Vec::new();
    let mut with = [Vec::new(), Vec::new()];
    let mut tps = [Vec::new(), Vec::new()];
    for _ in 0..rounds.clamp(1, 3) {
        for (slot, kind) in [Writer::Small, Writer::Batch].into_iter().enumerate() {
            alone.push(reads_for(&db, seconds));
            let stop = Arc::new(AtomicBool::new(false));
            let commits = Arc::new(AtomicU64::new(0));
            let writer = {
                let (db, stop, commits) = (db.clone(), Arc::clone(&stop), Arc::clone(&commits));
                std::thread::spawn(move || write_loop(&db, kind, &stop, &commits))
            };
            let start = Instant::now();
            with[slot].push(reads_for(&db, seconds));
            stop.store(true, Ordering::Relaxed);
            writer.join().unwrap();
            tps[slot].push(commits.load(Ordering::Relaxed) as f64 / start.elapsed().as_secs_f64());
        }
    }
    manager.stop().unwrap();
    let [small, batch] = with;
    let [small_tps, batch_tps] = tps;
    ReadFigures {
        alone: median(alone),
        with_small_writer: median(small),
        small_writer_tps: median(small_tps),
        with_batch_writer: median(batch),
        batch_writer_tps: median(batch_tps),
    }
}

fn ratio(a: f64, b: f64) -> f64 {
    (a / b * 1000.0).round() / 1000.0
}

fn main() {
    let args = parse_args();
    let dir = tempfile::tempdir().unwrap();
    let (mut direct, mut streamed, mut collected) = (Vec::new(), Vec::new(), Vec::new());
    // Warm-up round, not counted.
    direct_round(dir.path(), args.rows / 10, 100);
    worker_round(dir.path(), args.rows / 10, 100, true);
    for round in 0..args.rounds {
        direct.push(direct_round(dir.path(), args.rows, round));
        streamed.push(worker_round(dir.path(), args.rows, round, true));
        collected.push(worker_round(dir.path(), args.rows, round, false));
    }
    let (direct, streamed, collected) = (median(direct), median(streamed), median(collected));
    let (rt_manager, rt_db) = open(&dir.path().join("roundtrip.sqlite"));
    let (p50, p99) = roundtrips(&rt_db);
    rt_manager.stop().unwrap();
    let reads = read_figures(dir.path(), args.read_seconds, args.rounds);

    let figures = serde_json::json!({
        "benchmark": "worker",
        "rows": args.rows,
        "rounds": args.rounds,
        "direct_rows_per_s": direct.round(),
        "worker_rows_per_s": streamed.round(),
        "worker_vs_direct": ratio(streamed, direct),
        "worker_collected_rows_per_s": collected.round(),
        "worker_collected_vs_direct": ratio(collected, direct),
        "roundtrip_p50_us": (p50 * 10.0).round() / 10.0,
        "roundtrip_p99_us": (p99 * 10.0).round() / 10.0,
        "read_qps_alone": reads.alone.round(),
        "read_qps_with_writer": reads.with_small_writer.round(),
        "read_with_writer_vs_alone": ratio(reads.with_small_writer, reads.alone),
        "writer_tx_per_s": reads.small_writer_tps.round(),
        "read_qps_with_batch_writer": reads.with_batch_writer.round(),
        "read_with_batch_writer_vs_alone": ratio(reads.with_batch_writer, reads.alone),
        "batch_writer_tx_per_s": reads.batch_writer_tps.round(),
        "targets": { "worker_vs_direct": 0.85, "read_with_writer_vs_alone": 0.8 },
    });
    if args.json {
        println!("{figures}");
    } else {
        println!("{}", serde_json::to_string_pretty(&figures).unwrap());
    }
}
