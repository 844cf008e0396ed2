//! Semantic validation of a playbook: the checks `from_toml` and `validate`
//! run once the document has parsed, and the helpers that point a problem
//! at its key and at its line in the TOML text.

use super::*;
use std::collections::HashSet;

/// A path segment used to point at a key.
#[derive(Debug, Clone)]
pub(super) enum Seg {
    Key(&'static str),
    Index(usize),
}

pub(super) struct Found {
    pub(super) path: Vec<Seg>,
    pub(super) message: String,
}

pub(super) fn key_string(path: &[Seg]) -> String {
    let mut s = String::new();
    for seg in path {
        match seg {
            Seg::Key(k) => {
                if !s.is_empty() {
                    s.push('.');
                }
                s.push_str(k);
            }
            Seg::Index(i) => s.push_str(&format!("[{i}]")),
        }
    }
    s
}

impl Playbook {
    pub(super) fn problems(&self) -> Vec<Found> {
        let mut out = Vec::new();
        let mut bad = |path: Vec<Seg>, message: String| out.push(Found { path, message });

        if self.name.trim().is_empty() {
            bad(vec![Seg::Key("name")], "the playbook needs a name".into());
        }

        // Stages: each once, funnel stages in funnel order, the essential ones present.
        let mut seen = HashSet::new();
        let mut last_rank = None;
        for (i, s) in self.stages.iter().enumerate() {
            let at = |k| vec![Seg::Key("stages"), Seg::Index(i), Seg::Key(k)];
            if !seen.insert(s.id) {
                bad(at("id"), format!("stage {} is listed twice", s.id));
            }
            if let Some(rank) = s.id.funnel_rank() {
                if last_rank.is_some_and(|l| rank < l) {
                    bad(at("id"), format!("stage {} is out of funnel order", s.id));
                }
                last_rank = Some(rank);
            }
            if s.entry_criterion.trim().is_empty() {
                bad(
                    at("entry_criterion"),
                    format!("stage {} needs a written entry criterion", s.id),
                );
            }
            if s.name.trim().is_empty() {
                bad(at("name"), "a stage needs a name".into());
            }
        }
        for needed in [
            Stage::Lead,
            Stage::Mql,
            Stage::Customer,
            Stage::Recycled,
            Stage::Disqualified,
        ] {
            if !seen.contains(&needed) {
                bad(
                    vec![Seg::Key("stages")],
                    format!("stage {needed} is required"),
                );
            }
        }

        let kinds = unique_ids(
            self.touch_kinds.iter().map(|k| k.id.as_str()),
            "touch_kinds",
            "id",
            &mut bad,
        );
        let channels = unique_ids(
            self.channels.iter().map(|c| c.id.as_str()),
            "channels",
            "id",
            &mut bad,
        );
        let personas = unique_ids(
            self.personas.iter().map(|p| p.id.as_str()),
            "personas",
            "id",
            &mut bad,
        );
        unique_ids(
            self.rejection_reasons.iter().map(|r| r.code.as_str()),
            "rejection_reasons",
            "code",
            &mut bad,
        );
        unique_ids(
            self.scoring.fit_rules.iter().map(|r| r.id.as_str()),
            "fit_rules",
            "id",
            &mut bad,
        );
        unique_ids(
            self.scoring.engagement_rules.iter().map(|r| r.id.as_str()),
            "engagement_rules",
            "id",
            &mut bad,
        );

        if self.channels.is_empty() {
            bad(
                vec![Seg::Key("channels")],
                "the channel taxonomy needs at least one channel".into(),
            );
        }
        for (i, rule) in self.channel_rules.iter().enumerate() {
            if !channels.contains(rule.channel.as_str()) {
                bad(
                    vec![
                        Seg::Key("channel_rules"),
                        Seg::Index(i),
                        Seg::Key("channel"),
                    ],
                    format!("unknown channel {:?}", rule.channel),
                );
            }
            check_conditions(
                &rule.when,
                TOUCH_FIELDS,
                vec![Seg::Key("channel_rules"), Seg::Index(i)],
                &mut bad,
            );
        }
        match self.channel_rules.last() {
            Some(last) if last.when.is_empty() => {}
            _ => bad(
                vec![Seg::Key("channel_rules")],
                "the last channel rule must have no conditions, so that every touch gets a channel"
                    .into(),
            ),
        }

        for (i, p) in self.personas.iter().enumerate() {
            check_conditions(
                &p.when,
                PROFILE_FIELDS,
                vec![Seg::Key("personas"), Seg::Index(i)],
                &mut bad,
            );
        }

        let sc = &self.scoring;
        for (i, r) in sc.fit_rules.iter().enumerate() {
            let base = vec![Seg::Key("scoring"), Seg::Key("fit_rules"), Seg::Index(i)];
            check_conditions(&r.when, PROFILE_FIELDS, base.clone(), &mut bad);
            // A persona test must name a persona that exists.
            for (j, c) in r.when.iter().enumerate() {
                if c.field == "contact.persona" {
                    for v in condition_texts(c) {
                        if !personas.contains(v.as_str()) {
                            let mut p = base.clone();
                            p.extend([Seg::Key("when"), Seg::Index(j), Seg::Key("value")]);
                            bad(p, format!("unknown persona {v:?}"));
                        }
                    }
                }
            }
        }
        for (i, r) in sc.engagement_rules.iter().enumerate() {
            let at = |k| {
                vec![
                    Seg::Key("scoring"),
                    Seg::Key("engagement_rules"),
                    Seg::Index(i),
                    Seg::Key(k),
                ]
            };
            if r.kind.is_none() && r.channel.is_none() {
                bad(
                    at("kind"),
                    "an engagement rule needs a kind, a channel or both".into(),
                );
            }
            if let Some(k) = &r.kind
                && !kinds.contains(k.as_str())
            {
                bad(at("kind"), format!("unknown touch kind {k:?}"));
            }
            if let Some(c) = &r.channel
                && !channels.contains(c.as_str())
            {
                bad(at("channel"), format!("unknown channel {c:?}"));
            }
        }
        let at = |k| vec![Seg::Key("scoring"), Seg::Key(k)];
        if !(sc.engagement_half_life_days.is_finite() && sc.engagement_half_life_days > 0.0) {
            bad(
                at("engagement_half_life_days"),
                "the half-life must be a positive number of days".into(),
            );
        }
        if sc.mql_fit_min < 0 {
            bad(
                at("mql_fit_min"),
                "the fit threshold must not be negative".into(),
            );
        }
        if !(sc.mql_engagement_min.is_finite() && sc.mql_engagement_min >= 0.0) {
            bad(
                at("mql_engagement_min"),
                "the engagement threshold must be a number ≥ 0".into(),
            );
        }
        for (i, k) in sc.hand_raiser_kinds.iter().enumerate() {
            if !kinds.contains(k.as_str()) {
                bad(
                    vec![
                        Seg::Key("scoring"),
                        Seg::Key("hand_raiser_kinds"),
                        Seg::Index(i),
                    ],
                    format!("unknown touch kind {k:?}"),
                );
            }
        }

        if self.pipeline_stages.is_empty() {
            bad(
                vec![Seg::Key("pipeline_stages")],
                "the sales pipeline needs at least one stage".into(),
            );
        }
        for (i, st) in self.pipeline_stages.iter().enumerate() {
            if st.trim().is_empty() || self.pipeline_stages[..i].contains(st) {
                bad(
                    vec![Seg::Key("pipeline_stages"), Seg::Index(i)],
                    format!("{st:?} is empty or listed twice"),
                );
            }
        }
        if self.rejection_reasons.is_empty() {
            bad(
                vec![Seg::Key("rejection_reasons")],
                "sales needs at least one rejection reason".into(),
            );
        }
        let r = &self.routing;
        if !(r.skip_if_off_hours_longer_than_hours.is_finite()
            && r.skip_if_off_hours_longer_than_hours >= 0.0)
        {
            bad(
                vec![
                    Seg::Key("routing"),
                    Seg::Key("skip_if_off_hours_longer_than_hours"),
                ],
                "must be a number of hours ≥ 0".into(),
            );
        }
        if r.default_capacity == 0 {
            bad(
                vec![Seg::Key("routing"), Seg::Key("default_capacity")],
                "must be at least 1".into(),
            );
        }
        for (i, t) in r.territories.iter().enumerate() {
            let base = vec![Seg::Key("routing"), Seg::Key("territories"), Seg::Index(i)];
            if t.name.trim().is_empty() {
                let mut p = base.clone();
                p.push(Seg::Key("name"));
                bad(p, "a territory needs a name".into());
            }
            if t.reps.is_empty() {
                let mut p = base.clone();
                p.push(Seg::Key("reps"));
                bad(p, "a territory needs at least one rep".into());
            }
            check_conditions(&t.when, PROFILE_FIELDS, base, &mut bad);
        }

        if let Err(e) = crate::calendar::WorkingCalendar::from_spec(&self.calendar) {
            let mut path = vec![Seg::Key("calendar")];
            // The calendar names its own fields; point at the table.
            if e.field == "time_zone" {
                path.push(Seg::Key("time_zone"));
            }
            bad(path, format!("{}: {}", e.field, e.message));
        }

        for (i, h) in self.own_hosts.iter().enumerate() {
            let h = h.trim();
            if h.is_empty() || h.contains(['/', ':', ' ', '?', '#']) {
                bad(
                    vec![Seg::Key("own_hosts"), Seg::Index(i)],
                    format!("{h:?} is not a host name such as \"example.com\""),
                );
            }
        }
        let rc = &self.recycle;
        let recycle_at = |k| vec![Seg::Key("recycle"), Seg::Key(k)];
        if !(rc.nurture_days.is_finite() && rc.nurture_days >= 0.0) {
            bad(
                recycle_at("nurture_days"),
                "must be a number of days ≥ 0".into(),
            );
        }
        if !(rc.no_follow_up_working_days.is_finite() && rc.no_follow_up_working_days > 0.0) {
            bad(
                recycle_at("no_follow_up_working_days"),
                "must be a positive number of working days".into(),
            );
        }
        let is_reason = |code: &str| self.rejection_reasons.iter().any(|r| r.code == code);
        // A playbook stored before the recycle section existed keeps its
        // defaults, which may name reasons it lacks: it must still read.
        // Such a default is then not applied (see `RecyclePolicy`); a value
        // someone wrote must name a reason.
        let defaults = super::RecyclePolicy::default();
        for (key, code, default) in [
            (
                "lost_deal_reason",
                &rc.lost_deal_reason,
                &defaults.lost_deal_reason,
            ),
            (
                "no_follow_up_reason",
                &rc.no_follow_up_reason,
                &defaults.no_follow_up_reason,
            ),
        ] {
            if code != default && !is_reason(code) {
                bad(
                    recycle_at(key),
                    format!("{code:?} is not a rejection reason of the playbook"),
                );
            }
        }
        for (i, r) in rc.lost_reasons.iter().enumerate() {
            if !is_reason(&r.reason) {
                bad(
                    vec![
                        Seg::Key("recycle"),
                        Seg::Key("lost_reasons"),
                        Seg::Index(i),
                        Seg::Key("reason"),
                    ],
                    format!("{:?} is not a rejection reason of the playbook", r.reason),
                );
            }
        }

        let sla = &self.sla;
        let at = |k| vec![Seg::Key("sla"), Seg::Key(k)];
        for (key, v) in [
            ("first_touch_working_hours", sla.first_touch_working_hours),
            (
                "attempts_within_working_days",
                sla.attempts_within_working_days,
            ),
            (
                "decision_within_working_days",
                sla.decision_within_working_days,
            ),
        ] {
            if !(v.is_finite() && v > 0.0) {
                bad(at(key), "must be a positive number".into());
            }
        }
        if sla.attempts == 0 {
            bad(at("attempts"), "must be at least 1".into());
        }
        for (key, v) in [
            ("at_risk_share", sla.at_risk_share),
            ("min_acceptance_rate", sla.min_acceptance_rate),
        ] {
            if !(v > 0.0 && v <= 1.0) {
                bad(at(key), "must be a share between 0 (excluded) and 1".into());
            }
        }
        out
    }
}

fn unique_ids<'a>(
    ids: impl Iterator<Item = &'a str>,
    list: &'static str,
    key: &'static str,
    bad: &mut impl FnMut(Vec<Seg>, String),
) -> HashSet<&'a str> {
    let mut seen = HashSet::new();
    let base: Vec<Seg> = match list {
        "fit_rules" | "engagement_rules" => vec![Seg::Key("scoring"), Seg::Key(list)],
        _ => vec![Seg::Key(list)],
    };
    for (i, id) in ids.enumerate() {
        let mut path = base.clone();
        path.extend([Seg::Index(i), Seg::Key(key)]);
        let snake = !id.is_empty()
            && id
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if !snake {
            bad(path, format!("{id:?} must be a lower-case snake_case code"));
        } else if !seen.insert(id) {
            bad(path, format!("{id:?} is listed twice"));
        }
    }
    seen
}

fn check_conditions(
    conds: &[Condition],
    fields: &[&str],
    base: Vec<Seg>,
    bad: &mut impl FnMut(Vec<Seg>, String),
) {
    for (j, c) in conds.iter().enumerate() {
        if let Err((key, msg)) = c.check(fields) {
            let mut p = base.clone();
            p.extend([Seg::Key("when"), Seg::Index(j), Seg::Key(key)]);
            bad(p, msg);
        }
    }
}

fn condition_texts(c: &Condition) -> Vec<String> {
    use crate::condition::CondValue;
    match &c.value {
        Some(CondValue::Text(t)) => vec![t.clone()],
        Some(CondValue::List(l)) => l.clone(),
        _ => vec![],
    }
}

/// 1-based line and column of a byte offset.
pub(super) fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before
        .rsplit('\n')
        .next()
        .map(|l| l.chars().count())
        .unwrap_or(0)
        + 1;
    (line, column)
}

/// The byte offset of the deepest part of `path` found in the document.
pub(super) fn locate(doc: &toml_edit::ImDocument<&str>, path: &[Seg]) -> Option<usize> {
    use toml_edit::{Item, Value};
    #[derive(Clone, Copy)]
    enum Node<'a> {
        Item(&'a Item),
        Table(&'a toml_edit::Table),
        Value(&'a Value),
    }
    let mut node = Node::Item(doc.as_item());
    let mut best: Option<usize> = None;
    for seg in path {
        let next = match (node, seg) {
            (Node::Item(Item::Table(t)), Seg::Key(k)) | (Node::Table(t), Seg::Key(k)) => {
                if let Some(key) = t.key(k) {
                    best = key.span().map(|s| s.start).or(best);
                }
                t.get(k).map(Node::Item)
            }
            (Node::Item(Item::ArrayOfTables(a)), Seg::Index(i)) => a.get(*i).map(|t| {
                best = t.span().map(|s| s.start).or(best);
                Node::Table(t)
            }),
            (Node::Item(Item::Value(v)), seg) | (Node::Value(v), seg) => match (v, seg) {
                (Value::Array(a), Seg::Index(i)) => a.get(*i).map(Node::Value),
                (Value::InlineTable(t), Seg::Key(k)) => {
                    if let Some(key) = t.key(k) {
                        best = key.span().map(|s| s.start).or(best);
                    }
                    t.get(k).map(Node::Value)
                }
                _ => None,
            },
            _ => None,
        };
        match next {
            Some(n) => {
                if let Node::Value(v) = &n {
                    best = v.span().map(|s| s.start).or(best);
                }
                node = n;
            }
            None => break,
        }
    }
    best
}
