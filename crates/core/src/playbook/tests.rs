//! Unit tests of the playbook: parsing, validation with lines and keys,
//! channel derivation and persona matching.

use super::*;

#[test]
fn the_default_playbook_is_valid_and_round_trips() {
    let p = Playbook::default_playbook();
    assert!(p.validate().is_ok());
    let again = Playbook::from_toml(&p.to_toml()).unwrap();
    assert_eq!(p, again);
    assert!(p.is_hand_raiser("demo_request"));
    assert_eq!(p.sla.first_touch_working_hours, 4.0);
}

#[test]
fn track_events_map_to_touch_kinds_with_or_without_a_list() {
    let mut p = Playbook::default_playbook();
    assert_eq!(p.kind_for_event("Demo Requested"), Some("demo_request"));
    assert_eq!(
        p.kind_for_event("whitepaper downloaded"),
        Some("content_download")
    );
    assert_eq!(
        p.kind_for_event("Webinar Attended"),
        Some("webinar_attended")
    );
    assert_eq!(p.kind_for_event("Signed Up"), None);
    // A playbook stored before track_events existed still maps the usual names.
    for k in &mut p.touch_kinds {
        k.track_events.clear();
    }
    assert_eq!(p.kind_for_event("Demo Requested"), Some("demo_request"));
    assert_eq!(p.kind_for_event("Email Opened"), Some("email_open"));
    assert_eq!(p.kind_for_event("Page"), None);
}

#[test]
fn serde_errors_name_the_line() {
    let text = DEFAULT_PLAYBOOK_TOML.replacen("id = \"mql\"", "id = \"prospect\"", 1);
    let err = Playbook::from_toml(&text).unwrap_err();
    let p = &err.problems[0];
    let expected_line = text
        .lines()
        .position(|l| l.contains("\"prospect\""))
        .unwrap()
        + 1;
    assert_eq!(p.line, Some(expected_line), "{err}");
    assert!(p.message.contains("prospect"), "{err}");
}

#[test]
fn semantic_errors_name_the_line_and_key() {
    let text = DEFAULT_PLAYBOOK_TOML.replacen("channel = \"webinar\"", "channel = \"tv\"", 1);
    let err = Playbook::from_toml(&text).unwrap_err();
    let p = err
        .problems
        .iter()
        .find(|p| p.message.contains("\"tv\""))
        .expect("tv reported");
    let expected_line = text
        .lines()
        .position(|l| l.contains("channel = \"tv\""))
        .unwrap()
        + 1;
    assert_eq!(p.line, Some(expected_line), "{err}");
    assert!(p.key.ends_with(".channel"), "{}", p.key);
}

#[test]
fn zero_half_life_and_missing_catch_all_are_refused() {
    let mut p = Playbook::default_playbook();
    p.scoring.engagement_half_life_days = 0.0;
    p.channel_rules.pop();
    let err = p.validate().unwrap_err();
    let keys: Vec<_> = err.problems.iter().map(|p| p.key.as_str()).collect();
    assert!(
        keys.contains(&"scoring.engagement_half_life_days"),
        "{keys:?}"
    );
    assert!(keys.contains(&"channel_rules"), "{keys:?}");
}

fn signals(pairs: &[(&str, &str)]) -> TouchSignals {
    let mut s = TouchSignals::default();
    for (k, v) in pairs {
        let v = Some(v.to_string());
        match *k {
            "utm_source" => s.utm_source = v,
            "utm_medium" => s.utm_medium = v,
            "referrer" => s.referrer = v,
            "gclid" => s.gclid = v,
            "fbclid" => s.fbclid = v,
            _ => panic!("{k}"),
        }
    }
    s
}

#[test]
fn channel_rules_derive_the_taxonomy() {
    let p = Playbook::default_playbook();
    assert_eq!(
        p.derive_channel(&signals(&[("gclid", "abc")])),
        "paid_search"
    );
    assert_eq!(
        p.derive_channel(&signals(&[("utm_medium", "CPC"), ("utm_source", "google")])),
        "paid_search"
    );
    assert_eq!(
        p.derive_channel(&signals(&[("fbclid", "x")])),
        "paid_social"
    );
    assert_eq!(
        p.derive_channel(&signals(&[("utm_medium", "email")])),
        "email"
    );
    assert_eq!(
        p.derive_channel(&signals(&[(
            "referrer",
            "https://www.google.com/search?q=x"
        )])),
        "organic_search"
    );
    assert_eq!(
        p.derive_channel(&signals(&[("referrer", "https://www.linkedin.com/feed")])),
        "social"
    );
    assert_eq!(
        p.derive_channel(&signals(&[("referrer", "https://blog.example.org/post")])),
        "referral"
    );
    assert_eq!(p.derive_channel(&signals(&[])), "direct");
}

#[test]
fn personas_match_in_order() {
    let p = Playbook::default_playbook();
    let prof = |t: &str| Profile {
        job_title: Some(t.into()),
        ..Default::default()
    };
    assert_eq!(
        p.match_persona(&prof("VP of Marketing")),
        Some("marketing_leader")
    );
    assert_eq!(
        p.match_persona(&prof("Chief Executive Officer")),
        Some("executive")
    );
    assert_eq!(p.match_persona(&prof("Student")), Some("student"));
    assert_eq!(
        p.match_persona(&prof("Backend Developer")),
        Some("developer")
    );
    assert_eq!(p.match_persona(&prof("Gardener")), None);
}

#[test]
fn a_paid_medium_from_a_social_source_is_paid_social() {
    let p = Playbook::default_playbook();
    assert_eq!(
        p.derive_channel(&signals(&[
            ("utm_medium", "cpc"),
            ("utm_source", "LinkedIn")
        ])),
        "paid_social"
    );
    assert_eq!(
        p.derive_channel(&signals(&[("utm_medium", "cpc"), ("utm_source", "bing")])),
        "paid_search"
    );
}

#[test]
fn the_companys_own_site_is_never_a_referral() {
    let mut p = Playbook::default_playbook();
    let own = signals(&[("referrer", "https://www.acme.io/pricing")]);
    let sub = signals(&[("referrer", "https://docs.acme.io/start")]);
    let lookalike = signals(&[("referrer", "https://notacme.io/")]);
    assert_eq!(p.derive_channel(&own), "referral", "without the setting");
    p.own_hosts = vec!["acme.io".into()];
    assert_eq!(p.derive_channel(&own), "direct");
    assert_eq!(p.derive_channel(&sub), "direct");
    assert_eq!(p.derive_channel(&lookalike), "referral");
    // RudderStack's "no referrer" placeholder is no host at all.
    assert_eq!(
        p.derive_channel(&signals(&[("referrer", "$direct")])),
        "direct"
    );
}

#[test]
fn a_page_url_gives_the_campaign_fields_it_carries() {
    let mut s = TouchSignals {
        page_url: Some(
            "https://acme.io/demo?utm_source=linkedin&utm_medium=cpc&utm_campaign=q4&li_fat_id=xyz#form"
                .into(),
        ),
        utm_campaign: Some("given".into()),
        ..Default::default()
    };
    s.fill_from_page_url();
    assert_eq!(s.utm_source.as_deref(), Some("linkedin"));
    assert_eq!(s.utm_medium.as_deref(), Some("cpc"));
    assert_eq!(s.utm_campaign.as_deref(), Some("given"), "given fields win");
    assert_eq!(s.li_fat_id.as_deref(), Some("xyz"));
    assert_eq!(
        Playbook::default_playbook().derive_channel(&s),
        "paid_social"
    );
}

/// A playbook stored by an earlier release (the default of 2026-12-02, with
/// no recycle section, no `no_follow_up` reason, no own hosts) still reads:
/// every stored version must, or the app stops.
#[test]
fn a_playbook_stored_by_an_earlier_release_still_reads() {
    let earlier = include_str!("earlier_default.toml");
    let p = Playbook::from_toml(earlier).expect("an earlier default playbook reads");
    assert!(p.rejection_reason("no_follow_up").is_none());
    assert_eq!(p.recycle.no_follow_up_reason, "no_follow_up");
    assert!(p.own_hosts.is_empty());
    // A reason someone writes must exist.
    let bad = format!("{earlier}\n[recycle]\nno_follow_up_reason = \"nope\"\n");
    let e = Playbook::from_toml(&bad).unwrap_err();
    assert!(
        e.problems
            .iter()
            .any(|p| p.key == "recycle.no_follow_up_reason"),
        "{e:?}"
    );
}
