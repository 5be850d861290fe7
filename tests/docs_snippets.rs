//! The configuration snippets of the docs are configurations: every JSON
//! block of docs/providers.md parses and validates as an `S3Config`.

use konserve_s3::config::S3Config;

fn json_blocks(markdown: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in markdown.lines() {
        match (&mut current, line.trim_start()) {
            (None, "```json") => current = Some(String::new()),
            (Some(_), "```") => blocks.extend(current.take()),
            (Some(block), _) => {
                block.push_str(line);
                block.push('\n');
            }
            (None, _) => {}
        }
    }
    assert!(current.is_none(), "an unclosed ```json block");
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
