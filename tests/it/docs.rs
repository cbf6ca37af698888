//! The docs cannot drift: every relative link resolves, no page names work
//! items by number, every shell block is either run here (`<!-- run -->`,
//! with its output compared to the `text` block after it when there is one)
//! or says why not (`<!-- not run: … -->`), and the configuration table lists
//! exactly the variables the parser reads.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// README.md and every page under docs/.
fn pages() -> Vec<PathBuf> {
    let mut pages = vec![Path::new(ROOT).join("README.md")];
    let mut docs: Vec<PathBuf> = std::fs::read_dir(Path::new(ROOT).join("docs"))
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "md"))
        .collect();
    docs.sort();
    pages.extend(docs);
    pages
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap()
}

/// GitHub's anchor for a heading: lower case, punctuation but `-` and `_` dropped, spaces to `-`.
fn anchor(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
            _ => None,
        })
        .collect()
}

/// The anchors of a page's headings (outside code blocks).
fn anchors(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut in_code = false;
    for line in text.lines() {
        if line.starts_with("```") {
            in_code = !in_code;
        } else if !in_code && line.starts_with('#') {
            out.insert(anchor(line.trim_start_matches('#')));
        }
    }
    out
}

/// The Markdown links `[text](target)` of a page, outside code blocks and code spans.
fn links(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut in_code = false;
    for line in text.lines() {
        if line.starts_with("```") {
            in_code = !in_code;
            continue;
        }
        if in_code {
            continue;
        }
        // Drop code spans, where `](` may be code.
        let prose: String = line.split('`').step_by(2).collect::<Vec<_>>().join(" ");
        let mut rest = prose.as_str();
        while let Some(at) = rest.find("](") {
            let after = &rest[at + 2..];
            let Some(end) = after.find(')') else { break };
            out.push(after[..end].to_owned());
            rest = &after[end..];
        }
    }
    out
}

#[test]
fn every_relative_link_resolves() {
    let mut broken = Vec::new();
    for page in pages() {
        let text = read(&page);
        for target in links(&text) {
            if target.starts_with("http://") || target.starts_with("https://") || target.starts_with("mailto:") {
                continue;
            }
            let (file, fragment) = target.split_once('#').unwrap_or((&target, ""));
            let path = if file.is_empty() { page.clone() } else { page.parent().unwrap().join(file) };
            if !path.exists() {
                broken.push(format!("{}: {target} (no such file)", page.display()));
                continue;
            }
            if !fragment.is_empty()
                && path.extension().is_some_and(|x| x == "md")
                && !anchors(&read(&path)).contains(fragment)
            {
                broken.push(format!("{}: {target} (no such heading)", page.display()));
            }
        }
    }
    assert!(broken.is_empty(), "broken links:\n{}", broken.join("\n"));
}

#[test]
fn no_page_names_work_items_by_number() {
    for page in pages() {
        for (n, line) in read(&page).lines().enumerate() {
            let lower = line.to_lowercase();
            for word in ["issue ", "issues ", "item ", "task "] {
                if let Some(at) = lower.find(word) {
                    let next = lower[at + word.len()..].trim_start_matches('#');
                    assert!(!next.starts_with(|c: char| c.is_ascii_digit()), "{}:{}: {line}", page.display(), n + 1);
                }
            }
        }
    }
}

/// The shell blocks of a page: (the marker line before it, the block, the
/// `text` block that follows it, if any).
fn shell_blocks(text: &str) -> Vec<(String, String, Option<String>)> {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        if lines[i].starts_with("```") && matches!(lines[i].trim(), "```sh" | "```bash" | "```shell") {
            let marker = lines[..i].iter().rev().find(|l| !l.trim().is_empty()).copied().unwrap_or("").to_owned();
            let end = i + 1 + lines[i + 1..].iter().position(|l| l.starts_with("```")).unwrap();
            let block = lines[i + 1..end].join("\n");
            let mut j = end + 1;
            while j < lines.len() && lines[j].trim().is_empty() {
                j += 1;
            }
            let output = (j < lines.len() && lines[j].trim() == "```text").then(|| {
                let close = j + 1 + lines[j + 1..].iter().position(|l| l.starts_with("```")).unwrap();
                lines[j + 1..close].join("\n")
            });
            out.push((marker, block, output));
            i = end + 1;
        } else {
            i += 1;
        }
    }
    out
}

#[test]
fn every_shell_block_is_run_or_says_why_not() {
    let binary = env!("CARGO_BIN_EXE_pusher-auth");
    let mut problems = Vec::new();
    for page in pages() {
        for (marker, block, output) in shell_blocks(&read(&page)) {
            let marker = marker.trim();
            if marker.starts_with("<!-- not run:") && marker.ends_with("-->") {
                continue;
            }
            if marker != "<!-- run -->" {
                problems.push(format!(
                    "{}: a shell block without <!-- run --> or <!-- not run: why -->:\n{block}",
                    page.display()
                ));
                continue;
            }
            // The block as a reader runs it from a clone, with the built binary for `cargo run`.
            let script = block.replace("cargo run --quiet --bin pusher-auth --", binary);
            let out = Command::new("bash")
                .arg("-c")
                .arg(&script)
                .current_dir(ROOT)
                .env_clear()
                .env("PATH", std::env::var("PATH").unwrap())
                .env("HOME", std::env::var("HOME").unwrap())
                .output()
                .unwrap();
            let stdout = String::from_utf8_lossy(&out.stdout);
            match output {
                Some(expected) if stdout.trim_end() != expected.trim_end() => {
                    problems
                        .push(format!("{}: `{block}` printed:\n{stdout}\nthe page shows:\n{expected}", page.display()));
                }
                None if !out.status.success() => {
                    problems.push(format!(
                        "{}: `{block}` failed: {}",
                        page.display(),
                        String::from_utf8_lossy(&out.stderr)
                    ));
                }
                _ => {}
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n\n"));
}

#[test]
fn the_configuration_table_lists_what_the_parser_reads() {
    // Every variable the parser asks for, across the modes and sources it reads in.
    let asked = Mutex::new(BTreeSet::new());
    let configurations: [&[(&str, &str)]; 4] = [
        &[("AUTH_MODE", "demo"), ("PUSHER_KEY", "k"), ("PUSHER_SECRET", "s")],
        &[
            ("AUTH_MODE", "jwt"),
            ("PUSHER_KEY", "k"),
            ("PUSHER_SECRET_ID", "pusher/app"),
            ("AWS_REGION", "eu-west-1"),
            ("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE"),
            ("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"),
            ("JWT_ALGORITHMS", "RS256,HS256"),
            ("JWT_JWKS_URL", "https://example.com/jwks"),
            ("JWT_SECRET", "0123456789abcdef0123456789abcdef-x"),
            ("JWT_ISSUER", "https://issuer.example"),
            ("JWT_AUDIENCE", "client"),
            ("METRICS", "on"),
        ],
        &[
            ("AUTH_MODE", "jwt"),
            ("PUSHER_KEY", "k"),
            ("PUSHER_SECRET", "s"),
            ("JWT_ALGORITHMS", "RS256"),
            ("JWT_JWKS", "{\"keys\":[]}"),
        ],
        &[("AUTH_MODE", "authorizer"), ("PUSHER_KEY", "k"), ("PUSHER_SECRET", "s")],
    ];
    for vars in configurations {
        let lookup = |name: &str| {
            asked.lock().unwrap().insert(name.to_owned());
            vars.iter().find(|(k, _)| *k == name).map(|(_, v)| v.to_string())
        };
        let _ = pusher_auth_lambda::Settings::from_lookup(lookup);
        let _ = pusher_auth_lambda::store_from_lookup(&lookup);
    }
    // Read outside the parser: the log level (logging) and Managed Instances' concurrency (main).
    let mut read: BTreeSet<String> = asked.into_inner().unwrap();
    read.extend(["AWS_LAMBDA_LOG_LEVEL", "LOG_LEVEL", "AWS_LAMBDA_MAX_CONCURRENCY"].map(String::from));
    let page = read_page("configuration.md");
    let start = page.find("| variable |").unwrap();
    let table = &page[start..page[start..].find("\n\n").map_or(page.len(), |end| start + end)];
    let mut listed = BTreeSet::new();
    for row in table.lines().skip(2) {
        let first = row.trim_matches('|').split(" | ").next().unwrap();
        for name in first.split('`').skip(1).step_by(2) {
            listed.insert(name.to_owned());
        }
    }
    let missing: Vec<_> = read.difference(&listed).collect();
    let extra: Vec<_> = listed.difference(&read).collect();
    assert!(missing.is_empty() && extra.is_empty(), "read but not listed: {missing:?}; listed but not read: {extra:?}");
}

fn read_page(name: &str) -> String {
    read(&Path::new(ROOT).join("docs").join(name))
}
