//! Owns config.yaml: both the seed's `deployer:` form and the engine's `deployers:` form, with defaults.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::error::{Error, Result};
use crate::limits::Limits;

type JsonMap = serde_json::Map<String, serde_json::Value>;

/// How the deployer treats an already-built plugin virtualenv.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
pub enum PullPolicy {
    /// Use the cached venv when it is complete; build it otherwise.
    #[default]
    IfNotPresent,
    /// Build a fresh venv on every run (older ones stay usable by running processes).
    Always,
    /// Offline: fail when the venv is not already in the cache.
    Never,
}

impl std::str::FromStr for PullPolicy {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "IfNotPresent" => Ok(PullPolicy::IfNotPresent),
            "Always" => Ok(PullPolicy::Always),
            "Never" => Ok(PullPolicy::Never),
            other => {
                Err(format!("'{other}' is not a valid pull policy, must be one of: 'Always', 'IfNotPresent', 'Never'"))
            }
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Installer {
    /// uv when it is found, else pip.
    #[default]
    Auto,
    Uv,
    Pip,
}

/// The python deployer's settings, shared by both config forms.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct PythonDeployer {
    /// Interpreter used to create plugin venvs; a pyenv shim is resolved to the real binary.
    pub python_path: Option<String>,
    /// Cache directory for git mirrors and venvs.
    pub workdir: Option<PathBuf>,
    #[serde(default)]
    pub module_pull_policy: PullPolicy,
    /// Expected interpreter version (`3.11.7`, or a prefix such as `3.11`).
    #[serde(default, deserialize_with = "version_text")]
    pub python_semver: Option<String>,
    #[serde(default)]
    pub override_module_compatibility: bool,
    #[serde(default)]
    pub installer: Installer,
    pub uv_path: Option<String>,
    pub index_url: Option<String>,
    #[serde(default)]
    pub extra_index_urls: Vec<String>,
    #[serde(default)]
    pub find_links: Vec<String>,
    /// Install only from local caches and find-links; never reach an index.
    #[serde(default)]
    pub offline: bool,
    /// Seconds a plugin may take to send its ATP hello (default 60).
    pub plugin_startup_timeout: Option<f64>,
    /// The environment plugin processes get.
    #[serde(default)]
    pub plugin_env: PluginEnv,
    /// Fork each step from a per-plugin fork server that imported the plugin once (default
    /// true); `false` starts a fresh interpreter per step.
    pub fork_server: Option<bool>,
}

impl PythonDeployer {
    /// Whether steps are forked from a fork server (`forkServer`, default true).
    pub fn fork_server(&self) -> bool {
        self.fork_server.unwrap_or(true)
    }
}

/// `pluginEnv`: which of our environment variables a plugin process inherits, and what is set or
/// removed on top. The venv's `bin` always goes first on `PATH`.
#[derive(Debug, Clone, Deserialize, Default, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PluginEnv {
    #[serde(default)]
    pub inherit: Inherit,
    /// Set (or overridden) for every plugin; values are text (numbers and booleans are taken as written).
    #[serde(default, deserialize_with = "env_values")]
    pub set: BTreeMap<String, String>,
    #[serde(default)]
    pub unset: Vec<String>,
}

/// `true`: every variable (the default); `false`: none; a list: only these names (`NAME_*` matches a prefix).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(untagged)]
pub enum Inherit {
    All(bool),
    Only(Vec<String>),
}

impl Default for Inherit {
    fn default() -> Self {
        Inherit::All(true)
    }
}

impl Inherit {
    pub fn passes(&self, name: &str) -> bool {
        match self {
            Inherit::All(all) => *all,
            Inherit::Only(names) => names.iter().any(|n| match n.strip_suffix('*') {
                Some(prefix) => name.starts_with(prefix),
                None => n == name,
            }),
        }
    }
}

fn env_values<'de, D: serde::Deserializer<'de>>(d: D) -> std::result::Result<BTreeMap<String, String>, D::Error> {
    let raw = BTreeMap::<String, serde_json::Value>::deserialize(d)?;
    raw.into_iter()
        .map(|(k, v)| {
            let text = match v {
                serde_json::Value::String(s) => s,
                serde_json::Value::Number(n) => n.to_string(),
                serde_json::Value::Bool(b) => b.to_string(),
                other => {
                    return Err(serde::de::Error::custom(format!(
                        "pluginEnv.set.{k} must be text, a number or a boolean, got {other}"
                    )))
                }
            };
            Ok((k, text))
        })
        .collect()
}

impl PythonDeployer {
    pub fn startup_timeout(&self) -> std::time::Duration {
        let secs = self.plugin_startup_timeout.filter(|s| s.is_finite() && *s > 0.0).unwrap_or(60.0);
        crate::seconds::duration(secs).unwrap_or(std::time::Duration::from_secs(60))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum LogLevel {
    Debug,
    #[default]
    Info,
    #[serde(alias = "warn")]
    Warning,
    Error,
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct LogConfig {
    pub level: Option<LogLevel>,
    /// Only `stdout` is accepted by the reference; logs go to stderr either way.
    pub destination: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoggedOutput {
    pub level: LogLevel,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    deployer: Option<JsonMap>,
    deployers: Option<BTreeMap<String, JsonMap>>,
    limits: Option<Limits>,
    log: Option<LogConfig>,
    #[serde(default)]
    logged_outputs: BTreeMap<String, LoggedOutput>,
    #[serde(default)]
    #[serde(rename = "plugins")]
    _plugins: Vec<String>,
    #[serde(rename = "maxStepTimeout")]
    max_step_timeout: Option<f64>,
}

/// The effective configuration of a run.
#[derive(Debug, Clone)]
pub struct Config {
    pub python: PythonDeployer,
    /// deployment types whose deployer is configured (`python` always, container ones only to refuse them well).
    pub deployment_types: BTreeMap<String, String>,
    pub log: LogConfig,
    pub logged_outputs: BTreeMap<String, LoggedOutput>,
    /// Seconds; negative means unlimited.
    pub max_step_timeout: Option<f64>,
    /// Bounds on the files we read (`limits:` in the config).
    pub limits: Limits,
}

/// The configuration without a config file: the same as an empty one.
impl Default for Config {
    fn default() -> Config {
        Config {
            python: PythonDeployer::default(),
            deployment_types: [("python".to_string(), "python".to_string())].into_iter().collect(),
            log: LogConfig::default(),
            logged_outputs: BTreeMap::new(),
            max_step_timeout: None,
            limits: Limits::default(),
        }
    }
}

impl Config {
    pub fn load(path: &Path) -> Result<Config> {
        let text =
            crate::limits::read_text(path).map_err(|message| Error::Config { path: path.to_path_buf(), message })?;
        Config::parse(&text).map_err(|message| Error::Config { path: path.to_path_buf(), message })
    }

    pub fn parse(text: &str) -> std::result::Result<Config, String> {
        let raw: RawConfig = if text.trim().is_empty() {
            RawConfig::default()
        } else {
            // Typed reading goes through JSON: the config has no tags and only string keys.
            let y = crate::yaml::parse_text(text).map_err(|e| e.to_string())?;
            serde_json::from_value(y.to_json()).map_err(|e| e.to_string())?
        };
        let mut config = Config {
            log: raw.log.unwrap_or_default(),
            logged_outputs: raw.logged_outputs,
            max_step_timeout: raw.max_step_timeout,
            python: PythonDeployer::default(),
            deployment_types: BTreeMap::new(),
            limits: raw.limits.unwrap_or_default(),
        };
        if let Some(t) = config.max_step_timeout {
            crate::seconds::check("maxStepTimeout", t)?;
        }
        let l = &config.limits;
        if l.max_file_bytes == 0 || l.max_depth == 0 || l.max_nodes == 0 || l.max_alias_nodes == 0 {
            return Err("limits: maxFileBytes, maxDepth, maxNodes and maxAliasNodes must be at least 1".into());
        }
        if let Some(dest) = &config.log.destination {
            if dest != "stdout" && dest != "stderr" {
                return Err(format!(
                    "log.destination: '{dest}' is not valid, use 'stderr' (or 'stdout', which also means stderr)"
                ));
            }
        }
        match (raw.deployer, raw.deployers) {
            (Some(_), Some(_)) => {
                return Err("both 'deployer' (seed form) and 'deployers' (engine form) are set; use one".into())
            }
            (Some(seed), None) => {
                let (kind, python) = split_deployer(seed, "type", "deployer")?;
                if kind != "python" {
                    return Err(format!(
                        "deployer.type: '{kind}' is not supported, arcaflow-py only deploys 'python' plugins"
                    ));
                }
                config.python = python.unwrap_or_default();
                config.deployment_types.insert("python".into(), "python".into());
            }
            (None, Some(map)) => {
                for (deployment_type, entry) in map {
                    let at = format!("deployers.{deployment_type}");
                    let (name, python) = split_deployer(entry, "deployer_name", &at)?;
                    if let Some(p) = python {
                        config.python = p;
                    }
                    config.deployment_types.insert(deployment_type, name);
                }
            }
            (None, None) => {
                config.deployment_types.insert("python".into(), "python".into());
            }
        }
        if let Some(t) = config.python.plugin_startup_timeout {
            crate::seconds::check("pluginStartupTimeout", t)?;
        }
        let e = &config.python.plugin_env;
        for name in e.set.keys().chain(e.unset.iter()) {
            if name.is_empty() || name.contains(['=', '\0']) {
                return Err(format!("pluginEnv: '{name}' is not a valid environment variable name"));
            }
        }
        Ok(config)
    }
}

/// A version must be text: YAML reads `3.10` as the number 3.1.
fn version_text<'de, D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Option<String>, D::Error> {
    match Option::<serde_json::Value>::deserialize(d)? {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(serde_json::Value::String(s)) => Ok(Some(s)),
        Some(other) => Err(serde::de::Error::custom(format!(
            "pythonSemver must be quoted text, e.g. pythonSemver: \"3.11\" (got {other})"
        ))),
    }
}

/// Takes the discriminator out of a deployer map and, for python, reads the rest strictly.
/// Container deployers are accepted so that a config shared with the reference engine loads;
/// steps that ask for them are refused when the workflow is loaded.
fn split_deployer(
    mut map: JsonMap,
    discriminator: &str,
    at: &str,
) -> std::result::Result<(String, Option<PythonDeployer>), String> {
    let name = match map.remove(discriminator) {
        Some(serde_json::Value::String(s)) => s,
        Some(other) => return Err(format!("{at}.{discriminator}: must be a string, got {other}")),
        None => return Err(format!("{at}: missing discriminator field '{discriminator}'")),
    };
    match name.as_str() {
        "python" => {
            let python: PythonDeployer =
                serde_json::from_value(serde_json::Value::Object(map)).map_err(|e| format!("{at}: {e}"))?;
            Ok((name, Some(python)))
        }
        "podman" | "docker" | "kubernetes" => Ok((name, None)),
        other => {
            Err(format!("{at}.{discriminator}: '{other}' is not a known deployer (python, podman, docker, kubernetes)"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_is_an_empty_file() {
        let (parsed, default) = (Config::parse("").unwrap(), Config::default());
        assert_eq!(format!("{parsed:?}"), format!("{default:?}"));
    }

    #[test]
    fn seed_form_is_accepted() {
        let c = Config::parse("deployer:\n  type: python\n  pythonPath: /usr/bin/python3\n  modulePullPolicy: Always\n  overrideModuleCompatibility: true\n").unwrap();
        assert_eq!(c.python.python_path.as_deref(), Some("/usr/bin/python3"));
        assert_eq!(c.python.module_pull_policy, PullPolicy::Always);
        assert!(c.python.override_module_compatibility);
    }

    #[test]
    fn engine_form_is_accepted() {
        let c = Config::parse("deployers:\n  python:\n    deployer_name: python\n    workdir: /tmp/x\n  image:\n    deployer_name: podman\nlog:\n  level: debug\n").unwrap();
        assert_eq!(c.python.workdir.as_deref(), Some(Path::new("/tmp/x")));
        assert_eq!(c.deployment_types.get("image").map(String::as_str), Some("podman"));
        assert_eq!(c.log.level, Some(LogLevel::Debug));
    }

    #[test]
    fn unknown_keys_are_named() {
        let e = Config::parse("deployers:\n  python:\n    deployer_name: python\n    pythonpath: x\n").unwrap_err();
        assert!(e.contains("pythonpath"), "{e}");
        let e = Config::parse("bogus: 1\n").unwrap_err();
        assert!(e.contains("bogus"), "{e}");
    }

    #[test]
    fn the_example_config_is_valid_and_sets_the_default_limits() {
        let c = Config::parse(include_str!("../config.example.yaml")).unwrap();
        assert_eq!(c.limits, Limits::default());
    }

    #[test]
    fn plugin_env_forms() {
        let c = Config::parse(
            "deployer:\n  type: python\n  pluginEnv: {inherit: [PATH, \"LC_*\"], set: {N: 5}, unset: [X]}\n",
        )
        .unwrap();
        let e = &c.python.plugin_env;
        assert!(e.inherit.passes("PATH") && e.inherit.passes("LC_ALL") && !e.inherit.passes("HOME"));
        assert_eq!(e.set.get("N").map(String::as_str), Some("5"));
        assert!(PluginEnv::default().inherit.passes("ANYTHING"));
        let err = Config::parse("deployer:\n  type: python\n  pluginEnv: {set: {\"A=B\": x}}\n").unwrap_err();
        assert!(err.contains("A=B"), "{err}");
        let err = Config::parse("deployer:\n  type: python\n  pluginEnv: {set: {A: [1]}}\n").unwrap_err();
        assert!(err.contains("pluginEnv.set.A"), "{err}");
    }

    #[test]
    fn bad_pull_policy_is_rejected() {
        let e = Config::parse("deployer:\n  type: python\n  modulePullPolicy: Sometimes\n").unwrap_err();
        assert!(e.contains("Sometimes"), "{e}");
    }
}
