//! The house rules, checked on the source: data flows one way, so no module imports one that
//! imports it back, and no file in `src/` grows past the size a reader can hold.
//!
//! The import graph is read from the text (`crate::…` and `super::…` paths, including `use`
//! groups), which is what a reader sees; `#[cfg(test)]` modules are left out because tests may
//! reach anywhere. Two levels are checked: the top-level modules (`dialogue`, `store`, …) and,
//! inside each module, its children (`engine::index` vs `engine::model`). A child using what its
//! own parent defines is not a circle: that is what a parent is for.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Files allowed past the line limit, each with the reason a reader gets.
const LONG_FILES: &[(&str, &str)] = &[];
const MAX_LINES: usize = 700;

struct Module {
    path: Vec<String>,
    file: PathBuf,
    text: String,
}

fn modules() -> Vec<Module> {
    let mut out = Vec::new();
    walk(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("src").as_path(),
        &mut out,
    );
    out
}

fn walk(dir: &Path, out: &mut Vec<Module>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("directory entry").path())
        .collect();
    entries.sort();
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    for path in entries {
        if path.is_dir() {
            walk(&path, out);
            continue;
        }
        if path.extension().and_then(|e| e.to_str()) != Some("rs") {
            continue;
        }
        let rel = path.strip_prefix(&src).expect("under src");
        let mut parts: Vec<String> = rel
            .iter()
            .map(|p| p.to_string_lossy().trim_end_matches(".rs").to_string())
            .collect();
        match parts.last().map(String::as_str) {
            Some("mod") | Some("lib") => {
                parts.pop();
            }
            // The binary is wiring; it may use anything and nothing uses it.
            Some("main") if parts.len() == 1 => continue,
            _ => {}
        }
        if parts.iter().any(|p| p == "tests") {
            continue;
        }
        let text = std::fs::read_to_string(&path).expect("read source");
        out.push(Module {
            path: parts,
            file: path,
            text: without_test_modules(&text),
        });
    }
}

/// Cuts every `#[cfg(test)]` item that is a module, body included.
fn without_test_modules(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find("#[cfg(test)]") {
        out.push_str(&rest[..at]);
        let after = &rest[at + "#[cfg(test)]".len()..];
        let trimmed = after.trim_start();
        if !trimmed.starts_with("mod ") && !trimmed.starts_with("pub mod ") {
            out.push_str("#[cfg(test)]");
            rest = after;
            continue;
        }
        // `mod tests;` ends at the semicolon; `mod tests { … }` at its matching brace.
        let semi = trimmed.find(';');
        let brace = trimmed.find('{');
        let skip_to = match (semi, brace) {
            (Some(s), Some(b)) if s < b => s + 1,
            (Some(s), None) => s + 1,
            (_, Some(b)) => {
                let mut depth = 0usize;
                let mut end = trimmed.len();
                for (i, c) in trimmed[b..].char_indices() {
                    match c {
                        '{' => depth += 1,
                        '}' => {
                            depth -= 1;
                            if depth == 0 {
                                end = b + i + 1;
                                break;
                            }
                        }
                        _ => {}
                    }
                }
                end
            }
            (None, None) => trimmed.len(),
        };
        rest = &trimmed[skip_to..];
    }
    out.push_str(rest);
    out
}

/// Every path written after `crate::` or `super::`, with `use` groups expanded, as absolute
/// module paths, each with the line it is on.
fn paths_in(module: &Module) -> Vec<(Vec<String>, usize)> {
    let mut out = Vec::new();
    let text = &module.text;
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        // Bytes, not `str` slices: a comment's dash or arrow is not a char boundary.
        let (base, len) = if bytes[i..].starts_with(b"crate::") && boundary(bytes, i) {
            (Vec::new(), "crate::".len())
        } else if bytes[i..].starts_with(b"super::") && boundary(bytes, i) {
            // Count a chain of `super::super::`.
            let mut base = module.path.clone();
            let mut j = i;
            while bytes[j..].starts_with(b"super::") {
                base.pop();
                j += "super::".len();
            }
            (base, j - i)
        } else {
            i += 1;
            continue;
        };
        let line = bytes[..i].iter().filter(|&&b| b == b'\n').count() + 1;
        let mut found = Vec::new();
        let end = parse_tree(text, i + len, base, &mut found);
        out.extend(found.into_iter().map(|p| (p, line)));
        i = end.max(i + 1);
    }
    out
}

fn boundary(bytes: &[u8], i: usize) -> bool {
    i == 0
        || !(bytes[i - 1].is_ascii_alphanumeric() || bytes[i - 1] == b'_' || bytes[i - 1] == b':')
}

/// Parses `a::b::{c, d::e}` starting at `at`; pushes each full path; returns where it stopped.
fn parse_tree(text: &str, mut at: usize, prefix: Vec<String>, out: &mut Vec<Vec<String>>) -> usize {
    let bytes = text.as_bytes();
    let mut path = prefix;
    loop {
        while at < bytes.len() && bytes[at].is_ascii_whitespace() {
            at += 1;
        }
        if at < bytes.len() && bytes[at] == b'{' {
            at += 1;
            loop {
                at = parse_tree(text, at, path.clone(), out);
                while at < bytes.len() && bytes[at].is_ascii_whitespace() {
                    at += 1;
                }
                match bytes.get(at) {
                    Some(b',') => at += 1,
                    Some(b'}') => return at + 1,
                    _ => return at,
                }
                while at < bytes.len() && bytes[at].is_ascii_whitespace() {
                    at += 1;
                }
                if bytes.get(at) == Some(&b'}') {
                    return at + 1;
                }
            }
        }
        let start = at;
        while at < bytes.len() && (bytes[at].is_ascii_alphanumeric() || bytes[at] == b'_') {
            at += 1;
        }
        if start == at {
            out.push(path);
            return at;
        }
        path.push(text[start..at].to_string());
        if bytes[at..].starts_with(b"::") {
            at += 2;
        } else {
            out.push(path);
            return at;
        }
    }
}

/// The longest prefix of `path` that names a module we have.
fn resolve(path: &[String], known: &BTreeSet<Vec<String>>) -> Option<Vec<String>> {
    (1..=path.len())
        .rev()
        .map(|n| path[..n].to_vec())
        .find(|p| known.contains(p))
}

type Edges = BTreeMap<String, BTreeMap<String, String>>;

/// Strongly connected components of size > 1 (Tarjan would do; the graphs are tiny, so
/// reachability both ways is clearer).
fn circles(edges: &Edges) -> Vec<Vec<String>> {
    let nodes: BTreeSet<&String> = edges
        .iter()
        .flat_map(|(a, bs)| std::iter::once(a).chain(bs.keys()))
        .collect();
    let reach = |from: &String| {
        let mut seen = BTreeSet::new();
        let mut stack = vec![from.clone()];
        while let Some(n) = stack.pop() {
            for next in edges.get(&n).into_iter().flat_map(|m| m.keys()) {
                if seen.insert(next.clone()) {
                    stack.push(next.clone());
                }
            }
        }
        seen
    };
    let reachable: BTreeMap<&String, BTreeSet<String>> =
        nodes.iter().map(|n| (*n, reach(n))).collect();
    let mut done = BTreeSet::new();
    let mut out = Vec::new();
    for n in &nodes {
        if done.contains(*n) || !reachable[n].contains(*n) {
            continue;
        }
        let group: Vec<String> = nodes
            .iter()
            .filter(|m| reachable[n].contains(**m) && reachable[*m].contains(*n))
            .map(|m| (*m).clone())
            .collect();
        done.extend(group.iter().cloned());
        out.push(group);
    }
    out
}

fn explain(group: &[String], edges: &Edges) -> String {
    let mut lines = vec![format!("  circle: {}", group.join(", "))];
    for a in group {
        for (b, at) in edges.get(a).into_iter().flatten() {
            if group.contains(b) {
                lines.push(format!("    {a} -> {b}   ({at})"));
            }
        }
    }
    lines.join("\n")
}

fn import_graph() -> (Edges, BTreeMap<String, Edges>) {
    let modules = modules();
    let known: BTreeSet<Vec<String>> = modules.iter().map(|m| m.path.clone()).collect();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut top = Edges::new();
    let mut inner: BTreeMap<String, Edges> = BTreeMap::new();
    for m in &modules {
        if m.path.is_empty() {
            continue;
        }
        let file = m
            .file
            .strip_prefix(root)
            .unwrap_or(&m.file)
            .display()
            .to_string();
        for (path, line) in paths_in(m) {
            let Some(target) = resolve(&path, &known) else {
                continue;
            };
            if target.is_empty() {
                continue;
            }
            let at = format!("{file}:{line}");
            if target[0] != m.path[0] {
                top.entry(m.path[0].clone())
                    .or_default()
                    .entry(target[0].clone())
                    .or_insert(at.clone());
                continue;
            }
            // Inside one top-level module: compare the two paths at the first place they part;
            // a module using its own ancestor is not an edge.
            let common = m
                .path
                .iter()
                .zip(&target)
                .take_while(|(a, b)| a == b)
                .count();
            if common >= m.path.len() || common >= target.len() {
                continue;
            }
            let parent = m.path[..common].join("::");
            inner
                .entry(parent)
                .or_default()
                .entry(m.path[common].clone())
                .or_default()
                .entry(target[common].clone())
                .or_insert(at);
        }
    }
    (top, inner)
}

#[test]
fn no_module_imports_one_that_imports_it_back() {
    let (top, inner) = import_graph();
    assert!(top.contains_key("dialogue"), "the graph was read: {top:?}");
    let mut report = Vec::new();
    for group in circles(&top) {
        report.push(format!("top level\n{}", explain(&group, &top)));
    }
    for (parent, edges) in &inner {
        for group in circles(edges) {
            report.push(format!("inside {parent}\n{}", explain(&group, edges)));
        }
    }
    assert!(
        report.is_empty(),
        "import circles (each edge names one place it is made):\n{}",
        report.join("\n")
    );
}

#[test]
fn no_file_in_src_is_longer_than_a_reader_can_hold() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut long = Vec::new();
    let mut all = Vec::new();
    collect_rs(&root.join("src"), &mut all);
    for file in all {
        let rel = file
            .strip_prefix(root)
            .expect("under root")
            .display()
            .to_string();
        let lines = std::fs::read_to_string(&file)
            .expect("read")
            .lines()
            .count();
        let allowed = LONG_FILES.iter().any(|(f, _)| *f == rel);
        if lines > MAX_LINES && !allowed {
            long.push(format!("{rel}: {lines} lines"));
        }
    }
    assert!(
        long.is_empty(),
        "files over {MAX_LINES} lines (split them, or add them to LONG_FILES with the reason):\n{}",
        long.join("\n")
    );
}

#[test]
fn the_binary_is_wiring_only() {
    let main = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/main.rs");
    let lines = std::fs::read_to_string(&main)
        .expect("read main.rs")
        .lines()
        .count();
    assert!(
        lines <= 150,
        "src/main.rs has {lines} lines; commands live in src/cli/"
    );
}

fn collect_rs(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read dir") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            collect_rs(&path, out);
        } else if path.extension().and_then(|e| e.to_str()) == Some("rs") {
            out.push(path);
        }
    }
}

#[test]
fn the_reader_of_imports_sees_groups_and_supers() {
    let m = Module {
        path: vec!["a".into(), "b".into()],
        file: PathBuf::from("src/a/b.rs"),
        text: "use crate::{x::{y, z::W}, q}; // – é\nuse super::c::D;\nfn f() { crate::k::f() }\n\
               #[cfg(test)]\nmod tests { use crate::never; }\n"
            .into(),
    };
    let m = Module {
        text: without_test_modules(&m.text),
        ..m
    };
    let paths: Vec<String> = paths_in(&m)
        .into_iter()
        .map(|(p, _)| p.join("::"))
        .collect();
    assert_eq!(paths, ["x::y", "x::z::W", "q", "a::c::D", "k::f"]);
}
