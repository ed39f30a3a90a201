//! Owns `argo lint` (strict schema + ported validator rules, per document) and `argo simulate`
//! (a manifest run here with Argo's semantics, printing the result document).

use std::path::Path;

use super::export::abs;
use crate::cli::argo::{ArgoCommand, SimulateArgs};
use crate::error::{exit, Error, Result};
use crate::value::Value;

fn read_documents(path: &Path) -> Result<Vec<serde_json::Value>> {
    let err = |message: String| Error::Input { path: path.to_path_buf(), message };
    let text = std::fs::read_to_string(path).map_err(|e| err(format!("cannot read it: {e}")))?;
    let docs = crate::argo::yamlio::documents(&text).map_err(|e| err(format!("not valid YAML: {e}")))?;
    if docs.is_empty() {
        return Err(err("the file holds no document".into()));
    }
    Ok(docs)
}

pub(crate) async fn argo(cmd: ArgoCommand, verbosity: i8) -> Result<i32> {
    crate::ui::logging::init(verbosity, None);
    let cwd = std::env::current_dir().map_err(|e| Error::io("cannot read the current directory", e))?;
    match cmd {
        ArgoCommand::Lint { manifests, argo_version } => {
            let mut bad = 0;
            for m in &manifests {
                let path = abs(m, &cwd);
                for (i, doc) in read_documents(&path)?.iter().enumerate() {
                    let findings = crate::argo::lint::lint(doc, &crate::argo::lint::Options { argo_version });
                    let label =
                        if i == 0 { m.display().to_string() } else { format!("{} (document {})", m.display(), i + 1) };
                    for f in &findings {
                        crate::ui::Printer::default().notice(&format!("{label}: {f}"));
                    }
                    if findings.is_empty() {
                        if verbosity >= 0 {
                            crate::ui::Printer::default().notice(&format!("{label}: ok"));
                        }
                    } else {
                        bad += 1;
                    }
                }
            }
            Ok(if bad == 0 { exit::SUCCESS } else { exit::INVALID })
        }
        ArgoCommand::Simulate(a) => simulate(a, &cwd, verbosity),
    }
}

fn simulate(a: SimulateArgs, cwd: &Path, verbosity: i8) -> Result<i32> {
    let path = abs(&a.manifest, cwd);
    let docs = read_documents(&path)?;
    let doc = &docs[0];
    let findings = crate::argo::lint::lint(doc, &crate::argo::lint::Options::default());
    if !findings.is_empty() {
        let list: Vec<String> = findings.iter().map(|f| format!("  {f}")).collect();
        return Err(Error::Input {
            path: path.clone(),
            message: format!("the manifest does not pass `argo lint`:\n{}", list.join("\n")),
        });
    }
    let input = match &a.input {
        None => None,
        Some(p) => {
            let p = abs(p, cwd);
            let err = |message: String| Error::Input { path: p.clone(), message };
            let text = std::fs::read_to_string(&p).map_err(|e| err(format!("cannot read it: {e}")))?;
            let y = crate::yaml::parse_text(&text).map_err(|e| err(format!("not valid YAML: {e}")))?;
            Some(
                serde_json::to_string(&crate::argo::plan::to_wire(&Value::from_yaml(&y)))
                    .map_err(|e| Error::Run(e.to_string()))?,
            )
        }
    };
    let binary = match a.binary {
        Some(b) => abs(&b, cwd),
        None => std::env::current_exe().map_err(|e| Error::io("cannot find this binary", e))?,
    };
    let opts = crate::argo::simulate::Options {
        input,
        cache: a.cache.map(|c| abs(&c, cwd)),
        work: a.keep.map(|k| abs(&k, cwd)),
        binary,
        secrets: a.secrets.map(|s| abs(&s, cwd)),
        verbose: verbosity > 0,
    };
    let outcome =
        crate::argo::simulate::simulate(doc, &opts).map_err(|m| Error::Input { path: path.clone(), message: m })?;
    if let Some(docu) = outcome.outputs.get("result").filter(|d| !d.is_empty()) {
        crate::ui::output::print(docu);
    }
    if outcome.succeeded {
        return Ok(exit::SUCCESS);
    }
    // A failed workflow: the sole leaf's exit code carries the meaning (2 error output, 3 none).
    Ok(match outcome.leaf_exit_code {
        Some(c @ (exit::ERROR_OUTPUT | exit::RUN_FAILED | exit::INVALID)) => {
            if c != exit::ERROR_OUTPUT {
                crate::ui::Printer::default().error(&format!("the workflow failed (its final task exited {c})"));
            }
            c
        }
        _ => {
            crate::ui::Printer::default().error("the workflow failed");
            exit::RUN_FAILED
        }
    })
}
