//! Sub-workflows nested five levels deep, each level naming the next file from six foreach
//! steps (7776 references to the leaf): each file is loaded, typed and checked once.

use std::fs;

use crate::support::{shared_repo, Case};

fn nested_case(levels: usize, fan_out: usize) -> Case {
    let case = Case::new();
    let leaf = format!(
        "version: v0.2.0\ninput: {{root: I, objects: {{I: {{id: I, properties: {{}}}}}}}}\nsteps:\n  a:\n    plugin: {{deployment_type: python, src: \"{}\"}}\n    step: echo\n    input: {{msg: hi, sleep: 0}}\noutputs:\n  success: {{m: !expr $.steps.a.outputs.success.msg}}\n",
        shared_repo(true).spec()
    );
    case.file(&format!("w{levels}.yaml"), &leaf);
    for level in (0..levels).rev() {
        let mut text = "version: v0.2.0\ninput: {root: I, objects: {I: {id: I, properties: {}}}}\nsteps:\n".to_string();
        for i in 0..fan_out {
            text.push_str(&format!(
                "  f{i}:\n    kind: foreach\n    workflow: w{}.yaml\n    items: [{{}}]\n",
                level + 1
            ));
        }
        text.push_str("outputs:\n  success: {r: !expr $.steps.f0.outputs.success.data}\n");
        let name = if level == 0 { "workflow.yaml".to_string() } else { format!("w{level}.yaml") };
        case.file(&name, &text);
    }
    case
}

#[test]
fn five_levels_of_shared_sub_workflows_validate() {
    let case = nested_case(5, 6);
    let out: crate::support::RunOutput = case.command("validate").output().unwrap().into();
    out.assert_code(0);
    assert!(out.stderr.contains("valid"), "{}", out.stderr);
}

#[test]
fn a_sub_workflow_shared_by_several_foreach_steps_runs_for_each() {
    let case = nested_case(2, 2);
    let out = case.run();
    out.assert_code(0);
    let doc = out.yaml();
    // f0 at level 0 ran w1 once; w1's f0 ran w2 once: the leaf's message comes back nested.
    assert_eq!(doc["output_data"]["r"][0]["r"][0]["m"].as_str(), Some("hi"), "{}", out.stdout);
    let _ = fs::metadata(case.path("w2.yaml")).unwrap();
}
