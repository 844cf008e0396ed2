//! Differences between two documents (two playbook versions): which keys were
//! added, removed or changed, with the values before and after.

use serde::Serialize;
use serde_json::Value;

/// One changed key. List elements with an `id` or `code` are matched by it,
/// so reordering or inserting a stage reads as one change, not many.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Change {
    /// Path such as `stages[mql].entry_criterion` or `sla.attempts`.
    pub key: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub before: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub after: Option<Value>,
}

/// All changes from `before` to `after`, in document order.
pub fn diff(before: &Value, after: &Value) -> Vec<Change> {
    let mut out = Vec::new();
    walk("", before, after, &mut out);
    out
}

fn element_key(v: &Value) -> Option<String> {
    let obj = v.as_object()?;
    ["id", "code"]
        .iter()
        .find_map(|k| obj.get(*k).and_then(Value::as_str).map(str::to_string))
}

fn join(prefix: &str, key: &str) -> String {
    if prefix.is_empty() {
        key.to_string()
    } else {
        format!("{prefix}.{key}")
    }
}

fn walk(path: &str, a: &Value, b: &Value, out: &mut Vec<Change>) {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            for (k, va) in x {
                match y.get(k) {
                    Some(vb) => walk(&join(path, k), va, vb, out),
                    None => out.push(Change {
                        key: join(path, k),
                        before: Some(va.clone()),
                        after: None,
                    }),
                }
            }
            for (k, vb) in y {
                if !x.contains_key(k) {
                    out.push(Change {
                        key: join(path, k),
                        before: None,
                        after: Some(vb.clone()),
                    });
                }
            }
        }
        (Value::Array(x), Value::Array(y))
            if x.iter().chain(y).all(|v| element_key(v).is_some()) =>
        {
            let keyed = |v: &Vec<Value>| {
                v.iter()
                    .map(|e| (element_key(e).unwrap_or_default(), e.clone()))
                    .collect::<Vec<_>>()
            };
            let (xa, ya) = (keyed(x), keyed(y));
            for (k, va) in &xa {
                let p = format!("{path}[{k}]");
                match ya.iter().find(|(kb, _)| kb == k) {
                    Some((_, vb)) => walk(&p, va, vb, out),
                    None => out.push(Change {
                        key: p,
                        before: Some(va.clone()),
                        after: None,
                    }),
                }
            }
            for (k, vb) in &ya {
                if !xa.iter().any(|(ka, _)| ka == k) {
                    out.push(Change {
                        key: format!("{path}[{k}]"),
                        before: None,
                        after: Some(vb.clone()),
                    });
                }
            }
        }
        _ if a != b => out.push(Change {
            key: path.to_string(),
            before: Some(a.clone()),
            after: Some(b.clone()),
        }),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn keyed_lists_and_scalars() {
        let a = json!({"sla": {"attempts": 6}, "stages": [{"id": "lead", "name": "Lead"}, {"id": "mql", "name": "MQL"}]});
        let b = json!({"sla": {"attempts": 8}, "stages": [{"id": "lead", "name": "Lead"}, {"id": "sal", "name": "SAL"}, {"id": "mql", "name": "Marketing QL"}]});
        let d = diff(&a, &b);
        let keys: Vec<_> = d.iter().map(|c| c.key.as_str()).collect();
        assert_eq!(keys, ["sla.attempts", "stages[mql].name", "stages[sal]"]);
        assert_eq!(d[0].after, Some(json!(8)));
        assert!(diff(&a, &a).is_empty());
    }
}
