//! The paths git refuses to track: its `verify_path` rules (read-cache.c), with both of the
//! protections it has for file systems that fold names: `core.protectNTFS` (on by default
//! everywhere) and `core.protectHFS` (on by default on macOS; applied here everywhere, since
//! a repository moves between machines).
//!
//! git silently leaves such a path out of the index ("Ignoring path ..."), so a command
//! that wrote one would commit nothing; codedb refuses them before anything changes.
//!
//! Refused: an empty component (`a//b`, a trailing `/`), `.` and `..`, any component that
//! is `.git` in any case; with NTFS protection, `.git` or its short name `git~1` followed
//! only by dots and spaces (`.git.`, `.GIT `, `GIT~1`), or by an NTFS stream name
//! (`.git::$INDEX_ALLOCATION`, `git~1:x`), also after a backslash, which NTFS reads as a
//! separator; with HFS protection, `.git` with code points HFS+ ignores
//! (U+200C..U+200F, U+202A..U+202E, U+206A..U+206F, U+FEFF) anywhere in it.

/// Why git would refuse `path` (relative, `/`-separated), or `None` when it tracks it.
pub(crate) fn git_refuses(path: &str) -> Option<&'static str> {
    if path.is_empty() {
        return Some("an empty path");
    }
    for component in path.split('/') {
        if component.is_empty() {
            return Some("an empty path component (`//` or a trailing `/`)");
        }
        if component == "." || component == ".." {
            return Some("a `.` or `..` component");
        }
        if component.eq_ignore_ascii_case(".git") {
            return Some("a `.git` component (in any case), which git never tracks");
        }
        if is_hfs_dotgit(component) {
            return Some(
                "a name HFS+ reads as `.git` (it ignores some invisible code points), which git refuses",
            );
        }
        // NTFS reads a backslash as a separator: each piece between them counts.
        if component.split('\\').any(is_ntfs_dotgit) {
            return Some(
                "a name NTFS reads as `.git` (`.git` or `git~1` followed by dots or spaces), which git refuses",
            );
        }
    }
    None
}

/// git's `is_ntfs_dotgit` for one name: `.git` or `git~1` (ASCII case-insensitive),
/// followed only by `.` and ` `, up to the end or a `:` (an NTFS stream name:
/// `.git::$INDEX_ALLOCATION`, CVE-2019-1352).
fn is_ntfs_dotgit(name: &str) -> bool {
    let bytes = name.as_bytes();
    let rest = if bytes.len() >= 4 && bytes[0] == b'.' && bytes[1..4].eq_ignore_ascii_case(b"git") {
        &bytes[4..]
    } else if bytes.len() >= 5 && bytes[..3].eq_ignore_ascii_case(b"git") && &bytes[3..5] == b"~1" {
        &bytes[5..]
    } else {
        return false;
    };
    let end = rest.iter().position(|b| *b == b':').unwrap_or(rest.len());
    rest[..end].iter().all(|b| *b == b'.' || *b == b' ')
}

/// git's `is_hfs_dotgit`: the name is `.git` (ASCII case-insensitive) once the code points
/// HFS+ ignores are removed.
fn is_hfs_dotgit(name: &str) -> bool {
    let mut folded = name.chars().filter(|c| !hfs_ignorable(*c));
    let expected = ['.', 'g', 'i', 't'];
    expected
        .iter()
        .all(|e| folded.next().is_some_and(|c| c.to_ascii_lowercase() == *e))
        && folded.next().is_none()
}

/// The code points HFS+ ignores in names (git's `next_hfs_char`).
fn hfs_ignorable(c: char) -> bool {
    matches!(c,
        '\u{200c}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{206a}'..='\u{206f}' | '\u{feff}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_what_git_refuses() {
        for p in [
            ".git/x.py",
            ".GIT/x.py",
            ".Git/x.py",
            ".git./x.py",
            ".git /x.py",
            ".git. . /x.py",
            "GIT~1/x.py",
            "git~1/x.py",
            "x/.GiT/y.py",
            "x/.git",
            "a//b.py",
            "a/",
            "./a.py",
            "a/../b.py",
            ".g\u{200c}it/x.py",
            "\u{feff}.git/x.py",
            "x\\.git\\y.py",
            "x\\git~1/y.py",
            "git~1:z/y.py",
            ".git:x/y.py",
            ".git::$INDEX_ALLOCATION/y.py",
            ".GIT::$DATA/y.py",
            ".git. :x/y.py",
        ] {
            assert!(git_refuses(p).is_some(), "{p:?} should be refused");
        }
    }

    #[test]
    fn accepts_what_git_tracks() {
        for p in [
            "a.py",
            ".gitignore",
            ".github/x.py",
            ".gitx/y.py",
            "git/x.py",
            "git~2/x.py",
            "x.git/y.py",
            ".git.py",
            "é/ü.py",
            "a b/c d.py",
            "...py",
            ".git~1/x.py",
            ".gitx:y/z.py",
            "a:b.py",
        ] {
            assert_eq!(git_refuses(p), None, "{p:?} should be accepted");
        }
    }
}
