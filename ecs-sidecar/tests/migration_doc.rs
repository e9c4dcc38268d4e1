//! `docs/migration.md`: every `otel-aws-sidecar … --validate` command of the
//! guide's runnable (```` ```sh ````) blocks runs and accepts its config.
//! The guide's `otel-aws` commands are run by
//! `distro/tests/cli_translate.rs`, which also states the block convention.

// Test helpers outside #[test] fns may unwrap too.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::Command;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

#[test]
fn every_sidecar_command_in_the_migration_guide_validates() {
    let text = std::fs::read_to_string(repo().join("docs/migration.md")).unwrap();
    let (mut in_sh, mut ran) = (false, 0);
    for (n, line) in text.lines().enumerate() {
        let trimmed = line.trim();
        if let Some(info) = trimmed.strip_prefix("```") {
            in_sh = !in_sh && info.trim() == "sh";
            continue;
        }
        let words: Vec<&str> = trimmed.split_whitespace().collect();
        let env: Vec<(&str, &str)> = words
            .iter()
            .map_while(|w| {
                w.split_once('=')
                    .filter(|(k, _)| k.chars().all(|c| c.is_ascii_uppercase() || c == '_'))
            })
            .collect();
        let rest = &words[env.len()..];
        if !in_sh || rest.first() != Some(&"otel-aws-sidecar") {
            continue;
        }
        let args: Vec<String> = rest[1..]
            .iter()
            .map(|w| {
                let p = repo().join(w);
                if w.contains('/') && p.exists() {
                    p.display().to_string()
                } else {
                    (*w).to_string()
                }
            })
            .collect();
        assert!(
            args.iter().any(|a| a == "--validate"),
            "line {}: {trimmed}",
            n + 1
        );
        let out = Command::new(env!("CARGO_BIN_EXE_otel-aws-sidecar"))
            .args(&args)
            .env_remove("OTEL_AWS_CONFIG_CONTENT")
            .env("AWS_REGION", "us-east-1")
            .envs(env.iter().copied())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "docs/migration.md:{}: {trimmed}\n{}",
            n + 1,
            String::from_utf8_lossy(&out.stderr)
        );
        ran += 1;
    }
    assert!(
        ran >= 2,
        "only {ran} otel-aws-sidecar commands in the guide"
    );
}
