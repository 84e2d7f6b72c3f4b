//! Making connections within a deadline, for the first connection and for the pool.
//!
//! The `postgres` crate's `connect_timeout` bounds only the TCP connect: a server that
//! accepts the connection and never answers the startup handshake would hang the caller for
//! good. So each connection is made on a helper thread and waited for at most the timeout;
//! past it the caller gets a clear error (the helper, stuck on a socket nobody answers,
//! ends when the peer closes it or the process ends).

use std::time::Duration;

use codedb_driver::{Error, ErrorKind, Result};
use postgres::{Client, NoTls};

/// Connects with `pg`, giving up after `timeout`; `shown` (the redacted URL) names the
/// server in errors.
pub(crate) fn connect(pg: &postgres::Config, timeout: Duration, shown: &str) -> Result<Client> {
    let (tx, rx) = std::sync::mpsc::sync_channel(1);
    let config = pg.clone();
    std::thread::Builder::new()
        .name("codedb-pg-connect".into())
        .spawn(move || {
            let _ = tx.send(config.connect(NoTls));
        })
        .map_err(|e| Error::new(ErrorKind::Io, format!("cannot start a thread: {e}")))?;
    match rx.recv_timeout(timeout) {
        Ok(Ok(client)) => Ok(client),
        Ok(Err(e)) => {
            let reason = match e.as_db_error() {
                Some(db) => db.message().to_owned(),
                None => crate::error::with_causes(&e),
            };
            Err(Error::new(
                ErrorKind::CannotOpen,
                format!("{shown}: cannot connect: {reason}"),
            ))
        }
        Err(_) => Err(Error::new(
            ErrorKind::Timeout,
            format!(
                "{shown}: cannot connect: no answer from the server within {} ms \
                 (raise connect_timeout in the URL or database.connect_timeout_ms)",
                timeout.as_millis()
            ),
        )),
    }
}

/// Adds `-c statement_timeout=...` to the connection's options unless they set one.
pub(crate) fn default_statement_timeout(pg: &mut postgres::Config, limit: Duration) {
    let existing = pg.get_options().unwrap_or_default().to_owned();
    if existing.contains("statement_timeout") {
        return;
    }
    let option = format!("-c statement_timeout={}", limit.as_millis());
    if existing.trim().is_empty() {
        pg.options(&option);
    } else {
        pg.options(&format!("{existing} {option}"));
    }
}

/// The pool's connection manager: each connection made within the deadline.
#[derive(Debug)]
pub(crate) struct Manager {
    config: postgres::Config,
    timeout: Duration,
    shown: String,
}

impl Manager {
    pub(crate) fn new(config: postgres::Config, timeout: Duration, shown: String) -> Self {
        Manager {
            config,
            timeout,
            shown,
        }
    }
}

impl r2d2::ManageConnection for Manager {
    type Connection = Client;
    type Error = Error;

    fn connect(&self) -> Result<Client> {
        connect(&self.config, self.timeout, &self.shown)
    }

    fn is_valid(&self, client: &mut Client) -> Result<()> {
        client
            .simple_query("")
            .map(drop)
            .map_err(|e| crate::error::map_err(&e, ""))
    }

    fn has_broken(&self, client: &mut Client) -> bool {
        client.is_closed()
    }
}
