//! Owns what a local plugin directory says about itself: its distribution name (pyproject.toml's
//! `[project] name`) and the module that runs (the name's module when the directory has it, else
//! the one top-level package that pyproject.toml or the directory shows).

use std::path::{Path, PathBuf};

/// The `[project] name` (or `[tool.poetry] name`) of `dir/pyproject.toml`, if it has one.
pub fn project_name(dir: &Path) -> Option<String> {
    let doc = pyproject(dir)?;
    let name = doc.get("project").and_then(|p| p.get("name")).and_then(|n| n.as_str()).or_else(|| {
        doc.get("tool").and_then(|t| t.get("poetry")).and_then(|p| p.get("name")).and_then(|n| n.as_str())
    })?;
    Some(name.trim().to_string())
}

/// The module to run from `dir` when the spec names `name`: the name's own module when the
/// directory holds it, else the one top-level package it declares or holds. `None` when that
/// cannot be told (the caller keeps the name's module, and a failure to start says what to do).
pub fn infer_module(dir: &Path, name: &str) -> Option<String> {
    let own = name.replace(['-', '.'], "_");
    if has_module(dir, &own) {
        return Some(own);
    }
    match packages(dir).as_slice() {
        [one] => Some(one.clone()),
        _ => None,
    }
}

/// Top-level modules the directory declares (setuptools `packages`, poetry `packages`) or, without
/// a declaration, holds (packages at its top or under `src/`, tests left out).
pub fn packages(dir: &Path) -> Vec<String> {
    let declared = pyproject(dir).map(|doc| declared_packages(&doc)).unwrap_or_default();
    if !declared.is_empty() {
        return declared;
    }
    let mut found = Vec::new();
    for base in [dir.to_path_buf(), dir.join("src")] {
        for entry in std::fs::read_dir(&base).into_iter().flatten().flatten() {
            let n = entry.file_name().to_string_lossy().to_string();
            if entry.path().join("__init__.py").is_file() && !n.starts_with("test") && is_identifier(&n) {
                found.push(n);
            }
        }
    }
    found.sort();
    found.dedup();
    found
}

fn declared_packages(doc: &toml_edit::DocumentMut) -> Vec<String> {
    let tool = doc.get("tool");
    let setuptools = tool.and_then(|t| t.get("setuptools")).and_then(|s| s.get("packages")).and_then(|p| p.as_array());
    let poetry = tool.and_then(|t| t.get("poetry")).and_then(|s| s.get("packages")).and_then(|p| p.as_array());
    let mut out: Vec<String> = Vec::new();
    if let Some(a) = setuptools {
        out.extend(a.iter().filter_map(|v| v.as_str()).map(str::to_string));
    }
    if let Some(a) = poetry {
        out.extend(
            a.iter()
                .filter_map(|v| v.as_inline_table())
                .filter_map(|t| t.get("include").and_then(|i| i.as_str()))
                .map(str::to_string),
        );
    }
    // Sub-packages (`pkg.sub`) run as part of their top-level package.
    out.retain(|p| !p.contains('.') && is_identifier(p));
    out
}

fn has_module(dir: &Path, module: &str) -> bool {
    let at =
        |base: PathBuf| base.join(module).join("__init__.py").is_file() || base.join(format!("{module}.py")).is_file();
    at(dir.to_path_buf()) || at(dir.join("src"))
}

fn pyproject(dir: &Path) -> Option<toml_edit::DocumentMut> {
    std::fs::read_to_string(dir.join("pyproject.toml")).ok()?.parse().ok()
}

fn is_identifier(s: &str) -> bool {
    s.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir_with(files: &[(&str, &str)]) -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        for (p, text) in files {
            let p = d.path().join(p);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, text).unwrap();
        }
        d
    }

    #[test]
    fn name_and_module_come_from_pyproject() {
        let d = dir_with(&[
            ("pyproject.toml", "[project]\nname = \"arcaflow-plugin-x\"\n[tool.setuptools]\npackages = [\"xmod\"]\n"),
            ("xmod/__init__.py", ""),
        ]);
        assert_eq!(project_name(d.path()).as_deref(), Some("arcaflow-plugin-x"));
        assert_eq!(infer_module(d.path(), "arcaflow-plugin-x").as_deref(), Some("xmod"));
    }

    #[test]
    fn the_names_own_module_wins_and_src_layouts_count() {
        let d = dir_with(&[("src/arcaflow_plugin_y/__init__.py", ""), ("src/other/__init__.py", "")]);
        assert_eq!(infer_module(d.path(), "arcaflow-plugin-y").as_deref(), Some("arcaflow_plugin_y"));
        assert_eq!(infer_module(d.path(), "z"), None, "two candidates: no guess");
        let poetry = dir_with(&[(
            "pyproject.toml",
            "[tool.poetry]\nname = \"p\"\npackages = [{include = \"pmod\"}, {include = \"pmod.sub\"}]\n",
        )]);
        assert_eq!(project_name(poetry.path()).as_deref(), Some("p"));
        assert_eq!(packages(poetry.path()), ["pmod"]);
    }

    #[test]
    fn no_pyproject_no_guess() {
        let d = dir_with(&[("README", "")]);
        assert_eq!(project_name(d.path()), None);
        assert_eq!(infer_module(d.path(), "x"), None);
    }
}
