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

/// The `statement_timeout` the connections made with `pg` run under: the one the options
/// set (`-c statement_timeout=5s`, PostgreSQL's units, milliseconds when none), else
/// `default`. `None`: no limit (`0`). An options value this cannot read counts as `default`
/// (the server reads it, or refuses the connection).
pub(crate) fn statement_timeout(
    pg: &postgres::Config,
    default: Option<Duration>,
) -> Option<Duration> {
    let options = pg.get_options().unwrap_or_default();
    let Some(at) = options.find("statement_timeout=") else {
        return default;
    };
    let value = options[at + "statement_timeout=".len()..]
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .trim_matches(['\'', '"']);
    let digits = value
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(value.len());
    let Ok(n) = value[..digits].parse::<u64>() else {
        return default;
    };
    let unit = value[digits..].trim();
    let limit = match unit {
        "" | "ms" => Duration::from_millis(n),
        "us" => Duration::from_micros(n),
        "s" => Duration::from_secs(n),
        "min" => Duration::from_secs(n.saturating_mul(60)),
        "h" => Duration::from_secs(n.saturating_mul(3600)),
        "d" => Duration::from_secs(n.saturating_mul(86_400)),
        _ => return default,
    };
    (!limit.is_zero()).then_some(limit)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn limit_of(url: &str) -> Option<Duration> {
        statement_timeout(&url.parse().unwrap(), Some(Duration::from_secs(300)))
    }

    #[test]
    fn the_statement_timeout_is_read_from_the_options_in_postgresql_units() {
        let base = "postgres://u@h/d";
        assert_eq!(limit_of(base), Some(Duration::from_secs(300)));
        let with = |o: &str| limit_of(&format!("{base}?options={o}"));
        assert_eq!(
            with("-c%20statement_timeout%3D1500"),
            Some(Duration::from_millis(1500))
        );
        assert_eq!(
            with("-c%20statement_timeout%3D2s"),
            Some(Duration::from_secs(2))
        );
        assert_eq!(
            with("-c%20statement_timeout%3D3min"),
            Some(Duration::from_secs(180))
        );
        assert_eq!(with("-c%20statement_timeout%3D0"), None);
        assert_eq!(
            with("-c%20work_mem%3D4MB%20-c%20statement_timeout%3D250ms"),
            Some(Duration::from_millis(250))
        );
        assert_eq!(
            with("-c%20statement_timeout%3Dsoon"),
            Some(Duration::from_secs(300))
        );
    }
}
