//! Each language's cases, as data: `test_data/cases.EXT` is parsed and what it yields
//! (definitions with their kind, qualified name, lines and class; imports; issues) must
//! equal `test_data/cases.EXT.expected`. `UPDATE_EXPECT=1 cargo test` rewrites the expected
//! files, to be read and checked by a person before they are committed.

use std::fmt::Write as _;
use std::path::Path;

use super::{LANGUAGES, detect, parse, refine};

fn render(path: &Path) -> String {
    let source = std::fs::read(path).unwrap();
    let lang = refine(detect(path).unwrap(), path, &source);
    let parsed = parse(lang, &source);
    let mut out = format!("language {}\n", lang.name);
    for e in &parsed.entities {
        let parent = e
            .parent
            .map(|p| format!(" in {}", parsed.entities[p].qualified_name))
            .unwrap_or_default();
        let doc = e
            .docstring
            .as_deref()
            .map(|d| format!(" doc {d:?}"))
            .unwrap_or_default();
        writeln!(
            out,
            "{} {} {}-{}{parent}{doc}",
            e.kind.as_str(),
            e.qualified_name,
            e.start_line,
            e.end_line
        )
        .unwrap();
    }
    for i in &parsed.imports {
        writeln!(
            out,
            "import {} {}",
            i.module.as_deref().unwrap_or("?"),
            i.line
        )
        .unwrap();
    }
    for i in &parsed.issues {
        writeln!(out, "issue {}:{} {}", i.line, i.column, i.message).unwrap();
    }
    out
}

#[test]
fn every_case_file_yields_what_its_expected_file_says() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/lang/test_data");
    let mut checked = 0;
    let mut failures = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "expected") {
            continue;
        }
        let got = render(&path);
        let expected_path = path.with_file_name(format!(
            "{}.expected",
            path.file_name().unwrap().to_string_lossy()
        ));
        if std::env::var_os("UPDATE_EXPECT").is_some() {
            std::fs::write(&expected_path, &got).unwrap();
        }
        let expected = std::fs::read_to_string(&expected_path).unwrap_or_default();
        if got != expected {
            failures.push(format!(
                "{}:\n--- expected\n{expected}--- got\n{got}",
                path.display()
            ));
        }
        checked += 1;
    }
    assert!(checked >= 8, "only {checked} case files");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn every_query_compiles_against_its_grammar() {
    for spec in [
        &super::ecmascript::JAVASCRIPT,
        &super::ecmascript::TYPESCRIPT,
        &super::ecmascript::TSX,
        &super::go::GO,
        &super::java::JAVA,
        &super::clike::C,
        &super::clike::CPP,
    ] {
        if let Err(e) = spec.compiled() {
            panic!("{e}");
        }
    }
    assert_eq!(LANGUAGES.len(), 9);
}

#[test]
fn a_header_is_cpp_only_when_its_text_is() {
    let h = Path::new("x.h");
    let c = detect(h).unwrap();
    assert_eq!(c.name, "c");
    for (text, lang) in [
        (
            "int f(void);\n#ifdef __cplusplus\nextern \"C\" {\n#endif\n",
            "c",
        ),
        ("struct S { int class_; };\n", "c"),
        ("namespace ns { int f(); }\n", "cpp"),
        ("  template <class T> T id(T t);\n", "cpp"),
        ("class Foo;\n", "cpp"),
        ("#include <vector>\n", "cpp"),
        ("#include <stdio.h>\n", "c"),
        ("struct S {\npublic:\n int x;\n};\n", "cpp"),
    ] {
        assert_eq!(refine(c, h, text.as_bytes()).name, lang, "{text:?}");
    }
    assert_eq!(
        refine(c, Path::new("x.c"), b"namespace x {}").name,
        "c",
        "only a header is looked at"
    );
}

/// Hostile input never panics: empty files, deep nesting, one huge minified line, text
/// of another language, random bytes as text; a file that is not what its extension says
/// yields issues, not a failure.
#[test]
fn hostile_input_yields_issues_never_a_panic() {
    let deep_braces = format!("{}{}", "{".repeat(3_000), "}".repeat(3_000));
    let deep_parens = format!("x = {}1{};", "(".repeat(3_000), ")".repeat(3_000));
    let minified = "function a(b){return b+1}var c=a(2);".repeat(3_000);
    let python = "def f(x):\n    return [i for i in x if i]\n".repeat(100);
    let noise: String = (0..20_000u32)
        .map(|i| char::from_u32(0x20 + (i * 7919) % 0x5f).unwrap_or(' '))
        .collect();
    for lang in LANGUAGES {
        for source in [
            "",
            "\u{feff}",
            deep_braces.as_str(),
            deep_parens.as_str(),
            minified.as_str(),
            python.as_str(),
            noise.as_str(),
        ] {
            let parsed = parse(lang, source.as_bytes());
            assert!(
                parsed.issues.len() <= 50,
                "{}: {}",
                lang.name,
                parsed.issues.len()
            );
        }
        let not_it = parse(lang, noise.as_bytes());
        assert!(
            !not_it.issues.is_empty(),
            "{}: noise parses cleanly",
            lang.name
        );
    }
}
