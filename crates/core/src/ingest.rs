//! The Segment HTTP tracking spec at the boundary: one message or a batch is
//! parsed and checked (types, required ids, Segment's size limits), batch
//! defaults are applied, the client's clock skew is corrected, and what a
//! message means for marketing (UTM fields, click ids, referrer — as the
//! playbook's [`TouchSignals`] — and traits) is read out of it.

use crate::playbook::TouchSignals;
use crate::{Instant, Invalid};
use serde_json::{Map, Value};

/// Segment's limit for one message, in bytes of JSON.
pub const MAX_MESSAGE_BYTES: usize = 32 * 1024;
/// Segment's limit for one batch request, in bytes of JSON.
pub const MAX_BATCH_BYTES: usize = 500 * 1024;
/// Segment's limit of messages in one batch.
pub const MAX_BATCH_MESSAGES: usize = 2500;
/// Longest id (messageId, userId, anonymousId, groupId) kept.
const MAX_ID: usize = 200;

/// The message types of the spec.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MessageType {
    Identify,
    Track,
    Page,
    Screen,
    Group,
    Alias,
}

impl MessageType {
    pub const ALL: [MessageType; 6] = [
        MessageType::Identify,
        MessageType::Track,
        MessageType::Page,
        MessageType::Screen,
        MessageType::Group,
        MessageType::Alias,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            MessageType::Identify => "identify",
            MessageType::Track => "track",
            MessageType::Page => "page",
            MessageType::Screen => "screen",
            MessageType::Group => "group",
            MessageType::Alias => "alias",
        }
    }

    /// analytics.js's one-letter path (`/v1/t`).
    pub fn short(self) -> &'static str {
        &self.as_str()[..1]
    }

    /// The type a message's `type` names; analytics.js's one-letter forms
    /// are accepted too.
    pub fn parse(s: &str) -> Option<MessageType> {
        MessageType::ALL
            .into_iter()
            .find(|t| t.as_str() == s || t.short() == s)
    }
}

/// One checked message, ready to be stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    pub kind: MessageType,
    /// The client's id for de-duplication; `None` when it sent none.
    pub message_id: Option<String>,
    pub user_id: Option<String>,
    pub anonymous_id: Option<String>,
    /// The event instant, corrected for the client's clock.
    pub timestamp: Instant,
    /// The message as received, with the batch's `integrations` and
    /// `sentAt` applied; a batch's shared `context` only once read back
    /// ([`Message::from_stored`]).
    pub body: Map<String, Value>,
    /// `body` as JSON text, as it is stored.
    pub json: String,
    /// The batch's shared `context` as JSON: one text for all the batch's
    /// messages, stored once, not copied into each.
    pub context: Option<std::sync::Arc<String>>,
}

/// What applies to every message of a request: when it arrived and the
/// batch's top-level `context`, `integrations` and `sentAt`.
#[derive(Debug, Clone, Default)]
pub struct Defaults {
    /// The shared context as JSON text (serialised once).
    pub context: Option<std::sync::Arc<String>>,
    pub integrations: Option<Value>,
    pub sent_at: Option<Value>,
}

/// The write key in a body (`writeKey`), if any.
pub fn write_key(body: &Value) -> Option<&str> {
    body.get("writeKey").and_then(Value::as_str)
}

/// Parses a request body: a single message of type `path_type`, or (when
/// `path_type` is `None`) a batch `{"batch": [...]}`. Problems name the
/// field, with the item's position in a batch (`batch[3].userId`).
pub fn parse_request(
    body: &[u8],
    path_type: Option<MessageType>,
    received_at: Instant,
) -> Result<Vec<Message>, Invalid> {
    let limit = if path_type.is_some() {
        MAX_MESSAGE_BYTES
    } else {
        MAX_BATCH_BYTES
    };
    if body.len() > limit {
        return Err(Invalid::new(
            if path_type.is_some() {
                "message_too_large"
            } else {
                "batch_too_large"
            },
            "body",
            format!("{} bytes; the limit is {limit}", body.len()),
        ));
    }
    let value: Value = serde_json::from_slice(body).map_err(|e| {
        Invalid::new(
            "invalid_json",
            "body",
            format!("not JSON: {e} (line {}, column {})", e.line(), e.column()),
        )
    })?;
    let Value::Object(mut top) = value else {
        return Err(Invalid::new(
            "invalid_message",
            "body",
            "a message is a JSON object",
        ));
    };
    match path_type {
        Some(kind) => {
            top.remove("writeKey");
            parse_message(top, Some(kind), &Defaults::default(), received_at, "").map(|m| vec![m])
        }
        None => {
            let items = match top.remove("batch") {
                Some(Value::Array(items)) => items,
                Some(_) => {
                    return Err(Invalid::new(
                        "invalid_batch",
                        "batch",
                        "batch is an array of messages",
                    ));
                }
                None => {
                    return Err(Invalid::new(
                        "required",
                        "batch",
                        "a batch request has a \"batch\" array",
                    ));
                }
            };
            if items.len() > MAX_BATCH_MESSAGES {
                return Err(Invalid::new(
                    "batch_too_large",
                    "batch",
                    format!(
                        "{} messages; the limit is {MAX_BATCH_MESSAGES}",
                        items.len()
                    ),
                ));
            }
            let defaults = Defaults {
                context: match top.remove("context") {
                    Some(mut c @ Value::Object(_)) => {
                        strip_controls(&mut c);
                        Some(std::sync::Arc::new(
                            serde_json::to_string(&c).expect("a JSON map serialises"),
                        ))
                    }
                    None | Some(Value::Null) => None,
                    Some(_) => {
                        return Err(Invalid::new(
                            "invalid_type",
                            "context",
                            "context is an object",
                        ));
                    }
                },
                integrations: top.remove("integrations"),
                sent_at: top.remove("sentAt"),
            };
            // The batch limit holds for the messages as they read: a
            // shared context counts once per item (it is stored once, but
            // each item is applied with it), so a small request cannot
            // stand for a large one.
            let mut kept = 0usize;
            let mut messages = Vec::with_capacity(items.len());
            for (i, item) in items.into_iter().enumerate() {
                let at = format!("batch[{i}].");
                let Value::Object(m) = item else {
                    return Err(Invalid::new(
                        "invalid_message",
                        format!("batch[{i}]"),
                        "a message is a JSON object",
                    ));
                };
                let message = parse_message(m, None, &defaults, received_at, &at)?;
                kept += message.json.len() + message.context.as_ref().map_or(0, |c| c.len());
                if kept > MAX_BATCH_BYTES {
                    return Err(Invalid::new(
                        "batch_too_large",
                        "batch",
                        format!(
                            "more than {MAX_BATCH_BYTES} bytes once the batch's context is applied to each message (at batch[{i}])"
                        ),
                    ));
                }
                messages.push(message);
            }
            Ok(messages)
        }
    }
}

/// The keys of a message that hold ids.
const ID_KEYS: [&str; 5] = [
    "messageId",
    "userId",
    "anonymousId",
    "groupId",
    "previousId",
];

/// Whether `c` is taken out of texts: a control character other than tab
/// and line breaks.
fn is_stripped(c: char) -> bool {
    c.is_control() && !matches!(c, '\t' | '\n' | '\r')
}

/// Takes control characters out of every string and key in `v`.
fn strip_controls(v: &mut Value) {
    match v {
        Value::String(s) if s.contains(is_stripped) => s.retain(|c| !is_stripped(c)),
        Value::Array(items) => items.iter_mut().for_each(strip_controls),
        Value::Object(o) => {
            if o.keys().any(|k| k.contains(is_stripped)) {
                *o = std::mem::take(o)
                    .into_iter()
                    .map(|(mut k, v)| {
                        k.retain(|c| !is_stripped(c));
                        (k, v)
                    })
                    .collect();
            }
            o.values_mut().for_each(strip_controls);
        }
        _ => {}
    }
}

/// An id field: a string, or a number (some clients send numeric user ids).
fn id(m: &Map<String, Value>, key: &str, at: &str) -> Result<Option<String>, Invalid> {
    match m.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
        Some(Value::String(s)) if s.len() > MAX_ID => Err(Invalid::new(
            "too_long",
            format!("{at}{key}"),
            format!("at most {MAX_ID} bytes"),
        )),
        // Control characters (NUL above all, which PostgreSQL text refuses)
        // have no place in an id.
        Some(Value::String(s)) if s.chars().any(char::is_control) => Err(Invalid::new(
            "invalid_id",
            format!("{at}{key}"),
            format!("{key} contains a control character"),
        )),
        Some(Value::String(s)) => Ok(Some(s.trim().to_string())),
        Some(Value::Number(n)) => Ok(Some(n.to_string())),
        Some(_) => Err(Invalid::new(
            "invalid_type",
            format!("{at}{key}"),
            format!("{key} is a string"),
        )),
    }
}

fn instant(m: &Map<String, Value>, key: &str, at: &str) -> Result<Option<Instant>, Invalid> {
    match m.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Instant::parse(s, &format!("{at}{key}")).map(Some),
        Some(_) => Err(Invalid::new(
            "invalid_instant",
            format!("{at}{key}"),
            format!("{key} is an ISO 8601 instant string"),
        )),
    }
}

fn parse_message(
    mut m: Map<String, Value>,
    path_type: Option<MessageType>,
    defaults: &Defaults,
    received_at: Instant,
    at: &str,
) -> Result<Message, Invalid> {
    let kind = match (path_type, m.get("type")) {
        (Some(k), _) => k,
        (None, Some(Value::String(t))) => MessageType::parse(t).ok_or_else(|| {
            Invalid::new(
                "unknown_type",
                format!("{at}type"),
                format!("{t:?} is not identify, track, page, screen, group or alias"),
            )
        })?,
        (None, _) => {
            return Err(Invalid::new(
                "required",
                format!("{at}type"),
                "each batch item names its type",
            ));
        }
    };
    m.insert("type".into(), Value::String(kind.as_str().into()));
    // The batch's defaults; the item's own keys win. The shared context is
    // kept beside the message and applied when it is read back.
    for (key, v) in [
        ("integrations", &defaults.integrations),
        ("sentAt", &defaults.sent_at),
    ] {
        if let Some(v) = v {
            m.entry(key).or_insert_with(|| v.clone());
        }
    }
    for key in ["context", "traits", "properties"] {
        if !matches!(
            m.get(key),
            None | Some(Value::Null) | Some(Value::Object(_))
        ) {
            return Err(Invalid::new(
                "invalid_type",
                format!("{at}{key}"),
                format!("{key} is an object"),
            ));
        }
    }
    // Control characters (NUL above all, which PostgreSQL text refuses)
    // come out of every text the message carries, so what is kept applies
    // the same on both databases; ids are refused instead (see `id`).
    for (key, v) in m.iter_mut() {
        if !ID_KEYS.contains(&key.as_str()) {
            strip_controls(v);
        }
    }
    // Serialised once: the size check and the stored payload are the same
    // text; the shared context counts as if copied in.
    let json = serde_json::to_string(&m).expect("a JSON map serialises");
    let size = json.len() + defaults.context.as_ref().map_or(0, |c| c.len());
    if size > MAX_MESSAGE_BYTES {
        return Err(Invalid::new(
            "message_too_large",
            at.trim_end_matches('.').to_string(),
            format!("{size} bytes; the limit is {MAX_MESSAGE_BYTES}"),
        ));
    }
    let message_id = id(&m, "messageId", at)?;
    let user_id = id(&m, "userId", at)?;
    let anonymous_id = id(&m, "anonymousId", at)?;
    if user_id.is_none() && anonymous_id.is_none() {
        return Err(Invalid::new(
            "required",
            format!("{at}userId"),
            "a message names its user by userId or anonymousId",
        ));
    }
    let track_without_event = kind == MessageType::Track
        && !matches!(m.get("event"), Some(Value::String(e)) if !e.trim().is_empty());
    if track_without_event {
        return Err(Invalid::new(
            "required",
            format!("{at}event"),
            "a track message names its event",
        ));
    }
    if kind == MessageType::Group && id(&m, "groupId", at)?.is_none() {
        return Err(Invalid::new(
            "required",
            format!("{at}groupId"),
            "a group message names its groupId",
        ));
    }
    if kind == MessageType::Alias && (id(&m, "previousId", at)?.is_none() || user_id.is_none()) {
        return Err(Invalid::new(
            "required",
            format!("{at}previousId"),
            "an alias message names previousId and userId",
        ));
    }
    // The client's clock: an explicit timestamp is kept (historical
    // imports); otherwise the time it recorded, shifted by how far its
    // clock was off when it sent (sentAt against our receipt).
    let timestamp = match instant(&m, "timestamp", at)? {
        Some(t) => t,
        None => {
            let original = instant(&m, "originalTimestamp", at)?;
            let sent = instant(&m, "sentAt", at)?;
            match (original, sent) {
                (Some(o), Some(s)) => Instant::from_millis(
                    received_at.millis() - (s.millis() - o.millis()),
                )
                .map_err(|e| Invalid {
                    field: format!("{at}sentAt"),
                    ..e
                })?,
                (Some(o), None) => o,
                (None, _) => received_at,
            }
        }
    };
    Ok(Message {
        kind,
        message_id,
        user_id,
        anonymous_id,
        timestamp,
        body: m,
        json,
        context: defaults.context.clone(),
    })
}

/// Applies a batch's shared context to one of its messages: the keys the
/// message's own context lacks are filled in; a message without a context
/// gets the shared one whole.
pub fn apply_context(body: &mut Map<String, Value>, shared: Map<String, Value>) {
    match body.get_mut("context") {
        Some(Value::Object(own)) => {
            for (k, v) in shared {
                own.entry(k).or_insert(v);
            }
        }
        None | Some(Value::Null) => {
            body.insert("context".into(), Value::Object(shared));
        }
        Some(_) => {}
    }
}

fn text_at<'a>(m: &'a Map<String, Value>, path: &[&str]) -> Option<&'a str> {
    let (first, rest) = path.split_first()?;
    rest.iter()
        .try_fold(m.get(*first)?, |v, k| v.get(k))
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

/// The query parameters of a URL or of a `?a=b&c=d` search string.
fn query_params(url: &str) -> Vec<(String, String)> {
    let query = match url.split_once('?') {
        Some((_, q)) => q,
        None => return vec![],
    };
    let query = query.split('#').next().unwrap_or("");
    form_urlencoded::parse(query.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

impl Message {
    /// A kept message read back: its body as stored, with its batch's
    /// shared context (`context`, as stored once) applied — the item's own
    /// context keys win — and its corrected instant.
    pub fn from_stored(
        payload: String,
        context: Option<&str>,
        timestamp: Instant,
    ) -> Result<Message, Invalid> {
        let mut body: Map<String, Value> = serde_json::from_str(&payload)
            .map_err(|e| Invalid::new("invalid_json", "payload", e.to_string()))?;
        if let Some(shared) = context {
            let shared: Map<String, Value> = serde_json::from_str(shared)
                .map_err(|e| Invalid::new("invalid_json", "context", e.to_string()))?;
            apply_context(&mut body, shared);
        }
        let kind = body
            .get("type")
            .and_then(Value::as_str)
            .and_then(MessageType::parse)
            .ok_or_else(|| Invalid::new("unknown_type", "type", "a kept event has no type"))?;
        Ok(Message {
            kind,
            message_id: id(&body, "messageId", "")?,
            user_id: id(&body, "userId", "")?,
            anonymous_id: id(&body, "anonymousId", "")?,
            timestamp,
            body,
            json: payload,
            context: None,
        })
    }

    /// A non-empty text at a path of keys (`["traits", "address", "country"]`).
    pub fn text_at(&self, path: &[&str]) -> Option<String> {
        text_at(&self.body, path).map(str::to_string)
    }

    /// Where the visit came from, as the playbook's channel rules read it
    /// (UTM fields, click ids, referrer, page; the kind is the caller's).
    /// `context.campaign` wins over the page URL's `utm_*` parameters; a page
    /// message's own `properties.url` and `properties.referrer` count as its
    /// page.
    pub fn origin(&self) -> TouchSignals {
        let b = &self.body;
        let page_url = text_at(b, &["context", "page", "url"])
            .or_else(|| text_at(b, &["properties", "url"]))
            .map(str::to_string);
        let search = text_at(b, &["context", "page", "search"]);
        let mut params = page_url.as_deref().map(query_params).unwrap_or_default();
        if let Some(s) = search {
            params.extend(query_params(&format!("?{}", s.trim_start_matches('?'))));
        }
        let param = |k: &str| {
            params
                .iter()
                .find(|(pk, v)| pk == k && !v.trim().is_empty())
                .map(|(_, v)| v.trim().to_string())
        };
        let campaign = |k: &str, utm: &str| {
            text_at(b, &["context", "campaign", k])
                .map(str::to_string)
                .or_else(|| param(utm))
        };
        TouchSignals {
            utm_source: campaign("source", "utm_source"),
            utm_medium: campaign("medium", "utm_medium"),
            utm_campaign: campaign("name", "utm_campaign"),
            utm_term: campaign("term", "utm_term"),
            utm_content: campaign("content", "utm_content"),
            referrer: text_at(b, &["context", "page", "referrer"])
                .or_else(|| text_at(b, &["properties", "referrer"]))
                .or_else(|| text_at(b, &["context", "referrer", "url"]))
                .map(str::to_string),
            // Click ids from the page URL, else kept with the session's
            // campaign (the tracking script carries them on later pages).
            gclid: campaign("gclid", "gclid"),
            fbclid: campaign("fbclid", "fbclid"),
            msclkid: campaign("msclkid", "msclkid"),
            li_fat_id: campaign("li_fat_id", "li_fat_id"),
            kind: None,
            page_url,
        }
    }

    /// A trait of an identify (`traits`) or, as Segment's libraries send
    /// them on other calls, `context.traits`.
    pub fn trait_text(&self, key: &str) -> Option<String> {
        let b = &self.body;
        text_at(b, &["traits", key])
            .or_else(|| text_at(b, &["context", "traits", key]))
            .map(str::to_string)
    }

    /// A text field of the message itself (`event`, `previousId`, `groupId`, `name`).
    pub fn text(&self, key: &str) -> Option<String> {
        match self.body.get(key) {
            Some(Value::String(s)) if !s.trim().is_empty() => Some(s.trim().to_string()),
            Some(Value::Number(n)) => Some(n.to_string()),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn at(s: &str) -> Instant {
        Instant::parse(s, "t").unwrap()
    }

    fn one(body: Value, kind: MessageType) -> Result<Message, Invalid> {
        parse_request(
            body.to_string().as_bytes(),
            Some(kind),
            at("2026-01-01T12:00:00Z"),
        )
        .map(|mut v| v.remove(0))
    }

    #[test]
    fn clock_skew_is_corrected_and_an_explicit_timestamp_is_kept() {
        // The client's clock runs 10 minutes fast: it recorded the event
        // 2 s before it sent it; we received it at 12:00.
        let m = one(
            json!({"anonymousId": "a", "originalTimestamp": "2026-01-01T12:09:58Z",
                   "sentAt": "2026-01-01T12:10:00Z"}),
            MessageType::Page,
        )
        .unwrap();
        assert_eq!(m.timestamp, at("2026-01-01T11:59:58Z"));
        let m = one(
            json!({"anonymousId": "a", "timestamp": "2020-05-01T00:00:00.250+02:00",
                   "sentAt": "2026-01-01T12:10:00Z", "originalTimestamp": "2026-01-01T12:09:58Z"}),
            MessageType::Page,
        )
        .unwrap();
        assert_eq!(m.timestamp, at("2020-04-30T22:00:00.250Z"));
        let m = one(json!({"userId": 42}), MessageType::Identify).unwrap();
        assert_eq!(
            (m.timestamp, m.user_id.as_deref()),
            (at("2026-01-01T12:00:00Z"), Some("42"))
        );
    }

    #[test]
    fn batch_defaults_apply_and_the_items_own_keys_win() {
        let body = json!({
            "writeKey": "k",
            "sentAt": "2026-01-01T12:00:05Z",
            "context": {"library": {"name": "analytics-python"}, "ip": "1.2.3.4"},
            "batch": [
                {"type": "track", "event": "Demo Requested", "userId": "u1", "messageId": "m1",
                 "originalTimestamp": "2026-01-01T12:00:00Z", "context": {"ip": "5.6.7.8"}},
                {"type": "p", "anonymousId": "a1", "sentAt": "2026-01-01T12:00:01Z",
                 "originalTimestamp": "2026-01-01T12:00:00Z"}
            ]
        });
        let v = parse_request(
            body.to_string().as_bytes(),
            None,
            at("2026-01-01T12:00:10Z"),
        )
        .unwrap();
        assert_eq!(v[0].kind, MessageType::Track);
        // The shared context is kept once, beside the messages, and applied
        // when they are read back.
        let shared = v[0].context.clone().expect("the batch's context");
        assert!(std::sync::Arc::ptr_eq(
            &shared,
            v[1].context.as_ref().unwrap()
        ));
        assert!(!v[0].json.contains("analytics-python"), "{}", v[0].json);
        let read = |m: &Message| {
            Message::from_stored(
                m.json.clone(),
                m.context.as_deref().map(|c| c.as_str()),
                m.timestamp,
            )
            .unwrap()
        };
        let (first, second) = (read(&v[0]), read(&v[1]));
        assert_eq!(first.body["context"]["ip"], "5.6.7.8");
        assert_eq!(first.body["context"]["library"]["name"], "analytics-python");
        assert_eq!(v[0].timestamp, at("2026-01-01T12:00:05Z"));
        assert_eq!(v[1].kind, MessageType::Page);
        assert_eq!(second.body["context"]["ip"], "1.2.3.4");
        // The item's own sentAt wins: 1 s in flight, received at :10.
        assert_eq!(v[1].timestamp, at("2026-01-01T12:00:09Z"));
        assert_eq!(v[0].message_id.as_deref(), Some("m1"));
        assert_eq!(v[1].message_id, None);
    }

    #[test]
    fn malformed_messages_name_their_field() {
        let bad = |body: Value, kind: Option<MessageType>| {
            let e = parse_request(
                body.to_string().as_bytes(),
                kind,
                at("2026-01-01T12:00:00Z"),
            )
            .unwrap_err();
            (e.code, e.field)
        };
        let t = Some(MessageType::Track);
        assert_eq!(bad(json!({"userId": "u"}), t), ("required", "event".into()));
        assert_eq!(bad(json!({"event": "x"}), t), ("required", "userId".into()));
        assert_eq!(
            bad(json!({"event": "x", "userId": ["u"]}), t),
            ("invalid_type", "userId".into())
        );
        assert_eq!(
            bad(
                json!({"event": "x", "userId": "u", "timestamp": "yesterday"}),
                t
            ),
            ("invalid_instant", "timestamp".into())
        );
        assert_eq!(
            bad(json!({"event": "x", "userId": "u", "properties": 3}), t),
            ("invalid_type", "properties".into())
        );
        assert_eq!(
            bad(
                json!({"batch": [{"type": "identify", "userId": "u"}, {"type": "boom", "userId": "u"}]}),
                None
            ),
            ("unknown_type", "batch[1].type".into())
        );
        assert_eq!(
            bad(json!({"batch": [{"userId": "u"}]}), None),
            ("required", "batch[0].type".into())
        );
        assert_eq!(bad(json!({"bat": []}), None), ("required", "batch".into()));
        assert_eq!(
            bad(json!({"event": "x", "anonymousId": "a\u{0}b"}), t),
            ("invalid_id", "anonymousId".into())
        );
        assert_eq!(
            bad(json!({"userId": "u"}), Some(MessageType::Alias)),
            ("required", "previousId".into())
        );
        assert_eq!(
            bad(json!({"userId": "u"}), Some(MessageType::Group)),
            ("required", "groupId".into())
        );
        let e = parse_request(b"{\"userId\": ", t, at("2026-01-01T12:00:00Z")).unwrap_err();
        assert_eq!(e.code, "invalid_json");
        assert_eq!(bad(json!([1, 2]), t), ("invalid_message", "body".into()));
    }

    #[test]
    fn segment_limits_hold() {
        let big = "x".repeat(MAX_MESSAGE_BYTES);
        let e = parse_request(
            json!({"userId": "u", "event": "e", "properties": {"p": big}})
                .to_string()
                .as_bytes(),
            Some(MessageType::Track),
            at("2026-01-01T12:00:00Z"),
        )
        .unwrap_err();
        assert_eq!(e.code, "message_too_large");
        let item = json!({"type": "page", "anonymousId": "a"});
        let many = json!({ "batch": vec![item; MAX_BATCH_MESSAGES + 1] });
        let e = parse_request(
            many.to_string().as_bytes(),
            None,
            at("2026-01-01T12:00:00Z"),
        )
        .unwrap_err();
        assert_eq!((e.code, e.field.as_str()), ("batch_too_large", "batch"));
        // An item just under 32 KB passes; in a batch its limit is named by position.
        let ok = json!({"type": "track", "event": "e", "userId": "u",
                        "properties": {"p": "y".repeat(MAX_MESSAGE_BYTES - 200)}});
        let over = json!({"type": "track", "event": "e", "userId": "u",
                          "properties": {"p": "y".repeat(MAX_MESSAGE_BYTES)}});
        let e = parse_request(
            json!({"batch": [ok, over]}).to_string().as_bytes(),
            None,
            at("2026-01-01T12:00:00Z"),
        )
        .unwrap_err();
        assert_eq!(
            (e.code, e.field.as_str()),
            ("message_too_large", "batch[1]")
        );
        // A 30 KB context shared by 2,500 tiny items: a 100 KB request that
        // would keep 75 MB. The batch limit counts the messages as kept.
        let item = json!({"type": "page", "anonymousId": "a"});
        let amplified = json!({ "context": {"page": {"title": "z".repeat(30_000)}},
                                "batch": vec![item; MAX_BATCH_MESSAGES] });
        let body = amplified.to_string();
        assert!(body.len() < 150_000);
        let e = parse_request(body.as_bytes(), None, at("2026-01-01T12:00:00Z")).unwrap_err();
        assert_eq!((e.code, e.field.as_str()), ("batch_too_large", "batch"));
        assert!(e.message.contains("at batch[1"), "{}", e.message);
    }

    #[test]
    fn control_characters_come_out_of_texts_and_ids_that_have_them_are_refused() {
        let m = one(
            json!({"userId": "u", "event": "Demo\u{0}Requested",
                   "traits": {"name": "Ada\u{0}\u{7}\u{1b} Lovelace\tand\nco", "k\u{0}ey": ["a\u{0}"]}}),
            MessageType::Track,
        )
        .unwrap();
        assert_eq!(m.body["event"], "DemoRequested");
        assert_eq!(m.body["traits"]["name"], "Ada Lovelace\tand\nco");
        assert_eq!(m.body["traits"]["key"], json!(["a"]));
        assert!(!m.json.contains("\\u0000"), "{}", m.json);
    }

    #[test]
    fn origin_reads_campaign_click_ids_and_referrer() {
        let m = one(
            json!({"anonymousId": "a", "context": {
                "campaign": {"source": "google", "medium": "cpc", "name": "Spring Launch"},
                "page": {"url": "https://ex.com/p?utm_source=bing&gclid=abc&utm_term=crm%20tool",
                         "referrer": "https://www.google.com/"}}}),
            MessageType::Page,
        )
        .unwrap();
        let o = m.origin();
        assert_eq!(o.utm_source.as_deref(), Some("google"));
        assert_eq!(o.utm_campaign.as_deref(), Some("Spring Launch"));
        assert_eq!(o.utm_term.as_deref(), Some("crm tool"));
        assert_eq!(o.gclid.as_deref(), Some("abc"));
        assert_eq!(o.referrer.as_deref(), Some("https://www.google.com/"));
        let m = one(
            json!({"userId": "u", "traits": {"email": " Ann@Ex.com "}}),
            MessageType::Identify,
        )
        .unwrap();
        assert_eq!(m.trait_text("email").as_deref(), Some("Ann@Ex.com"));
    }
}
