//! The crate's modules import one way: model <- checkpoint/cpu <- mtcnn <- face <- eval/train <-
//! app/cli, and no two files reach into each other. Read off the source: every `crate::` and
//! `super::` path names the module (file) it uses.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use regex::Regex;

/// Module path (`app::state`) -> source text without line comments.
fn modules() -> BTreeMap<String, String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut modules = BTreeMap::new();
    for entry in walkdir::WalkDir::new(&root) {
        let entry = entry.unwrap();
        let path = entry.path();
        if path.extension().is_none_or(|e| e != "rs") {
            continue;
        }
        let relative = path.strip_prefix(&root).unwrap().with_extension("");
        let mut parts: Vec<String> = relative.iter().map(|p| p.to_string_lossy().into_owned()).collect();
        if parts.last().is_some_and(|p| p == "mod" || p == "lib" || p == "main") {
            parts.pop();
        }
        let text = std::fs::read_to_string(path).unwrap();
        let code: String = text.lines().map(|l| l.split("//").next().unwrap_or("")).collect::<Vec<_>>().join("\n");
        modules.insert(parts.join("::"), code);
    }
    modules
}

/// The longest module that `path` starts with.
fn resolve(path: &str, modules: &BTreeMap<String, String>) -> Option<String> {
    let segments: Vec<&str> = path.split("::").filter(|s| !s.is_empty()).collect();
    (1..=segments.len()).rev().map(|n| segments[..n].join("::")).find(|m| modules.contains_key(m))
}

/// Which module uses which, file by file.
fn edges(modules: &BTreeMap<String, String>) -> BTreeMap<String, BTreeSet<String>> {
    let crate_path = Regex::new(r"crate::([A-Za-z0-9_:]+?)(?:::\{([^;]*?)\})?[^A-Za-z0-9_:]").unwrap();
    let super_path = Regex::new(r"\bsuper::([A-Za-z0-9_:]+)").unwrap();
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (module, code) in modules {
        let mut used = BTreeSet::new();
        for cap in crate_path.captures_iter(code) {
            let base = cap[1].trim_end_matches(':');
            match cap.get(2) {
                Some(group) => {
                    for item in group.as_str().split([',', '{', '}', ' ', '\n']).filter(|i| !i.is_empty()) {
                        let first = item.split("::").next().unwrap();
                        used.extend(resolve(&format!("{base}::{first}"), modules));
                    }
                    used.extend(resolve(base, modules));
                }
                None => used.extend(resolve(base, modules)),
            }
        }
        // `super` in `a/b.rs` (module a::b) is `a`; its tests' `super::*` is the file itself.
        let parent = module.rsplit_once("::").map_or("", |(p, _)| p);
        for cap in super_path.captures_iter(code) {
            let path = if parent.is_empty() { cap[1].to_string() } else { format!("{parent}::{}", &cap[1]) };
            used.extend(resolve(&path, modules));
        }
        used.remove(module);
        edges.insert(module.clone(), used);
    }
    edges
}

/// Every strongly connected group of more than one node (Tarjan).
fn cycles(graph: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    struct Walk<'a> {
        graph: &'a BTreeMap<String, BTreeSet<String>>,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        found: Vec<Vec<String>>,
    }
    fn visit<'a>(w: &mut Walk<'a>, v: &'a str) {
        let i = w.index.len();
        w.index.insert(v, i);
        w.low.insert(v, i);
        w.stack.push(v);
        for u in w.graph.get(v).into_iter().flatten() {
            let u = u.as_str();
            if !w.index.contains_key(u) {
                visit(w, u);
                let low = w.low[v].min(w.low[u]);
                w.low.insert(v, low);
            } else if w.stack.contains(&u) {
                let low = w.low[v].min(w.index[u]);
                w.low.insert(v, low);
            }
        }
        if w.low[v] == w.index[v] {
            let at = w.stack.iter().rposition(|&x| x == v).unwrap();
            let group: Vec<String> = w.stack.drain(at..).map(String::from).collect();
            if group.len() > 1 {
                w.found.push(group);
            }
        }
    }
    let mut walk = Walk { graph, index: BTreeMap::new(), low: BTreeMap::new(), stack: Vec::new(), found: Vec::new() };
    for v in graph.keys() {
        if !walk.index.contains_key(v.as_str()) {
            visit(&mut walk, v);
        }
    }
    walk.found
}

/// The graph with each module reduced to its first `depth` segments.
fn collapsed(graph: &BTreeMap<String, BTreeSet<String>>, depth: usize) -> BTreeMap<String, BTreeSet<String>> {
    let top = |m: &str| m.split("::").take(depth).collect::<Vec<_>>().join("::");
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (from, tos) in graph {
        let entry = out.entry(top(from)).or_default();
        entry.extend(tos.iter().map(|t| top(t)).filter(|t| *t != top(from)));
    }
    out
}

#[test]
fn no_module_imports_one_that_imports_it_back() {
    let modules = modules();
    assert!(modules.len() > 100 && modules.contains_key("app::state"), "the source was not found");
    let graph = edges(&modules);
    // The reader works: a known edge is seen.
    assert!(graph["app::state"].contains("app::document"), "{:?}", graph["app::state"]);
    assert_eq!(cycles(&graph), Vec::<Vec<String>>::new(), "files that import each other");
    assert_eq!(cycles(&collapsed(&graph, 1)), Vec::<Vec<String>>::new(), "top-level modules that import each other");
}

#[test]
fn the_layers_import_downwards() {
    let graph = collapsed(&edges(&modules()), 1);
    let layer = |m: &str| match m {
        "model" => 0,
        "checkpoint" | "cpu" => 1,
        "mtcnn" => 2,
        "face" => 3,
        "eval" | "train" | "heatmap" => 4,
        "app" => 5,
        "cli" => 6,
        _ => -1,
    };
    for (from, tos) in &graph {
        for to in tos {
            let (a, b) = (layer(from), layer(to));
            assert!(a < 0 || b < 0 || b <= a, "{from} (layer {a}) imports {to} (layer {b})");
        }
    }
}

#[test]
fn the_cycle_finder_finds_a_cycle() {
    let graph: BTreeMap<String, BTreeSet<String>> =
        [("a", vec!["b"]), ("b", vec!["c"]), ("c", vec!["a"]), ("d", vec!["a"])]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.into_iter().map(String::from).collect()))
            .collect();
    let found = cycles(&graph);
    assert_eq!(found.len(), 1);
    assert_eq!(
        found[0].iter().collect::<BTreeSet<_>>(),
        ["a", "b", "c"].iter().map(|s| s.to_string()).collect::<Vec<_>>().iter().collect()
    );
}
