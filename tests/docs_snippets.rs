//! The configuration snippets of the docs are configurations: every JSON
//! block of docs/providers.md parses and validates as an `S3Config`, every
//! EDN block of the README as a `StoreConfig`.

use konserve_s3::config::{S3Config, StoreConfig};

fn json_blocks(markdown: &str) -> Vec<String> {
    blocks_of(markdown, "json")
}

/// The fenced blocks of `language` in `markdown`.
fn blocks_of(markdown: &str, language: &str) -> Vec<String> {
    let fence = format!("```{language}");
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in markdown.lines() {
        match (&mut current, line.trim_start()) {
            (None, l) if l == fence => current = Some(String::new()),
            (Some(_), "```") => blocks.extend(current.take()),
            (Some(block), _) => {
                block.push_str(line);
                block.push('\n');
            }
            (None, _) => {}
        }
    }
    assert!(current.is_none(), "an unclosed {fence} block");
    blocks
}

#[test]
fn every_provider_snippet_is_a_valid_config() {
    let doc = include_str!("../docs/providers.md");
    let blocks = json_blocks(doc);
    assert!(
        blocks.len() >= 6,
        "expected a snippet per provider, found {}",
        blocks.len()
    );
    for block in blocks {
        let config = S3Config::from_json(&block)
            .unwrap_or_else(|e| panic!("docs/providers.md snippet does not parse: {e}\n{block}"));
        assert!(
            config.id.is_some(),
            "a store snippet names its id:\n{block}"
        );
    }
}

#[test]
fn every_readme_edn_snippet_is_a_valid_store_config() {
    let blocks = blocks_of(include_str!("../README.md"), "edn");
    let backends: Vec<&str> = blocks
        .iter()
        .map(|block| {
            StoreConfig::from_edn(block)
                .unwrap_or_else(|e| panic!("README.md EDN snippet does not parse: {e}\n{block}"))
                .backend()
        })
        .collect();
    assert_eq!(backends, ["s3", "file", "memory"]);
}

/// The README's Rust blocks (fences `rust`, `rust,no_run`, …), each with
/// its fence line.
fn rust_blocks(markdown: &str) -> Vec<(String, String)> {
    let fences: std::collections::BTreeSet<&str> = markdown
        .lines()
        .map(str::trim_start)
        .filter(|l| l.starts_with("```rust"))
        .collect();
    let mut blocks = Vec::new();
    for fence in fences {
        let language = fence.trim_start_matches("```");
        for body in blocks_of(markdown, language) {
            blocks.push((fence.to_owned(), body));
        }
    }
    blocks
}

/// Pasted into `src/main.rs` of a new crate, every README example builds:
/// each is a whole program with no hidden (`# `) lines, and the doctests
/// (src/lib.rs includes the README) compile exactly that text.
#[test]
fn every_readme_rust_block_is_a_whole_program() {
    let blocks = rust_blocks(include_str!("../README.md"));
    assert!(blocks.len() >= 5, "found {} Rust blocks", blocks.len());
    for (fence, body) in blocks {
        assert!(
            !body.lines().any(|l| l.starts_with("# ") || l == "#"),
            "a hidden line in the README block {fence}:\n{body}"
        );
        assert!(
            body.contains("fn main()"),
            "the README block {fence} is not a whole program:\n{body}"
        );
        assert!(
            !body.contains("#[cfg(feature"),
            "the README block {fence} compiles to nothing without a feature:\n{body}"
        );
    }
}

#[test]
fn the_tiered_doc_config_is_a_valid_tiered_config() {
    let blocks = blocks_of(include_str!("../docs/tiered.md"), "edn");
    assert_eq!(blocks.len(), 1);
    let config = StoreConfig::from_edn(&blocks[0])
        .unwrap_or_else(|e| panic!("docs/tiered.md EDN snippet does not parse: {e}"));
    assert_eq!(config.backend(), "tiered");
}
