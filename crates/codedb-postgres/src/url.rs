//! Connection strings as codedb shows and passes them: [`redact`] (the one function every
//! place that shows a URL goes through) and [`without_password`] (what `pg_dump` gets on its
//! command line, the password going through its environment instead).
//!
//! Both understand `postgres://user:password@host/db?password=...` URLs, an unencoded `@` in
//! the password (the user information ends at the last `@` before the query, so that an `@`
//! in a query value is not taken for it), `password` and `sslpassword`
//! query parameters, `key=value` connection strings, and anything malformed: they err on the
//! side of hiding too much.

/// Query or connection-string keys whose values are secrets.
const SECRET_KEYS: [&str; 2] = ["password", "sslpassword"];

/// The connection string with every password replaced by `***`.
pub fn redact(url: &str) -> String {
    rewrite(url, Some("***"))
}

/// The connection string with every password removed.
pub(crate) fn without_password(url: &str) -> String {
    rewrite(url, None)
}

fn rewrite(url: &str, mask: Option<&str>) -> String {
    let Some(scheme_end) = url.find("://") else {
        return key_values(url, mask);
    };
    let (head, rest) = url.split_at(scheme_end + 3);
    // The user information ends at the last `@` before the query: a password may hold an
    // unencoded `@` (or `/`, which the client library takes too), and at worst a later `@`
    // in the path hides more than needed, never less. An `@` in the query (`?password=p@ss`)
    // is a value's, which the query's own redaction below hides.
    let query = rest.find('?').unwrap_or(rest.len());
    let (userinfo, after) = match rest[..query].rfind('@') {
        Some(at) => (Some(&rest[..at]), &rest[at..]),
        None => (None, rest),
    };
    let mut out = String::from(head);
    if let Some(userinfo) = userinfo {
        match (userinfo.find(':'), mask) {
            (Some(colon), Some(mask)) => {
                out.push_str(&userinfo[..colon]);
                out.push(':');
                out.push_str(mask);
            }
            (Some(colon), None) => out.push_str(&userinfo[..colon]),
            (None, _) => out.push_str(userinfo),
        }
    }
    match after.find('?') {
        Some(q) => {
            out.push_str(&after[..q]);
            let kept: Vec<String> = after[q + 1..]
                .split('&')
                .filter_map(|pair| {
                    let key = pair.split('=').next().unwrap_or_default();
                    if !is_secret(key) {
                        Some(pair.to_owned())
                    } else {
                        mask.map(|m| format!("{key}={m}"))
                    }
                })
                .collect();
            if !kept.is_empty() {
                out.push('?');
                out.push_str(&kept.join("&"));
            }
        }
        None => out.push_str(after),
    }
    out
}

fn is_secret(key: &str) -> bool {
    let key = key.trim();
    SECRET_KEYS.iter().any(|s| key.eq_ignore_ascii_case(s))
        || SECRET_KEYS
            .iter()
            .any(|s| percent_decoded(key).eq_ignore_ascii_case(s))
}

fn percent_decoded(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(v) = s
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(v);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `host=h password=secret dbname=d` (values may be single-quoted, with `\'` inside).
fn key_values(text: &str, mask: Option<&str>) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < chars.len() {
        // One `key = value` item, or a run of other characters.
        let start = i;
        while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
            i += 1;
        }
        let key: String = chars[start..i].iter().collect();
        let mut j = i;
        while j < chars.len() && chars[j] == ' ' {
            j += 1;
        }
        if key.is_empty() || chars.get(j) != Some(&'=') {
            out.push_str(&key);
            if i < chars.len() && i == start {
                out.push(chars[i]);
                i += 1;
            }
            continue;
        }
        j += 1;
        while j < chars.len() && chars[j] == ' ' {
            j += 1;
        }
        if chars.get(j) == Some(&'\'') {
            j += 1;
            while j < chars.len() && chars[j] != '\'' {
                j += if chars[j] == '\\' { 2 } else { 1 };
            }
            j = (j + 1).min(chars.len());
        } else {
            while j < chars.len() && !chars[j].is_whitespace() {
                j += 1;
            }
        }
        if is_secret(&key) {
            if let Some(mask) = mask {
                out.push_str(&key);
                out.push('=');
                out.push_str(mask);
            }
        } else {
            out.extend(&chars[start..j]);
        }
        i = j;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_hidden_wherever_they_are() {
        let cases = [
            (
                "postgres://u:s3cret@h:5432/db",
                "postgres://u:***@h:5432/db",
            ),
            ("postgres://u:p@ss@h/db", "postgres://u:***@h/db"),
            (
                "postgres://u@h/db?password=s3cret&sslmode=disable",
                "postgres://u@h/db?password=***&sslmode=disable",
            ),
            (
                "postgresql://h/db?sslmode=disable&PassWord=s3cret",
                "postgresql://h/db?sslmode=disable&PassWord=***",
            ),
            (
                "postgres://u@h/db?pass%77ord=s3cret",
                "postgres://u@h/db?pass%77ord=***",
            ),
            ("postgres://u:s3cret@", "postgres://u:***@"),
            (
                "host=h password=s3cret dbname=d",
                "host=h password=*** dbname=d",
            ),
            (
                "host=h password = 's3 cret' dbname=d",
                "host=h password=*** dbname=d",
            ),
            ("postgres://u@h/db", "postgres://u@h/db"),
        ];
        for (url, shown) in cases {
            assert_eq!(redact(url), shown, "{url}");
            assert!(!redact(url).contains("s3"), "{url}");
            assert!(!without_password(url).contains("s3"), "{url}");
        }
        assert_eq!(
            without_password("postgres://u:s3cret@h/db?password=x&a=b"),
            "postgres://u@h/db?a=b"
        );
        assert_eq!(
            without_password("postgres://u@h/db?password=x"),
            "postgres://u@h/db"
        );
    }

    #[test]
    fn an_at_sign_in_the_query_or_the_path_is_no_user_information() {
        let cases = [
            (
                "postgres://u@h/db?password=s3@cret",
                "postgres://u@h/db?password=***",
                "postgres://u@h/db",
            ),
            (
                "postgres://h/db?password=s3@cret",
                "postgres://h/db?password=***",
                "postgres://h/db",
            ),
            (
                "postgres://h/db?application_name=a@b&password=s3@cret",
                "postgres://h/db?application_name=a@b&password=***",
                "postgres://h/db?application_name=a@b",
            ),
            (
                "postgres://u:s3@cret@h/db?sslpassword=s3@cret",
                "postgres://u:***@h/db?sslpassword=***",
                "postgres://u@h/db",
            ),
            // A password holding an unencoded `/` (the client library takes it): hidden.
            (
                "postgres://u:s3/cret@h/db",
                "postgres://u:***@h/db",
                "postgres://u@h/db",
            ),
        ];
        for (url, shown, passed) in cases {
            assert_eq!(redact(url), shown, "{url}");
            assert_eq!(without_password(url), passed, "{url}");
        }
    }

    #[test]
    fn a_config_shows_its_url_redacted() {
        let config = crate::PostgresConfig::new("postgres://u:s3cret@h/db?password=s3@cret");
        let shown = format!("{config:?}");
        assert!(
            shown.contains("postgres://u:***@h/db?password=***"),
            "{shown}"
        );
        assert!(!shown.contains("s3"), "{shown}");
    }
}
