//! The layer rule, checked on the source text: imports run one way,
//!
//! `aws → endpoint → {web, secrets, membership} → config → policy → {identity, pusher} → {error, support}`
//!
//! `config` is plain data: it sits below `secrets`, whose cache it
//! configures (the endpoint builds the services), and above the plain types
//! it parses into (`identity`'s claim rules and auth mode, `policy`'s rules).
//!
//! A module may name (`crate::…`, in `use` lines, paths and doc links alike)
//! its own layer and any layer to its right, never one to its left nor one
//! of the same rank, and nothing outside `aws/` and `main.rs` names
//! `crate::aws`. `main.rs` wires everything and `lib.rs` only declares the
//! modules, so neither is checked; nor is `explain/`, a module of the binary
//! that reaches the library through its public API only.

use std::path::{Path, PathBuf};

/// Every layer and its rank: a layer may use layers of lower rank.
const LAYERS: &[(&str, u8)] = &[
    ("error", 0),
    ("support", 0),
    ("identity", 1),
    ("pusher", 1),
    ("policy", 2),
    ("config", 3),
    ("secrets", 4),
    ("membership", 4),
    ("web", 4),
    ("endpoint", 5),
    ("aws", 6),
];

fn rank(layer: &str) -> Option<u8> {
    LAYERS.iter().find(|(name, _)| *name == layer).map(|(_, rank)| *rank)
}

/// The layer of a file, from its path under `src/`: its first directory, or
/// its stem for a file directly in `src/`.
fn layer_of(relative: &str) -> &str {
    let first = relative.split('/').next().unwrap_or(relative);
    first.strip_suffix(".rs").unwrap_or(first)
}

/// The first segment of every `crate::` path in `text`, with its line
/// number; grouped imports (`use crate::{a::b, c}`) give each member.
fn references(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let bytes = text.as_bytes();
    let mut from = 0;
    while let Some(found) = text[from..].find("crate::") {
        let start = from + found;
        from = start + "crate::".len();
        // `$crate::` and identifiers ending in `crate` are not this crate's root.
        if start > 0 && (bytes[start - 1].is_ascii_alphanumeric() || matches!(bytes[start - 1], b'_' | b'$')) {
            continue;
        }
        let line = text[..start].matches('\n').count() + 1;
        if bytes.get(from) == Some(&b'{') {
            let mut depth = 0usize;
            let mut item_start = true;
            let mut end = from;
            for (i, c) in text[from..].char_indices() {
                match c {
                    '{' => {
                        depth += 1;
                        item_start = depth == 1;
                    }
                    '}' => {
                        depth -= 1;
                        if depth == 0 {
                            end = from + i;
                            break;
                        }
                    }
                    ',' if depth == 1 => item_start = true,
                    c if depth == 1 && item_start && (c.is_alphanumeric() || c == '_') => {
                        let rest = &text[from + i..];
                        let name: String = rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
                        out.push((line, name));
                        item_start = false;
                    }
                    _ => {}
                }
            }
            from = end.max(from);
        } else {
            let name: String = text[from..].chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
            out.push((line, name));
        }
    }
    out
}

/// Every import in `text` (the file `relative` under `src/`) that breaks the
/// rule, as `<file>:<line>: <layer> may not use crate::<module> (…)`.
fn violations(relative: &str, text: &str) -> Vec<String> {
    let layer = layer_of(relative);
    let Some(own) = rank(layer) else {
        return vec![format!("src/{relative}: is in no layer ({layer}); add it to the layer rule")];
    };
    let mut out = Vec::new();
    for (line, target) in references(text) {
        if target == layer || target.is_empty() {
            continue;
        }
        let problem = match rank(&target) {
            None => format!("crate::{target} is in no layer"),
            Some(theirs) if theirs >= own => {
                format!("layer {layer} (rank {own}) may not use crate::{target} (layer {target}, rank {theirs})")
            }
            Some(_) => continue,
        };
        out.push(format!("src/{relative}:{line}: {problem}"));
    }
    out
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn imports_run_one_way() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files.sort();
    let mut checked = 0;
    let mut broken = Vec::new();
    for path in &files {
        let relative = path.strip_prefix(&src).unwrap().to_string_lossy().replace('\\', "/");
        if relative == "main.rs" || relative == "lib.rs" || relative.starts_with("explain/") {
            continue;
        }
        broken.extend(violations(&relative, &std::fs::read_to_string(path).unwrap()));
        checked += 1;
    }
    assert!(checked > 20, "only {checked} files found under {}", src.display());
    assert!(broken.is_empty(), "imports against the layer rule:\n{}", broken.join("\n"));
}

#[test]
fn the_checker_sees_bad_imports() {
    // Upward, sideways within a rank, into AWS, grouped, and unknown.
    let text = "use crate::error::Refusal;\n\
                use crate::aws::secrets_manager::SecretsManager;\n\
                use crate::{support::json_text, endpoint::Endpoint};\n\
                fn f() { crate::secrets::valid_secret_id(\"a\"); }\n\
                use crate::nowhere::Thing;\n";
    let found = violations("policy.rs", text);
    assert_eq!(found.len(), 4, "{found:#?}");
    assert!(found[0].starts_with("src/policy.rs:2: layer policy (rank 2) may not use crate::aws"), "{found:#?}");
    assert!(found[1].starts_with("src/policy.rs:3: layer policy (rank 2) may not use crate::endpoint"), "{found:#?}");
    assert!(found[2].starts_with("src/policy.rs:4: layer policy (rank 2) may not use crate::secrets"), "{found:#?}");
    assert_eq!(found[3], "src/policy.rs:5: crate::nowhere is in no layer");
    // Downward and within the layer: fine.
    assert!(violations("aws/handler.rs", "use crate::aws::json;\nuse crate::{endpoint::E, error::R};").is_empty());
    assert!(violations("identity/jwt.rs", "use crate::identity::user::User;\n/// [`crate::support::clock`]").is_empty());
    assert_eq!(violations("stray.rs", "").len(), 1, "a file in no layer");
    // `pub(crate)` and `$crate::` are not references.
    assert!(references("pub(crate) fn f() {}\nmacro_rules! m { () => { $crate::aws::x } }").is_empty());
}
