//! Owns Argo's name rules and the mapping of Arcaflow step ids to names Argo accepts.

use std::collections::BTreeMap;

/// Argo's limit for task and template names (validate.go `workflowFieldMaxLength`).
pub const MAX_FIELD_NAME: usize = 128;

/// Task and template names: `[a-zA-Z0-9][-a-zA-Z0-9]*`, at most 128 characters.
pub fn field_name_problem(name: &str) -> Option<String> {
    if name.is_empty() {
        return Some("a name is required".into());
    }
    if name.len() > MAX_FIELD_NAME {
        return Some(format!("'{name}' is longer than {MAX_FIELD_NAME} characters"));
    }
    let mut chars = name.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphanumeric());
    if !first_ok || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
        return Some(format!(
            "'{name}' is invalid: a name must consist of alpha-numeric characters or '-', and must start with an alpha-numeric character"
        ));
    }
    None
}

/// Parameter and artifact names: `[-a-zA-Z0-9_]+`.
pub fn param_name_problem(name: &str) -> Option<String> {
    if !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
        None
    } else {
        Some(format!("'{name}' is invalid: a parameter name must consist of alpha-numeric characters, '_' or '-'"))
    }
}

/// metadata.name: a DNS-1123 subdomain (lower case, digits, '-', '.', at most 253).
pub fn object_name_problem(name: &str, generate: bool) -> Option<String> {
    let max = if generate { 248 } else { 253 };
    let body = if generate { name.trim_end_matches('-') } else { name };
    let ok = !body.is_empty()
        && name.len() <= max
        && body.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.')
        && body.starts_with(|c: char| c.is_ascii_alphanumeric())
        && body.ends_with(|c: char| c.is_ascii_alphanumeric());
    (!ok).then(|| {
        format!("'{name}' is not a valid Kubernetes object name (lower-case letters, digits, '-' and '.', starting and ending with a letter or digit, at most {max})")
    })
}

/// An Argo task name for a step id: `_`, `$`, `@` become `-`, a leading digit or dash gets an
/// `s` in front (Argo refuses task names that start with a digit when `depends` is used).
pub fn task_name(step_id: &str) -> String {
    let mut out: String =
        step_id.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '-' }).collect();
    if !out.starts_with(|c: char| c.is_ascii_alphabetic()) {
        out.insert(0, 's');
    }
    out.truncate(MAX_FIELD_NAME - "step-".len());
    out
}

/// Maps every step id to its task name; two ids that map to one name are an error.
pub fn task_names<'a>(
    ids: impl IntoIterator<Item = &'a String>,
    reserved: &[&str],
) -> Result<BTreeMap<String, String>, String> {
    let mut by_name: BTreeMap<String, String> = BTreeMap::new();
    for id in ids {
        let name = task_name(id);
        if reserved.contains(&name.as_str()) {
            return Err(format!(
                "step '{id}' maps to the Argo name '{name}', which the export reserves for itself; rename the step"
            ));
        }
        if let Some(other) = by_name.insert(name.clone(), id.clone()) {
            return Err(format!(
                "steps '{other}' and '{id}' both map to the Argo task name '{name}' (Argo names allow only letters, digits and '-'); rename one of them"
            ));
        }
    }
    Ok(by_name.into_iter().map(|(name, id)| (id, name)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn step_ids_become_valid_task_names() {
        for id in ["count_name", "$weird@id", "9lives", "-x", "A_B"] {
            let name = task_name(id);
            assert_eq!(field_name_problem(&name), None, "{id} -> {name}");
            assert!(!name.starts_with(|c: char| c.is_ascii_digit()));
        }
        assert_eq!(task_name("count_name"), "count-name");
    }

    #[test]
    fn colliding_ids_are_an_error_naming_both() {
        let ids = ["a_b".to_string(), "a-b".to_string()];
        let err = task_names(&ids, &[]).unwrap_err();
        assert!(err.contains("'a-b'") && err.contains("'a_b'"), "{err}");
    }

    #[test]
    fn name_rules_follow_argo() {
        assert!(field_name_problem("count_name").is_some());
        assert!(field_name_problem("-a").is_some());
        assert!(field_name_problem(&"a".repeat(129)).is_some());
        assert!(field_name_problem("step-1").is_none());
        assert!(object_name_problem("My_Flow", false).is_some());
        assert!(object_name_problem("my-flow-", true).is_none());
    }
}
