//! Owns `node run|outputs|run-all`: the runner inside exported pods (contract in `argo::node`).

use crate::argo::node;
use crate::cli::argo::NodeCommand;
use crate::error::Result;

pub(crate) async fn node(cmd: NodeCommand, verbosity: i8) -> Result<i32> {
    let (verb, a) = match cmd {
        NodeCommand::Run(a) => (node::Verb::Run, a),
        NodeCommand::Plan(a) => (node::Verb::Plan, a),
        NodeCommand::Outputs(a) => (node::Verb::Outputs, a),
        NodeCommand::RunAll(a) => (node::Verb::RunAll, a),
    };
    let files =
        node::Files { plan: a.plan, input: a.input, out: a.out, params_file: a.params_file, secrets: a.secrets };
    Ok(node::main(verb, &files, verbosity).await)
}
