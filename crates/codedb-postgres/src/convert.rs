//! Between codedb's [`Value`]s and PostgreSQL's typed wire values, and between SQLite-style
//! placeholders (`?1`, `?`) and PostgreSQL's (`$1`).
//!
//! PostgreSQL types every parameter; a [`Param`] converts the untyped `Value` to what the
//! server asks for (an integer to `int2`/`int4`/`int8`/`float`/`bool`/text, ...) and says
//! exactly what did not fit. Result columns come back as `Value`s by their type: integers,
//! floats, booleans (as 0/1), text, `bytea`.

use std::error::Error as StdError;

use bytes::BytesMut;
use codedb_driver::{Error, ErrorKind, Result, Value};
use postgres::types::{IsNull, ToSql, Type, to_sql_checked};

/// Rewrites `?NNN` and bare `?` placeholders to `$NNN` (bare ones numbered in order),
/// leaving string literals, quoted identifiers and comments alone.
pub(crate) fn placeholders(sql: &str) -> String {
    let bytes = sql.as_bytes();
    let mut out = String::with_capacity(sql.len() + 8);
    let mut i = 0;
    let mut next = 1;
    while i < bytes.len() {
        let c = bytes[i];
        match c {
            b'\'' | b'"' => {
                let end = bytes[i + 1..]
                    .iter()
                    .position(|&b| b == c)
                    .map_or(bytes.len(), |p| i + 1 + p + 1);
                out.push_str(&sql[i..end]);
                i = end;
            }
            b'-' if bytes.get(i + 1) == Some(&b'-') => {
                let end = bytes[i..]
                    .iter()
                    .position(|&b| b == b'\n')
                    .map_or(bytes.len(), |p| i + p);
                out.push_str(&sql[i..end]);
                i = end;
            }
            b'?' => {
                let digits = bytes[i + 1..]
                    .iter()
                    .take_while(|b| b.is_ascii_digit())
                    .count();
                if digits > 0 {
                    out.push('$');
                    out.push_str(&sql[i + 1..i + 1 + digits]);
                    i += 1 + digits;
                } else {
                    out.push('$');
                    out.push_str(&next.to_string());
                    next += 1;
                    i += 1;
                }
            }
            _ => {
                let ch = sql[i..].chars().next().unwrap_or(' ');
                out.push(ch);
                i += ch.len_utf8();
            }
        }
    }
    out
}

/// A [`Value`] sent as the parameter type the server asks for.
#[derive(Debug)]
pub(crate) struct Param<'a>(pub(crate) &'a Value);

type BoxError = Box<dyn StdError + Sync + Send>;

fn mismatch(what: &str, ty: &Type) -> BoxError {
    format!("cannot send {what} as a PostgreSQL {ty}").into()
}

impl ToSql for Param<'_> {
    fn to_sql(&self, ty: &Type, out: &mut BytesMut) -> std::result::Result<IsNull, BoxError> {
        match self.0 {
            Value::Null => Ok(IsNull::Yes),
            Value::Integer(i) => match *ty {
                Type::INT2 => i16::try_from(*i)?.to_sql(ty, out),
                Type::INT4 => i32::try_from(*i)?.to_sql(ty, out),
                Type::INT8 => i.to_sql(ty, out),
                Type::OID => u32::try_from(*i)?.to_sql(ty, out),
                #[allow(clippy::cast_precision_loss)]
                Type::FLOAT8 => (*i as f64).to_sql(ty, out),
                #[allow(clippy::cast_precision_loss)]
                Type::FLOAT4 => (*i as f32).to_sql(ty, out),
                Type::BOOL => (*i != 0).to_sql(ty, out),
                Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME | Type::UNKNOWN => {
                    i.to_string().to_sql(ty, out)
                }
                _ => Err(mismatch("an integer", ty)),
            },
            Value::Real(f) => match *ty {
                Type::FLOAT8 => f.to_sql(ty, out),
                #[allow(clippy::cast_possible_truncation)]
                Type::FLOAT4 => (*f as f32).to_sql(ty, out),
                Type::TEXT | Type::VARCHAR | Type::UNKNOWN => f.to_string().to_sql(ty, out),
                _ => Err(mismatch("a float", ty)),
            },
            Value::Text(s) => match *ty {
                Type::TEXT
                | Type::VARCHAR
                | Type::BPCHAR
                | Type::NAME
                | Type::UNKNOWN
                | Type::JSON
                | Type::JSONB => s.as_str().to_sql(ty, out),
                Type::INT8 => s
                    .trim()
                    .parse::<i64>()
                    .map_err(|_| mismatch("text", ty))?
                    .to_sql(ty, out),
                Type::INT4 => s
                    .trim()
                    .parse::<i32>()
                    .map_err(|_| mismatch("text", ty))?
                    .to_sql(ty, out),
                Type::FLOAT8 => s
                    .trim()
                    .parse::<f64>()
                    .map_err(|_| mismatch("text", ty))?
                    .to_sql(ty, out),
                _ => Err(mismatch("text", ty)),
            },
            Value::Blob(b) => match *ty {
                Type::BYTEA => b.as_slice().to_sql(ty, out),
                _ => Err(mismatch("bytes", ty)),
            },
        }
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    to_sql_checked!();
}

/// Column `i` of `row` as a [`Value`].
pub(crate) fn column(row: &postgres::Row, i: usize) -> Result<Value> {
    let ty = row.columns()[i].type_().clone();
    let err = |e: postgres::Error| {
        Error::new(
            ErrorKind::TypeMismatch,
            format!("column {i} ({ty}): cannot read it: {e}"),
        )
    };
    Ok(match ty {
        // What a function returning nothing (`pg_advisory_xact_lock`) gives.
        Type::VOID => Value::Null,
        Type::BOOL => row
            .try_get::<_, Option<bool>>(i)
            .map_err(err)?
            .map_or(Value::Null, |b| Value::Integer(i64::from(b))),
        Type::INT2 => row
            .try_get::<_, Option<i16>>(i)
            .map_err(err)?
            .map_or(Value::Null, |v| Value::Integer(v.into())),
        Type::INT4 => row
            .try_get::<_, Option<i32>>(i)
            .map_err(err)?
            .map_or(Value::Null, |v| Value::Integer(v.into())),
        Type::INT8 => row
            .try_get::<_, Option<i64>>(i)
            .map_err(err)?
            .map_or(Value::Null, Value::Integer),
        Type::OID => row
            .try_get::<_, Option<u32>>(i)
            .map_err(err)?
            .map_or(Value::Null, |v| Value::Integer(v.into())),
        Type::CHAR => row
            .try_get::<_, Option<i8>>(i)
            .map_err(err)?
            .map_or(Value::Null, |v| {
                Value::Text(char::from(v as u8).to_string())
            }),
        Type::FLOAT4 => row
            .try_get::<_, Option<f32>>(i)
            .map_err(err)?
            .map_or(Value::Null, |v| Value::Real(v.into())),
        Type::FLOAT8 => row
            .try_get::<_, Option<f64>>(i)
            .map_err(err)?
            .map_or(Value::Null, Value::Real),
        Type::BYTEA => row
            .try_get::<_, Option<Vec<u8>>>(i)
            .map_err(err)?
            .map_or(Value::Null, Value::Blob),
        _ => row
            .try_get::<_, Option<String>>(i)
            .map_err(err)?
            .map_or(Value::Null, Value::Text),
    })
}

#[cfg(test)]
mod tests {
    use super::placeholders;

    #[test]
    fn placeholders_are_rewritten_outside_literals() {
        assert_eq!(
            placeholders("SELECT ?1, ?2 WHERE a = ?1"),
            "SELECT $1, $2 WHERE a = $1"
        );
        assert_eq!(placeholders("VALUES (?, ?)"), "VALUES ($1, $2)");
        assert_eq!(
            placeholders("SELECT '?1', \"a?\" -- ?\n, ?3"),
            "SELECT '?1', \"a?\" -- ?\n, $3"
        );
        assert_eq!(placeholders("SELECT 'é', ?1"), "SELECT 'é', $1");
    }
}
