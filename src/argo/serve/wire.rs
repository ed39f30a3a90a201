//! Owns the JSON of Argo's `template.execute` (pkg/plugins/executor in Argo): the reply and the
//! part of the request we read. The request is read as loose JSON: the template is Argo's whole
//! `wfv1.Template`, of which only `plugin.<key>` is ours.

use std::time::Duration;

use serde::Serialize;

/// `ExecuteTemplateReply`: `{}` for a template that is not ours.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Reply {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node: Option<NodeResult>,
    /// A Go duration string. Never with a final phase: Argo's agent calls again while it is set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub requeue: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NodeResult {
    pub phase: Phase,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outputs: Option<Outputs>,
    /// `N/M`.
    pub progress: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Phase {
    Pending,
    Running,
    Succeeded,
    Failed,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Outputs {
    pub parameters: Vec<Parameter>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Parameter {
    pub name: String,
    pub value: String,
}

impl Reply {
    /// A final node: never carries `requeue`.
    pub fn done(node: NodeResult) -> Reply {
        Reply { node: Some(node), requeue: None }
    }

    /// A node still on its way: Argo calls again after `after`.
    pub fn again(phase: Phase, message: String, after: Duration) -> Reply {
        Reply {
            node: Some(NodeResult { phase, message, outputs: None, progress: "0/1".into() }),
            requeue: Some(go_duration(after)),
        }
    }
}

/// A duration as Go's `time.ParseDuration` reads it: whole seconds as `10s`, else milliseconds.
pub fn go_duration(d: Duration) -> String {
    let ms = d.as_millis().max(1);
    if ms.is_multiple_of(1000) {
        format!("{}s", ms / 1000)
    } else {
        format!("{ms}ms")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_are_go_strings() {
        assert_eq!(go_duration(Duration::from_secs(10)), "10s");
        assert_eq!(go_duration(Duration::from_millis(250)), "250ms");
        assert_eq!(go_duration(Duration::ZERO), "1ms");
    }

    #[test]
    fn a_final_node_has_no_requeue_and_a_foreign_template_is_empty() {
        let r = Reply::done(NodeResult {
            phase: Phase::Failed,
            message: "boom".into(),
            outputs: None,
            progress: "1/1".into(),
        });
        let j = serde_json::to_value(&r).unwrap();
        assert!(j.get("requeue").is_none());
        assert_eq!(j["node"]["phase"], "Failed");
        assert_eq!(serde_json::to_string(&Reply::default()).unwrap(), "{}");
    }
}
