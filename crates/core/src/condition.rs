//! Matching rules shared by personas, fit scoring and channel derivation:
//! a field, an operator and a value, compared case-insensitively.

use serde::{Deserialize, Serialize};

/// One test on one field. A rule matches when all of its conditions do.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Condition {
    pub field: String,
    pub op: Op,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<CondValue>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Op {
    Eq,
    Ne,
    In,
    NotIn,
    Contains,
    ContainsAny,
    StartsWith,
    EndsWith,
    Gt,
    Gte,
    Lt,
    Lte,
    Present,
    Absent,
}

/// The operand of a condition.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum CondValue {
    Integer(i64),
    Float(f64),
    Text(String),
    List(Vec<String>),
}

/// A field's value as a rule sees it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum FieldValue<'a> {
    Text(&'a str),
    Number(f64),
}

/// Anything rules can be evaluated against.
pub trait Facts {
    /// The value of `field`, or `None` when it is empty or unknown.
    fn field(&self, field: &str) -> Option<FieldValue<'_>>;
}

impl Op {
    /// The kind of operand this operator needs: `None` for no value.
    fn operand(self) -> Option<&'static str> {
        match self {
            Op::Present | Op::Absent => None,
            Op::In | Op::NotIn | Op::ContainsAny => Some("a list of texts"),
            Op::Gt | Op::Gte | Op::Lt | Op::Lte => Some("a number"),
            Op::Eq | Op::Ne | Op::Contains | Op::StartsWith | Op::EndsWith => {
                Some("a text or a number")
            }
        }
    }
}

impl Condition {
    /// Checks that the operand fits the operator and that the field is one of
    /// `known_fields`. Returns the key at fault and a message.
    pub fn check(&self, known_fields: &[&str]) -> Result<(), (&'static str, String)> {
        if !known_fields.contains(&self.field.as_str()) {
            return Err((
                "field",
                format!(
                    "unknown field {:?}; known fields: {}",
                    self.field,
                    known_fields.join(", ")
                ),
            ));
        }
        let ok = match (self.op.operand(), &self.value) {
            (None, None) => true,
            (None, Some(_)) => false,
            (Some(_), None) => false,
            (Some(_), Some(v)) => match self.op {
                Op::In | Op::NotIn | Op::ContainsAny => matches!(v, CondValue::List(_)),
                Op::Gt | Op::Gte | Op::Lt | Op::Lte => {
                    matches!(v, CondValue::Integer(_) | CondValue::Float(_))
                }
                _ => !matches!(v, CondValue::List(_)),
            },
        };
        if ok {
            Ok(())
        } else {
            let want = self.op.operand().unwrap_or("no value");
            Err(("value", format!("operator {:?} needs {want}", self.op)))
        }
    }

    pub fn matches(&self, facts: &impl Facts) -> bool {
        let got = facts.field(&self.field);
        match self.op {
            Op::Present => return got.is_some(),
            Op::Absent => return got.is_none(),
            _ => {}
        }
        let Some(got) = got else {
            // An empty field only satisfies the negative operators.
            return matches!(self.op, Op::Ne | Op::NotIn);
        };
        let Some(value) = &self.value else {
            return false;
        };
        match (self.op, got, value) {
            (Op::Gt | Op::Gte | Op::Lt | Op::Lte | Op::Eq | Op::Ne, FieldValue::Number(n), v) => {
                let Some(x) = number(v) else {
                    return self.op == Op::Ne;
                };
                match self.op {
                    Op::Gt => n > x,
                    Op::Gte => n >= x,
                    Op::Lt => n < x,
                    Op::Lte => n <= x,
                    Op::Eq => n == x,
                    _ => n != x,
                }
            }
            (_, FieldValue::Number(_), _) => false,
            (op, FieldValue::Text(t), v) => {
                let t = t.to_lowercase();
                match (op, v) {
                    (Op::In, CondValue::List(l)) => l.iter().any(|x| x.to_lowercase() == t),
                    (Op::NotIn, CondValue::List(l)) => !l.iter().any(|x| x.to_lowercase() == t),
                    (Op::ContainsAny, CondValue::List(l)) => {
                        l.iter().any(|x| t.contains(&x.to_lowercase()))
                    }
                    (Op::Eq, v) => text(v).is_some_and(|x| x == t),
                    (Op::Ne, v) => text(v).is_none_or(|x| x != t),
                    (Op::Contains, v) => text(v).is_some_and(|x| t.contains(&x)),
                    (Op::StartsWith, v) => text(v).is_some_and(|x| t.starts_with(&x)),
                    (Op::EndsWith, v) => text(v).is_some_and(|x| t.ends_with(&x)),
                    _ => false,
                }
            }
        }
    }
}

/// True when every condition matches (an empty list always matches).
pub fn all_match(conditions: &[Condition], facts: &impl Facts) -> bool {
    conditions.iter().all(|c| c.matches(facts))
}

fn number(v: &CondValue) -> Option<f64> {
    match v {
        CondValue::Integer(i) => Some(*i as f64),
        CondValue::Float(f) => Some(*f),
        CondValue::Text(t) => t.trim().parse().ok(),
        CondValue::List(_) => None,
    }
}

fn text(v: &CondValue) -> Option<String> {
    match v {
        CondValue::Text(t) => Some(t.to_lowercase()),
        CondValue::Integer(i) => Some(i.to_string()),
        CondValue::Float(f) => Some(f.to_string()),
        CondValue::List(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    struct Map(HashMap<&'static str, FieldValue<'static>>);
    impl Facts for Map {
        fn field(&self, f: &str) -> Option<FieldValue<'_>> {
            self.0.get(f).copied()
        }
    }

    fn cond(field: &str, op: Op, value: Option<CondValue>) -> Condition {
        Condition {
            field: field.into(),
            op,
            value,
        }
    }

    #[test]
    fn text_and_number_operators() {
        let m = Map(HashMap::from([
            ("title", FieldValue::Text("VP of Marketing")),
            ("employees", FieldValue::Number(250.0)),
        ]));
        let list = |xs: &[&str]| Some(CondValue::List(xs.iter().map(|s| s.to_string()).collect()));
        assert!(cond("title", Op::ContainsAny, list(&["vp", "chief"])).matches(&m));
        assert!(cond("title", Op::StartsWith, Some(CondValue::Text("vp".into()))).matches(&m));
        assert!(!cond("title", Op::Eq, Some(CondValue::Text("vp".into()))).matches(&m));
        assert!(cond("employees", Op::Gte, Some(CondValue::Integer(200))).matches(&m));
        assert!(!cond("employees", Op::Lt, Some(CondValue::Float(100.0))).matches(&m));
        assert!(cond("missing", Op::Absent, None).matches(&m));
        assert!(cond("missing", Op::NotIn, list(&["x"])).matches(&m));
        assert!(!cond("missing", Op::In, list(&["x"])).matches(&m));
    }

    #[test]
    fn operand_shape_is_checked() {
        let fields = ["title"];
        assert!(
            cond("title", Op::In, Some(CondValue::Text("x".into())))
                .check(&fields)
                .is_err()
        );
        assert!(
            cond("title", Op::Present, Some(CondValue::Text("x".into())))
                .check(&fields)
                .is_err()
        );
        assert!(cond("title", Op::Gt, None).check(&fields).is_err());
        assert_eq!(
            cond("nope", Op::Present, None)
                .check(&fields)
                .unwrap_err()
                .0,
            "field"
        );
        assert!(
            cond("title", Op::Eq, Some(CondValue::Text("x".into())))
                .check(&fields)
                .is_ok()
        );
    }
}
