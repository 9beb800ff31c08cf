//! The shape of `src/`: no import cycles between its modules, and no file over 400 lines.
//!
//! A module imports another when it names it: in a `use` (`use crate::store::Store`,
//! `use super::app::App`), or in a path (`crate::cli::run(…)`, `super::Row`, `update::sort(…)`
//! for a child `update`). The target is the longest prefix of the path that is a file of its
//! own, so `crate::tui::app::Action` is `tui::app` and `crate::Error` is the crate root. A
//! `mod x;` declaration is not an import, but a parent using its child's items is; so a child
//! using its parent while the parent uses it is a cycle. Inline modules (`mod tests { … }`)
//! belong to their file. A path through a module to an item that module only imports (a
//! parent's `pub use money::Money`, reached as `super::Money`) imports the item's own module.
//! Comments and string literals are skipped; `main.rs` is the binary's own crate and is only
//! measured.
//!
//! Hand-written because no crate checks this from a test: `cargo-modules` and `cargo-cycles`
//! are command-line tools, not libraries, and rvtest's architecture checker follows only
//! `crate::` paths, not `super::` or a parent's use of its children.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// The most lines a file in `src/` may have.
const MAX_LINES: usize = 400;

#[test]
fn no_file_in_src_is_over_400_lines() {
    let offending: Vec<String> = rust_files(&src())
        .into_iter()
        .map(|file| (relative(&file), std::fs::read_to_string(&file).expect("a source file").lines().count()))
        .filter(|(_, lines)| *lines > MAX_LINES)
        .map(|(name, lines)| format!("{name}: {lines} lines"))
        .collect();
    assert!(offending.is_empty(), "files over {MAX_LINES} lines: split them by job:\n{}", offending.join("\n"));
}

#[test]
fn the_modules_of_src_import_each_other_without_cycles() {
    let graph = module_graph(&src());
    let offending: Vec<String> = strongly_connected(&graph)
        .iter()
        .map(|component| {
            format!("{}   (component: {})", one_cycle(&graph, component).join(" → "), component.join(", "))
        })
        .collect();
    assert!(
        offending.is_empty(),
        "import cycles: move the shared items to their own module:\n{}",
        offending.join("\n")
    );
}

#[test]
fn the_checker_sees_uses_paths_a_parent_using_its_child_and_cycles() {
    let parent = "mod child;\nuse crate::other::{Thing, deep::Deeper};\nfn f() { child::g(); \"crate::nowhere::x\"; }\n// crate::comment::y\n";
    let child = "use super::*;\nmod tests { use super::super::Item; }\nfn g() { self::h(); }\n";
    let modules: BTreeSet<Vec<String>> =
        [&["parent"][..], &["parent", "child"], &["other"], &["other", "deep"]].iter().map(|m| path(m)).collect();
    assert_eq!(
        imports(parent, &path(&["parent"]), &modules, &Aliases::new()),
        [path(&["other"]), path(&["other", "deep"]), path(&["parent", "child"])].into()
    );
    assert_eq!(imports(child, &path(&["parent", "child"]), &modules, &Aliases::new()), [path(&["parent"])].into());
    // A parent's `pub use` sends its child's `use super::Item` on to the module that defines it.
    let aliases: Aliases = [(path(&["parent"]), [("Thing".to_owned(), path(&["other"]))].into())].into();
    assert_eq!(
        imports("use super::Thing;", &path(&["parent", "child"]), &modules, &aliases),
        [path(&["other"])].into()
    );
    let graph: BTreeMap<String, BTreeSet<String>> = [("a", "b"), ("b", "a"), ("c", "a")]
        .iter()
        .map(|(from, to)| ((*from).to_owned(), [(*to).to_owned()].into()))
        .collect();
    let components = strongly_connected(&graph);
    assert_eq!(components, [vec!["a".to_owned(), "b".to_owned()]]);
    assert_eq!(one_cycle(&graph, &components[0]), ["a", "b", "a"]);
}

/// A module path below the crate root, e.g. `["tui", "app"]`.
type ModulePath = Vec<String>;

fn path(segments: &[&str]) -> ModulePath {
    segments.iter().map(|s| (*s).to_owned()).collect()
}

fn src() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn relative(file: &Path) -> String {
    file.strip_prefix(env!("CARGO_MANIFEST_DIR")).expect("under the crate").display().to_string()
}

/// Every `.rs` file under `dir`, sorted.
fn rust_files(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).expect("a source folder") {
        let path = entry.expect("a folder entry").path();
        if path.is_dir() {
            files.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
    files.sort();
    files
}

/// The library's module of a file (`None` for `main.rs`, the binary's crate root).
fn module_of(file: &Path, src: &Path) -> Option<ModulePath> {
    let relative = file.strip_prefix(src).expect("under src/").with_extension("");
    let mut segments: ModulePath = relative.iter().map(|s| s.to_string_lossy().into_owned()).collect();
    match segments.as_slice() {
        [only] if only == "main" => return None,
        [only] if only == "lib" => segments.clear(),
        [.., last] if last == "mod" => {
            segments.pop();
        }
        _ => {}
    }
    Some(segments)
}

/// Which module imports which, over the library's files.
fn module_graph(src: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let files: Vec<(std::path::PathBuf, ModulePath)> =
        rust_files(src).into_iter().filter_map(|f| module_of(&f, src).map(|m| (f, m))).collect();
    let modules: BTreeSet<ModulePath> = files.iter().map(|(_, m)| m.clone()).collect();
    let name = |m: &ModulePath| if m.is_empty() { "crate".to_owned() } else { m.join("::") };
    let texts: Vec<String> =
        files.iter().map(|(file, _)| std::fs::read_to_string(file).expect("a source file")).collect();
    let aliases: Aliases = files
        .iter()
        .zip(&texts)
        .map(|((_, module), text)| (module.clone(), imported_items(text, module, &modules)))
        .collect();
    files
        .iter()
        .zip(&texts)
        .map(|((_, module), text)| (name(module), imports(text, module, &modules, &aliases).iter().map(name).collect()))
        .collect()
}

/// The modules (of `modules`) that the file of `module` imports, itself excluded.
fn imports(text: &str, module: &ModulePath, modules: &BTreeSet<ModulePath>, aliases: &Aliases) -> BTreeSet<ModulePath> {
    let tokens = tokens(text);
    let children: BTreeSet<&str> =
        tokens.windows(3).filter(|w| w[0] == "mod" && w[2] == ";").map(|w| w[1].as_str()).collect();
    let mut found = BTreeSet::new();
    // Inline modules open at which brace depth: `super` inside one is relative to it.
    let mut inline: Vec<(String, usize)> = Vec::new();
    let mut depth = 0;
    let mut i = 0;
    while i < tokens.len() {
        let token = tokens[i].as_str();
        let here: ModulePath = module.iter().cloned().chain(inline.iter().map(|(name, _)| name.clone())).collect();
        match token {
            "{" => depth += 1,
            "}" => {
                depth -= 1;
                if inline.last().is_some_and(|(_, open)| *open == depth) {
                    inline.pop();
                }
            }
            "mod" if tokens.get(i + 2).is_some_and(|t| t == "{") => {
                inline.push((tokens[i + 1].clone(), depth));
            }
            "use" => {
                let end = tokens[i..].iter().position(|t| t == ";").map_or(tokens.len(), |n| i + n);
                let mut paths = Vec::new();
                use_tree(&tokens[i + 1..end], &mut 0, &[], &mut paths);
                for used in paths {
                    found.extend(absolute(&used, &here, module, &children).and_then(|p| resolve(&p, modules, aliases)));
                }
                i = end;
            }
            _ if is_ident(token)
                && tokens.get(i + 1).is_some_and(|t| t == "::")
                && (i == 0 || tokens[i - 1] != "::") =>
            {
                let mut used = vec![token.to_owned()];
                let mut j = i + 1;
                while tokens.get(j).is_some_and(|t| t == "::") && tokens.get(j + 1).is_some_and(|t| is_ident(t)) {
                    used.push(tokens[j + 1].clone());
                    j += 2;
                }
                found.extend(absolute(&used, &here, module, &children).and_then(|p| resolve(&p, modules, aliases)));
                i = j - 1;
            }
            _ => {}
        }
        i += 1;
    }
    found.remove(module);
    found
}

/// What each module imports by name from another (`use child::Item;`, `pub use x::{A, B}`):
/// the module that defines `Item`, for paths that reach `Item` through the importing module.
type Aliases = BTreeMap<ModulePath, BTreeMap<String, ModulePath>>;

/// The absolute path (below the crate root) of a path used in `here` (the file's `module`, or
/// an inline module in it). `None` for paths outside the crate.
fn absolute(used: &[String], here: &ModulePath, module: &ModulePath, children: &BTreeSet<&str>) -> Option<ModulePath> {
    let mut absolute: ModulePath = match used.first()?.as_str() {
        "crate" => Vec::new(),
        "self" | "super" => here.clone(),
        child if children.contains(child) => module.clone(),
        _ => return None,
    };
    let mut rest = used.iter().skip_while(|s| matches!(s.as_str(), "crate" | "self")).peekable();
    while rest.next_if(|s| *s == "super").is_some() {
        absolute.pop();
    }
    absolute.extend(rest.cloned());
    Some(absolute)
}

/// The module a path names: its longest prefix that is a file, or, when that module only
/// imported the item the path goes on to name, the module the item came from (so a child's
/// `use super::Money`, where the parent has `pub use money::Money`, imports `money`, not the
/// parent).
fn resolve(absolute: &ModulePath, modules: &BTreeSet<ModulePath>, aliases: &Aliases) -> Option<ModulePath> {
    let prefix = (0..=absolute.len()).rev().map(|n| absolute[..n].to_vec()).find(|prefix| modules.contains(prefix))?;
    let item = absolute.get(prefix.len());
    match item.and_then(|item| aliases.get(&prefix)?.get(item)) {
        Some(origin) => Some(origin.clone()),
        None => Some(prefix),
    }
}

/// The items `text` (the file of `module`) imports by name, and the module each comes from.
fn imported_items(text: &str, module: &ModulePath, modules: &BTreeSet<ModulePath>) -> BTreeMap<String, ModulePath> {
    let tokens = tokens(text);
    let children: BTreeSet<&str> =
        tokens.windows(3).filter(|w| w[0] == "mod" && w[2] == ";").map(|w| w[1].as_str()).collect();
    let mut items = BTreeMap::new();
    for (i, _) in tokens.iter().enumerate().filter(|(_, t)| *t == "use") {
        let end = tokens[i..].iter().position(|t| t == ";").map_or(tokens.len(), |n| i + n);
        let mut paths = Vec::new();
        use_tree(&tokens[i + 1..end], &mut 0, &[], &mut paths);
        for used in paths {
            let Some(path) = absolute(&used, module, module, &children) else { continue };
            if let Some(origin) = resolve(&path, modules, &Aliases::new())
                && origin.len() + 1 == path.len()
                && origin != *module
            {
                items.insert(path[origin.len()].clone(), origin);
            }
        }
    }
    items
}

/// The paths one `use` tree names, from `tokens[*at]` on: `a::{b, c::d as e}` is `a::b` and
/// `a::c::d`; `a::{self}` is `a`.
fn use_tree(tokens: &[String], at: &mut usize, prefix: &[String], paths: &mut Vec<Vec<String>>) {
    let mut path = prefix.to_vec();
    while let Some(token) = tokens.get(*at) {
        match token.as_str() {
            "{" => {
                *at += 1;
                while tokens.get(*at).is_some_and(|t| t != "}") {
                    use_tree(tokens, at, &path, paths);
                    *at += usize::from(tokens.get(*at).is_some_and(|t| t == ","));
                }
                *at += 1;
                return;
            }
            "::" => *at += 1,
            "as" => *at += 2,
            "self" if !path.is_empty() => *at += 1,
            word if is_ident(word) => {
                path.push(word.to_owned());
                *at += 1;
            }
            "*" => *at += 1,
            _ => break,
        }
    }
    paths.push(path);
}

fn is_ident(token: &str) -> bool {
    token.chars().next().is_some_and(|c| c.is_alphabetic() || c == '_')
}

/// Identifiers, `::` and single punctuation, with comments, strings and chars left out.
fn tokens(text: &str) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if c == '/' && next == Some('/') {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            let mut nesting = 0;
            while i < chars.len() {
                if chars[i] == '/' && chars.get(i + 1) == Some(&'*') {
                    nesting += 1;
                    i += 2;
                } else if chars[i] == '*' && chars.get(i + 1) == Some(&'/') {
                    nesting -= 1;
                    i += 2;
                    if nesting == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
        } else if c == '"' || ((c == 'r' || c == 'b') && matches!(next, Some('"' | '#'))) {
            i = after_string(&chars, i);
        } else if c == '\'' {
            // A char literal ('x', '\n', '\u{..}') or a lifetime ('a): skip the literal only.
            match (next, chars.get(i + 2)) {
                (Some('\\'), _) => {
                    i += 3;
                    while i < chars.len() && chars[i] != '\'' {
                        i += 1;
                    }
                    i += 1;
                }
                (Some(_), Some('\'')) => i += 3,
                _ => i += 1,
            }
        } else if c.is_alphanumeric() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            tokens.push(chars[start..i].iter().collect());
        } else if c == ':' && next == Some(':') {
            tokens.push("::".to_owned());
            i += 2;
        } else {
            if !c.is_whitespace() {
                tokens.push(c.to_string());
            }
            i += 1;
        }
    }
    tokens
}

/// The index after a string literal starting at `start` (`"…"`, `b"…"`, `r#"…"#`, `br"…"`).
fn after_string(chars: &[char], start: usize) -> usize {
    let mut i = start;
    while chars[i] != '"' && chars[i] != '#' {
        i += 1;
    }
    let raw = chars[start..i].contains(&'r');
    let mut hashes = 0;
    while chars[i] == '#' {
        hashes += 1;
        i += 1;
    }
    i += 1; // the opening quote
    while i < chars.len() {
        if !raw && chars[i] == '\\' {
            i += 2;
        } else if chars[i] == '"' && chars[i + 1..].iter().take(hashes).filter(|c| **c == '#').count() == hashes {
            return i + 1 + hashes;
        } else {
            i += 1;
        }
    }
    i
}

/// The strongly connected components with more than one module (Tarjan), each sorted.
fn strongly_connected(graph: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    struct Tarjan<'g> {
        graph: &'g BTreeMap<String, BTreeSet<String>>,
        index: BTreeMap<&'g str, usize>,
        low: BTreeMap<&'g str, usize>,
        stack: Vec<&'g str>,
        components: Vec<Vec<String>>,
    }
    impl<'g> Tarjan<'g> {
        fn visit(&mut self, node: &'g str) {
            let n = self.index.len();
            self.index.insert(node, n);
            self.low.insert(node, n);
            self.stack.push(node);
            for next in self.graph.get(node).into_iter().flatten() {
                if !self.index.contains_key(next.as_str()) {
                    self.visit(next);
                    let low = self.low[node].min(self.low[next.as_str()]);
                    self.low.insert(node, low);
                } else if self.stack.contains(&next.as_str()) {
                    let low = self.low[node].min(self.index[next.as_str()]);
                    self.low.insert(node, low);
                }
            }
            if self.low[node] == self.index[node] {
                let at = self.stack.iter().rposition(|n| *n == node).expect("on the stack");
                let mut component: Vec<String> = self.stack.drain(at..).map(str::to_owned).collect();
                if component.len() > 1 {
                    component.sort();
                    self.components.push(component);
                }
            }
        }
    }
    let mut tarjan =
        Tarjan { graph, index: BTreeMap::new(), low: BTreeMap::new(), stack: Vec::new(), components: Vec::new() };
    for node in graph.keys() {
        if !tarjan.index.contains_key(node.as_str()) {
            tarjan.visit(node);
        }
    }
    tarjan.components
}

/// One cycle through the first module of a component, as a path that returns to it.
fn one_cycle(graph: &BTreeMap<String, BTreeSet<String>>, component: &[String]) -> Vec<String> {
    let start = &component[0];
    // Breadth first inside the component, remembering how each module was reached.
    let mut reached: BTreeMap<&String, &String> = BTreeMap::new();
    let mut queue = std::collections::VecDeque::from([start]);
    while let Some(node) = queue.pop_front() {
        for next in graph.get(node).into_iter().flatten().filter(|n| component.contains(n)) {
            if next == start {
                let mut cycle = vec![start.clone()];
                let mut at = node;
                while at != start {
                    cycle.push(at.clone());
                    at = reached[at];
                }
                cycle.push(start.clone());
                cycle.reverse();
                return cycle;
            }
            if !reached.contains_key(next) {
                reached.insert(next, node);
                queue.push_back(next);
            }
        }
    }
    component.to_vec()
}
