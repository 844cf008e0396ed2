//! Every problem code the product answers with, in one table with its HTTP
//! status: the server maps errors through it, the OpenAPI document lists
//! it, and a test checks every code in the sources is here.

/// One stable, machine-readable problem code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProblemCode {
    pub code: &'static str,
    /// The HTTP status of the JSON API for it. (Ingestion answers a bad
    /// event with 400 whatever its code, as Segment does.)
    pub status: u16,
    /// What it means, for the API reference.
    pub meaning: &'static str,
}

/// The table, by code.
pub const PROBLEM_CODES: &[ProblemCode] = &[
    ProblemCode {
        code: "activity_settled",
        status: 422,
        meaning: "an activity's outcome is settled once the grace after logging it has passed",
    },
    ProblemCode {
        code: "already_merged",
        status: 422,
        meaning: "the contact was already merged",
    },
    ProblemCode {
        code: "already_unmerged",
        status: 422,
        meaning: "the merge was already undone",
    },
    ProblemCode {
        code: "amount_too_large",
        status: 422,
        meaning: "an amount above the allowed maximum (10^13 minor units)",
    },
    ProblemCode {
        code: "backdated",
        status: 422,
        meaning: "an activity dated earlier than the playbook's grace before it was logged",
    },
    ProblemCode {
        code: "backward_stage_move",
        status: 409,
        meaning: "a move backwards that is not through recycled or disqualified",
    },
    ProblemCode {
        code: "batch_too_large",
        status: 422,
        meaning: "a batch over the size or count limit",
    },
    ProblemCode {
        code: "body_too_large",
        status: 413,
        meaning: "a body over the size limit",
    },
    ProblemCode {
        code: "both_handed_off",
        status: 422,
        meaning: "both contacts have an open handoff",
    },
    ProblemCode {
        code: "cannot_disable_self",
        status: 422,
        meaning: "an admin cannot disable their own user",
    },
    ProblemCode {
        code: "csrf_failed",
        status: 403,
        meaning: "a request signed in by cookie changes something without the session's X-CSRF-Token header",
    },
    ProblemCode {
        code: "duplicate_email",
        status: 422,
        meaning: "two inputs of one batch share an e-mail (one already stored is a 409 conflict)",
    },
    ProblemCode {
        code: "duplicate_key",
        status: 422,
        meaning: "a key given twice",
    },
    ProblemCode {
        code: "empty_batch",
        status: 422,
        meaning: "a batch with nothing in it",
    },
    ProblemCode {
        code: "erased_person",
        status: 422,
        meaning: "the person with this e-mail was erased at their request and is not recorded again",
    },
    ProblemCode {
        code: "forbidden",
        status: 403,
        meaning: "the permission table does not allow it",
    },
    ProblemCode {
        code: "handoff_closed",
        status: 422,
        meaning: "the handoff is already decided, or closed when its lead left the loop",
    },
    ProblemCode {
        code: "in_the_future",
        status: 422,
        meaning: "an instant later than now",
    },
    ProblemCode {
        code: "internal",
        status: 500,
        meaning: "the server failed; it is logged",
    },
    ProblemCode {
        code: "invalid_amount",
        status: 422,
        meaning: "not an amount",
    },
    ProblemCode {
        code: "invalid_basis",
        status: 422,
        meaning: "a consent's basis is not one of GDPR article 6's six",
    },
    ProblemCode {
        code: "invalid_batch",
        status: 422,
        meaning: "inputs of a batch are not valid; nothing was stored",
    },
    ProblemCode {
        code: "invalid_capacity",
        status: 422,
        meaning: "not a capacity",
    },
    ProblemCode {
        code: "invalid_close",
        status: 422,
        meaning: "a close that does not fit the deal",
    },
    ProblemCode {
        code: "invalid_cohort_stage",
        status: 422,
        meaning: "a stage that cannot start a cohort",
    },
    ProblemCode {
        code: "invalid_cursor",
        status: 422,
        meaning: "a cursor this list did not give",
    },
    ProblemCode {
        code: "invalid_date",
        status: 422,
        meaning: "not a date",
    },
    ProblemCode {
        code: "invalid_domain",
        status: 422,
        meaning: "not a domain",
    },
    ProblemCode {
        code: "invalid_email",
        status: 422,
        meaning: "not an e-mail address",
    },
    ProblemCode {
        code: "invalid_gzip",
        status: 422,
        meaning: "a body that is not valid gzip",
    },
    ProblemCode {
        code: "invalid_half_life",
        status: 422,
        meaning: "not a half-life",
    },
    ProblemCode {
        code: "invalid_hours",
        status: 422,
        meaning: "not working hours",
    },
    ProblemCode {
        code: "invalid_id",
        status: 422,
        meaning: "not an id",
    },
    ProblemCode {
        code: "invalid_instant",
        status: 422,
        meaning: "not an RFC 3339 instant",
    },
    ProblemCode {
        code: "invalid_json",
        status: 422,
        meaning: "not JSON",
    },
    ProblemCode {
        code: "invalid_limit",
        status: 422,
        meaning: "a page size out of range",
    },
    ProblemCode {
        code: "invalid_message",
        status: 422,
        meaning: "an event that breaks the tracking spec",
    },
    ProblemCode {
        code: "invalid_order",
        status: 422,
        meaning: "a Markov order out of range",
    },
    ProblemCode {
        code: "invalid_origin",
        status: 422,
        meaning: "not an origin",
    },
    ProblemCode {
        code: "invalid_period",
        status: 422,
        meaning: "not a period (2026, 2026-Q4, 2026-11)",
    },
    ProblemCode {
        code: "invalid_playbook",
        status: 422,
        meaning: "a playbook with problems (each with its line and key)",
    },
    ProblemCode {
        code: "invalid_purpose",
        status: 422,
        meaning: "a consent purpose is 1 to 64 lower-case letters, digits and _",
    },
    ProblemCode {
        code: "invalid_query",
        status: 422,
        meaning: "a query string that does not parse",
    },
    ProblemCode {
        code: "invalid_range",
        status: 422,
        meaning: "a range whose end is not after its start",
    },
    ProblemCode {
        code: "invalid_rate",
        status: 422,
        meaning: "a rate out of range",
    },
    ProblemCode {
        code: "invalid_reset_link",
        status: 422,
        meaning: "the password reset link is unknown, used or expired",
    },
    ProblemCode {
        code: "invalid_segment",
        status: 422,
        meaning: "not a segment (dimension=value)",
    },
    ProblemCode {
        code: "invalid_share",
        status: 422,
        meaning: "a share out of (0, 1]",
    },
    ProblemCode {
        code: "invalid_stage",
        status: 422,
        meaning: "a stage that does not fit here",
    },
    ProblemCode {
        code: "invalid_status",
        status: 422,
        meaning: "a status is not one of the values the field takes",
    },
    ProblemCode {
        code: "invalid_type",
        status: 422,
        meaning: "an event type this route does not take",
    },
    ProblemCode {
        code: "invalid_url",
        status: 422,
        meaning: "not a URL",
    },
    ProblemCode {
        code: "invalid_value",
        status: 422,
        meaning: "a value that does not fit the field",
    },
    ProblemCode {
        code: "invalid_weight",
        status: 422,
        meaning: "not a routing weight",
    },
    ProblemCode {
        code: "invalid_window",
        status: 422,
        meaning: "a window out of range",
    },
    ProblemCode {
        code: "invalid_write_key",
        status: 401,
        meaning: "no valid write key",
    },
    ProblemCode {
        code: "malformed_request",
        status: 400,
        meaning: "a body or query that does not parse",
    },
    ProblemCode {
        code: "merged_contact",
        status: 422,
        meaning: "the contact was merged into another; use that one",
    },
    ProblemCode {
        code: "message_too_large",
        status: 422,
        meaning: "an event over 32 KB",
    },
    ProblemCode {
        code: "method_not_allowed",
        status: 405,
        meaning: "the route does not take that method",
    },
    ProblemCode {
        code: "model_needs_touches",
        status: 422,
        meaning: "the model needs touchpoints the conversion lacks",
    },
    ProblemCode {
        code: "negative_amount",
        status: 422,
        meaning: "an amount below zero",
    },
    ProblemCode {
        code: "no_goal",
        status: 422,
        meaning: "no revenue goal is set for the period",
    },
    ProblemCode {
        code: "not_a_rep",
        status: 422,
        meaning: "the user is not a sales rep",
    },
    ProblemCode {
        code: "not_enough_data",
        status: 422,
        meaning: "too little history to measure a rate",
    },
    ProblemCode {
        code: "not_found",
        status: 404,
        meaning: "no such record",
    },
    ProblemCode {
        code: "overlapping_hours",
        status: 422,
        meaning: "working intervals that overlap",
    },
    ProblemCode {
        code: "overloaded",
        status: 503,
        meaning: "too much work queued; retry after the Retry-After seconds",
    },
    ProblemCode {
        code: "private_address",
        status: 422,
        meaning: "a webhook target on a private or loopback address",
    },
    ProblemCode {
        code: "rate_limited",
        status: 429,
        meaning: "the source sent more than its quota of events or bytes a second; retry after the Retry-After seconds",
    },
    ProblemCode {
        code: "reason_required",
        status: 422,
        meaning: "a move to a side state needs a rejection reason",
    },
    ProblemCode {
        code: "request_timeout",
        status: 408,
        meaning: "the request's body did not arrive within the server's body_read_timeout_seconds",
    },
    ProblemCode {
        code: "required",
        status: 422,
        meaning: "a required field is missing",
    },
    ProblemCode {
        code: "route_not_found",
        status: 404,
        meaning: "no such route",
    },
    ProblemCode {
        code: "same_assignee",
        status: 422,
        meaning: "the handoff is already with that rep",
    },
    ProblemCode {
        code: "same_contact",
        status: 422,
        meaning: "a contact cannot merge with itself",
    },
    ProblemCode {
        code: "sign_in_failed",
        status: 401,
        meaning: "the e-mail or password is wrong (the same answer for both)",
    },
    ProblemCode {
        code: "stage_not_in_playbook",
        status: 422,
        meaning: "a stage the playbook does not use",
    },
    ProblemCode {
        code: "stage_unchanged",
        status: 409,
        meaning: "the contact is already at that stage",
    },
    ProblemCode {
        code: "superseded",
        status: 422,
        meaning: "a newer version replaced this one",
    },
    ProblemCode {
        code: "survivor_merged",
        status: 422,
        meaning: "the survivor was itself merged since",
    },
    ProblemCode {
        code: "too_long",
        status: 422,
        meaning: "text over its length limit",
    },
    ProblemCode {
        code: "too_many_states",
        status: 422,
        meaning: "a Markov chain over its state limit",
    },
    ProblemCode {
        code: "unauthorized",
        status: 401,
        meaning: "no valid API token or session",
    },
    ProblemCode {
        code: "unknown_channel",
        status: 422,
        meaning: "not a channel of the playbook",
    },
    ProblemCode {
        code: "unknown_conversion",
        status: 422,
        meaning: "not a conversion (lead, mql, opportunity, won)",
    },
    ProblemCode {
        code: "unknown_dimension",
        status: 422,
        meaning: "not a report dimension",
    },
    ProblemCode {
        code: "unknown_event",
        status: 422,
        meaning: "not a webhook event",
    },
    ProblemCode {
        code: "unknown_format",
        status: 422,
        meaning: "not a format",
    },
    ProblemCode {
        code: "unknown_kind",
        status: 422,
        meaning: "not a kind",
    },
    ProblemCode {
        code: "unknown_model",
        status: 422,
        meaning: "not an attribution model",
    },
    ProblemCode {
        code: "unknown_persona",
        status: 422,
        meaning: "not a persona of the playbook",
    },
    ProblemCode {
        code: "unknown_pipeline_stage",
        status: 422,
        meaning: "not a pipeline stage of the playbook",
    },
    ProblemCode {
        code: "unknown_reason",
        status: 422,
        meaning: "not a rejection reason of the playbook",
    },
    ProblemCode {
        code: "unknown_reference",
        status: 422,
        meaning: "a referenced record that does not exist",
    },
    ProblemCode {
        code: "unknown_stage",
        status: 422,
        meaning: "not a lifecycle stage",
    },
    ProblemCode {
        code: "unknown_time_zone",
        status: 422,
        meaning: "not an IANA time zone",
    },
    ProblemCode {
        code: "unknown_type",
        status: 422,
        meaning: "not a type",
    },
    ProblemCode {
        code: "unknown_value",
        status: 422,
        meaning: "a value outside its closed set",
    },
    ProblemCode {
        code: "unknown_weekday",
        status: 422,
        meaning: "not a weekday",
    },
    ProblemCode {
        code: "unsupported_media_type",
        status: 415,
        meaning: "a content type the route does not take",
    },
    ProblemCode {
        code: "weak_password",
        status: 422,
        meaning: "the password is shorter than 12 characters or is the e-mail address",
    },
    ProblemCode {
        code: "wrong_password",
        status: 422,
        meaning: "the current password given is not right",
    },
];

/// A unique value already taken, reported as `duplicate_<field>`.
pub const DUPLICATE_PREFIX: &str = "duplicate_";

/// The HTTP status of `code`: from the table; a `duplicate_<field>`
/// conflict is 409; anything else (which the test keeps out) 422.
pub fn status_of(code: &str) -> u16 {
    match PROBLEM_CODES.binary_search_by(|p| p.code.cmp(code)) {
        Ok(i) => PROBLEM_CODES[i].status,
        Err(_) if code.starts_with(DUPLICATE_PREFIX) => 409,
        Err(_) => 422,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_is_sorted_and_unique() {
        for w in PROBLEM_CODES.windows(2) {
            assert!(w[0].code < w[1].code, "{} before {}", w[0].code, w[1].code);
        }
    }

    /// Every code written in the sources (an `Invalid::new("…"`, a closed
    /// set's, a lifecycle error's) is in the table.
    #[test]
    fn every_code_in_the_sources_is_in_the_table() {
        let crates = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let mut missing = vec![];
        let mut files = vec![crates];
        while let Some(p) = files.pop() {
            if p.is_dir() {
                for e in std::fs::read_dir(&p).unwrap() {
                    files.push(e.unwrap().path());
                }
                continue;
            }
            if p.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let text = std::fs::read_to_string(&p).unwrap();
            for marker in ["Invalid::new(", "closed_set! {"] {
                for (at, _) in text.match_indices(marker) {
                    let rest = &text[at + marker.len()..];
                    let Some(open) = rest.find('"') else { continue };
                    let code: String = rest[open + 1..].chars().take_while(|c| *c != '"').collect();
                    let literal = rest[..open].trim_start().is_empty() || marker == "closed_set! {";
                    if literal
                        && code.chars().all(|c| c.is_ascii_lowercase() || c == '_')
                        && !PROBLEM_CODES.iter().any(|p| p.code == code)
                    {
                        missing.push(format!("{code} ({})", p.display()));
                    }
                }
            }
        }
        assert!(
            missing.is_empty(),
            "codes missing from PROBLEM_CODES: {missing:?}"
        );
    }
}
