//! The suite's secret search (runs last: cargo runs a crate's test
//! binaries in name order). Every test namespace left its pods (specs and
//! statuses), container logs, events, ActionSets, Blueprints and Profiles,
//! and its Secrets' values, in the evidence directory
//! (`kapsel_e2e::evidence`); tests added their controllers' logs. No
//! Secret value of any test may appear in any of it. The evidence is
//! removed after a clean search, so the next run starts empty.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use kapsel_e2e::{evidence, skip};

#[test]
fn no_secret_value_in_any_pod_log_event_or_status_of_the_suite() {
    let dir = evidence::dir();
    let secrets: Vec<String> = std::fs::read_to_string(dir.join("secrets.jsonl"))
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect::<std::collections::BTreeSet<String>>()
        .into_iter()
        .collect();
    let mut texts: Vec<(String, String)> = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "jsonl") && !path.ends_with("secrets.jsonl") {
            for line in std::fs::read_to_string(&path).unwrap().lines() {
                let v: serde_json::Value = serde_json::from_str(line).unwrap();
                texts.push((
                    format!(
                        "{} in namespace {}",
                        v["what"].as_str().unwrap(),
                        v["ns"].as_str().unwrap()
                    ),
                    v["text"].as_str().unwrap().to_string(),
                ));
            }
        }
    }
    for entry in std::fs::read_dir(dir.join("texts")).unwrap() {
        let path = entry.unwrap().path();
        texts.push((
            path.display().to_string(),
            std::fs::read_to_string(&path).unwrap_or_default(),
        ));
    }
    if texts.is_empty() {
        assert!(
            !kapsel_e2e::required(),
            "KAPSEL_E2E=1 but no test left evidence in {}",
            dir.display()
        );
        skip(
            "no-secrets",
            "no end-to-end test ran (no evidence to search)",
        );
        return;
    }
    assert!(
        !secrets.is_empty(),
        "tests left evidence but no Secret value to search for"
    );
    let mut leaks = Vec::new();
    for (what, text) in &texts {
        for s in &secrets {
            if text.contains(s.as_str()) {
                let at = text.find(s.as_str()).unwrap();
                let from = text[..at]
                    .char_indices()
                    .rev()
                    .nth(80)
                    .map_or(0, |(i, _)| i);
                leaks.push(format!("{what}: …{}…", &text[from..at]));
            }
        }
    }
    let bytes: usize = texts.iter().map(|(_, t)| t.len()).sum();
    eprintln!(
        "searched {} texts ({bytes} bytes) for {} secret values: {} found",
        texts.len(),
        secrets.len(),
        leaks.len()
    );
    assert!(
        leaks.is_empty(),
        "secret values found (the text before each):\n{}",
        leaks.join("\n")
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
