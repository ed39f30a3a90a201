//! Owns `export argo`: loading and checking the workflow as `run` does, pinning every plugin to
//! the commit deployed now, mapping it to a manifest, checking that, and writing it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::argo::export::{self, SecretInput};
use crate::argo::overlay::Overlay;
use crate::cli::argo::ExportCommand;
use crate::config::Config;
use crate::deployer::spec::{redact_url, Source as SpecSource};
use crate::deployer::Deployer;
use crate::engine;
use crate::error::{exit, Error, Result};
use crate::value::Value;
use crate::workdir::Workdir;

pub(crate) fn abs(p: &Path, base: &Path) -> PathBuf {
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        base.join(p)
    }
}

pub(crate) async fn export(cmd: ExportCommand, verbosity: i8) -> Result<i32> {
    let a = match cmd {
        ExportCommand::Argo(a) => *a,
        ExportCommand::Containerfile => {
            crate::ui::output::print(&crate::argo::image::containerfile());
            return Ok(exit::SUCCESS);
        }
    };
    let cwd = std::env::current_dir().map_err(|e| Error::io("cannot read the current directory", e))?;
    let (context, base) = match &a.context {
        Some(c) => {
            let c = abs(c, &cwd);
            if !c.is_dir() {
                return Err(Error::Usage(format!("the context directory {} does not exist", c.display())));
            }
            (c.clone(), c)
        }
        None => {
            let wf = a.workflow.as_ref().map(|w| abs(w, &cwd));
            (wf.and_then(|w| w.parent().map(Path::to_path_buf)).unwrap_or(cwd.clone()), cwd.clone())
        }
    };
    let workflow = a.workflow.as_ref().map(|w| abs(w, &base)).unwrap_or_else(|| context.join("workflow.yaml"));
    let config_path = a.config.as_ref().map(|p| abs(p, &base));
    let (config, config_text) = match &config_path {
        Some(p) => {
            let text = std::fs::read_to_string(p)
                .map_err(|e| Error::Config { path: p.clone(), message: format!("cannot read it: {e}") })?;
            (Config::load(p)?, text)
        }
        None => (Config::parse("").unwrap_or_default(), String::new()),
    };
    crate::ui::logging::init(verbosity, config.log.level);
    let overlay = match &a.overlay {
        Some(p) => Overlay::load(&abs(p, &base))?,
        None => Overlay::default(),
    };
    let root = Workdir::locate(a.workdir.as_deref(), config.python.workdir.as_deref(), &context, &cwd)?;
    let deployer = Arc::new(Deployer::new(
        Workdir::open(root)?,
        config.python.clone(),
        config.python.module_pull_policy,
        Arc::new(crate::cli::invocation::shown_observers()),
    ));
    // The same loading and static checks as `run`: plugins are deployed, which resolves each
    // spec to the commit the pods will install.
    let loaded = engine::load(&workflow, &context, &config, deployer).await?;
    let mut pins = BTreeMap::new();
    for (_, p) in crate::plan::plugin_steps(&loaded.workflow) {
        let pin = match loaded.plugins.get(&crate::plan::plugin_key(p)) {
            _ if p.inline.is_some() => Err("inline Python steps (kind: python, an arcaflow-py extension) cannot be exported to Argo yet: the pods would need the step's source, requirements and interpreter; run this workflow with 'arcaflow-py run', or publish the function as a plugin".to_string()),
            Some(plugin) => pinned_spec(plugin),
            None => Err("the plugin was not deployed".to_string()),
        };
        pins.insert(p.src.clone(), pin);
    }
    let input = export_input(a.input.as_ref().map(|p| abs(p, &base)).as_deref(), &loaded.workflow, &a.secret_input)?;
    let src = export::Source {
        workflow: &loaded.workflow,
        context: &context,
        config_text,
        pins,
        config_step_timeout: config.max_step_timeout,
        input,
    };
    let opts = export::Options {
        image: a.image.clone(),
        kind: a.kind,
        name: a.name.clone(),
        generate_name: a.generate_name.clone(),
        namespace: a.namespace.clone(),
        overlay,
        argo_version: a.argo_version,
        secret_inputs: a.secret_input.clone(),
        inline_max: a.inline_max,
    };
    let wf_err = |message: String| Error::Workflow {
        path: workflow.clone(),
        message: format!("cannot export to Argo: {message}"),
    };
    let exported = export::export(&src, &opts).map_err(wf_err)?;
    for w in &exported.warnings {
        crate::ui::Printer::default().warn(w);
    }
    let doc = exported.manifest.to_json_value().map_err(Error::Run)?;
    // Every manifest is checked before it is written: a finding here is an exporter bug.
    let findings = crate::argo::lint::lint(&doc, &crate::argo::lint::Options { argo_version: a.argo_version });
    if !findings.is_empty() {
        let list: Vec<String> = findings.iter().map(|f| format!("  {f}")).collect();
        return Err(Error::Run(format!("the exported manifest does not pass its own checks:\n{}", list.join("\n"))));
    }
    let text = exported.manifest.to_yaml().map_err(Error::Run)?;
    if a.check {
        crate::ui::Printer::default().notice(&format!(
            "{}: exports to a valid Argo manifest ({} bytes)",
            workflow.display(),
            text.len()
        ));
        return Ok(exit::SUCCESS);
    }
    match &a.output {
        Some(p) => {
            let p = abs(p, &cwd);
            std::fs::write(&p, &text).map_err(|e| Error::io(format!("cannot write {}", p.display()), e))?
        }
        None => crate::ui::output::print(&text),
    }
    Ok(exit::SUCCESS)
}

/// The spec a pod installs: the same source pinned to the commit deployed now.
fn pinned_spec(plugin: &crate::deployer::Plugin) -> std::result::Result<String, String> {
    let spec = &plugin.spec;
    match &spec.source {
        SpecSource::Git { url, subdirectory, .. } => {
            if redact_url(url) != *url {
                return Err("the plugin URL carries credentials, which would be stored in the manifest; give the pods access another way (a URL without credentials)".into());
            }
            let commit = plugin.meta.commit.clone().ok_or("the build recorded no commit")?;
            Ok(match subdirectory {
                Some(d) => format!("{} @ git+{url}@{commit}#subdirectory={d}", spec.name),
                None => format!("{}@git+{url}@{commit}", spec.name),
            })
        }
        SpecSource::PyPi { version: Some(v) } => Ok(format!("{}=={v}", spec.name)),
        SpecSource::PyPi { version: None } => Err(format!(
            "'{}' names no version, so pods could install a different release than was checked here; pin it (name==VERSION)",
            spec.name
        )),
        SpecSource::Local { path } => Err(format!(
            "{} is a local directory, which pods do not have; publish it to a git repository or PyPI (baking local plugins into the image is not supported yet)",
            path.display()
        )),
    }
}

/// The input the manifest carries: read, checked against the workflow (secret fields stand in
/// as placeholders), and without the secret fields.
fn export_input(path: Option<&Path>, wf: &crate::workflow::Workflow, secrets: &[SecretInput]) -> Result<Value> {
    let mut raw = match path {
        None => Value::Map(Default::default()),
        Some(p) => {
            let err = |message: String| Error::Input { path: p.to_path_buf(), message };
            let text = std::fs::read_to_string(p).map_err(|e| err(format!("cannot read it: {e}")))?;
            let y = crate::yaml::parse_text(&text).map_err(|e| err(format!("not valid YAML: {e}")))?;
            Value::from_yaml(&y)
        }
    };
    let mut check = raw.clone();
    for s in secrets {
        if raw.get(&s.field).is_some() {
            return Err(Error::Usage(format!(
                "--secret-input {}: the input file also sets '{}'; remove it there, so the secret never enters the manifest",
                s.field, s.field
            )));
        }
        if let Value::Map(m) = &mut check {
            m.insert(s.field.as_str().into(), Value::String("secret placeholder".into()));
        }
    }
    if let Err(e) = wf.input.validate(&check) {
        let message = format!("the workflow input is invalid: {e}");
        match path {
            Some(p) => return Err(Error::Input { path: p.to_path_buf(), message }),
            None => crate::ui::Printer::default().warn(&format!(
                "without --input the manifest's input is {{}}, and {message}; pass `-p input=<JSON>` when submitting"
            )),
        }
    }
    if let Value::Map(m) = &mut raw {
        for s in secrets {
            m.remove(&crate::value::Key::from(s.field.as_str()));
        }
    }
    Ok(raw)
}
