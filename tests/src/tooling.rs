//! The Python and Node.js installs the end-to-end tests drive (real SDKs as
//! clients), found the same way by every test: an explicit variable, else
//! the project-local install `make test-deps` made (`.tools/venv`,
//! `.tools/node-e2e/node_modules`). What happens when one is missing is the
//! caller's [`Need`]: a test may skip with a loud message on a developer
//! machine, never under `CI=true` or when the variable names an install.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Variable naming the Python interpreter (a venv with the test packages).
pub const TEST_PYTHON: &str = "OTEL_AWS_TEST_PYTHON";
/// Variable naming a `node_modules` folder with the Node.js test packages.
pub const TEST_NODE_MODULES: &str = "OTEL_AWS_TEST_NODE_MODULES";

/// What a test does when its interpreter or packages are missing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Need {
    /// Always fail (the test has no meaning without them).
    Required,
    /// Skip with a `SKIPPED <test>:` line outside CI when nothing was named;
    /// fail under `CI=true` or when the variable names an install.
    SkipOutsideCi,
}

/// True under `CI=true`.
pub fn ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v.trim().eq_ignore_ascii_case("true"))
}

fn named(var: &str) -> Option<PathBuf> {
    std::env::var(var)
        .ok()
        .filter(|p| !p.trim().is_empty())
        .map(PathBuf::from)
}

/// `.tools/<rel>` at the repository root.
fn tools(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../.tools")
        .join(rel)
}

/// Fails (`strict`) or prints the skip line and gives `None`.
fn missing<T>(strict: bool, test: &str, why: &str, hint: &str) -> Option<T> {
    assert!(!strict, "{test} cannot run: {why}: {hint}");
    eprintln!("SKIPPED {test}: {why}; {hint}");
    None
}

/// The Python interpreter that can `import_check` (a `python -c` program,
/// e.g. `import flask, requests`), for `test`; `hint` says how to install.
pub fn python(test: &str, import_check: &str, hint: &str, need: Need) -> Option<PathBuf> {
    let explicit = named(TEST_PYTHON);
    let strict = need == Need::Required || explicit.is_some() || ci();
    let venv = tools("venv/bin/python3");
    let python = match explicit {
        Some(p) => p,
        None if venv.exists() => venv,
        None => {
            return missing(
                strict,
                test,
                &format!("{TEST_PYTHON} is unset and .tools/venv is missing"),
                hint,
            );
        }
    };
    let check = Command::new(&python).args(["-c", import_check]).output();
    if check.as_ref().is_ok_and(|o| o.status.success()) {
        return Some(python);
    }
    let why = match &check {
        Ok(o) => String::from_utf8_lossy(&o.stderr).into_owned(),
        Err(e) => e.to_string(),
    };
    missing(
        strict,
        test,
        &format!("{} cannot import the packages ({why})", python.display()),
        hint,
    )
}

/// The `node_modules` folder holding every package of `packages` (with
/// `node` on `PATH`), for `test`; `hint` says how to install.
pub fn node_modules(test: &str, packages: &[&str], hint: &str, need: Need) -> Option<PathBuf> {
    let explicit = named(TEST_NODE_MODULES);
    let strict = need == Need::Required || explicit.is_some() || ci();
    let modules = explicit.unwrap_or_else(|| tools("node-e2e/node_modules"));
    let has_node = Command::new("node")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    let absent: Vec<&str> = packages
        .iter()
        .copied()
        .filter(|m| !modules.join(m).join("package.json").exists())
        .collect();
    if has_node && absent.is_empty() {
        return Some(modules);
    }
    let why = if has_node {
        format!("{} lacks {absent:?}", modules.display())
    } else {
        "no `node` on PATH".to_string()
    };
    missing(strict, test, &why, hint)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_install_skips_or_fails_by_need() {
        assert_eq!(missing::<()>(false, "t", "gone", "install it"), None);
        let failed = std::panic::catch_unwind(|| missing::<()>(true, "t", "gone", "install it"));
        assert!(failed.is_err());
    }
}
