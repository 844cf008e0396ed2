//! The JSON API under /api/v1: thin handlers that extract, call the app and
//! answer. Every handler here needs a bearer token.

use crate::AppState;
use crate::error::{ApiError, Problem};
use crate::extract::{ApiJson, ApiQuery, Auth, body_bytes, parse_json, path_id};
use axum::Json;
use axum::extract::{Path, Request, State};
use axum::http::{StatusCode, header};
use serde::{Deserialize, Serialize};
use smarketing_app::accounts::AccountFilter;
use smarketing_app::activities::ActivityFilter;
use smarketing_app::campaigns::CampaignFilter;
use smarketing_app::contacts::{ContactFilter, TimelineEntry};
use smarketing_app::deals::DealFilter;
use smarketing_app::handoffs::*;
use smarketing_app::input::*;
use smarketing_app::listing::Paging;
use smarketing_app::merges::MergeInput;
use smarketing_app::notes::NoteFilter;
use smarketing_app::playbooks::{PlaybookDiff, VersionSummary};
use smarketing_app::routing::{OutOfOfficeInput, RepSettingsInput};
use smarketing_app::touches::TouchOutcome;
use smarketing_core::diff::Change;
use smarketing_core::scoring::{Contribution, ScoreCard, ScorePart};
use smarketing_core::{Instant, Invalid, Stage};
use smarketing_store::merges::ContactMerge;
use smarketing_store::{
    Account, Activity, Campaign, Contact, Deal, Note, Page, StageChange, Touchpoint, User,
};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

type Res<T> = Result<Json<T>, ApiError>;
type Created<T> = Result<(StatusCode, Json<T>), ApiError>;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_accounts, create_account))
        .routes(routes!(get_account, update_account))
        .routes(routes!(list_contacts, create_contact))
        .routes(routes!(get_contact, update_contact))
        .routes(routes!(contact_timeline))
        .routes(routes!(contact_score))
        .routes(routes!(move_contact_stage))
        .routes(routes!(contact_merges))
        .routes(routes!(merge_contacts))
        .routes(routes!(unmerge_contacts))
        .routes(routes!(list_campaigns, create_campaign))
        .routes(routes!(get_campaign, update_campaign))
        .routes(routes!(list_deals, create_deal))
        .routes(routes!(get_deal, update_deal))
        .routes(routes!(list_activities, create_activity))
        .routes(routes!(get_activity, update_activity))
        .routes(routes!(list_notes, create_note))
        .routes(routes!(get_note, update_note))
        .routes(routes!(record_touchpoints))
        .routes(routes!(current_playbook))
        .routes(routes!(list_playbook_versions, import_playbook))
        .routes(routes!(get_playbook_version))
        .routes(routes!(playbook_diff))
        .routes(routes!(list_users, create_user))
        .routes(routes!(me))
        .routes(routes!(set_rep_settings))
        .routes(routes!(add_out_of_office))
        .routes(routes!(list_handoffs))
        .routes(routes!(get_handoff))
        .routes(routes!(accept_handoff))
        .routes(routes!(reject_handoff))
        .routes(routes!(reassign_handoff))
        .routes(routes!(log_handoff_activity))
        .routes(routes!(set_goal, list_goals))
        .routes(routes!(reverse_funnel))
        .routes(routes!(list_agreements))
        .routes(routes!(sign_agreement))
        .routes(routes!(list_webhooks, create_webhook))
        .routes(routes!(list_notifications))
        .routes(routes!(read_notification))
        .routes(routes!(sla_report))
        .routes(routes!(sla_status))
        .routes(routes!(funnel_report))
        .routes(routes!(velocity_report))
        .routes(routes!(attribution_report))
        .routes(routes!(deal_journey))
        .routes(routes!(roi_report))
        .routes(routes!(goal_report))
}

// ---------------- accounts ----------------

#[utoipa::path(get, path = "/api/v1/accounts", tag = "accounts", params(AccountFilter, Paging),
    responses((status = 200, body = Page<Account>), (status = 422, body = Problem)))]
async fn list_accounts(
    State(s): State<AppState>,
    _a: Auth,
    ApiQuery(f): ApiQuery<AccountFilter>,
    ApiQuery(p): ApiQuery<Paging>,
) -> Res<Page<Account>> {
    Ok(Json(s.app.accounts(&f, &p).await?))
}

#[utoipa::path(post, path = "/api/v1/accounts", tag = "accounts", request_body = AccountInput,
    responses((status = 201, body = Account), (status = 409, body = Problem), (status = 422, body = Problem)))]
async fn create_account(
    State(s): State<AppState>,
    _a: Auth,
    ApiJson(input): ApiJson<AccountInput>,
) -> Created<Account> {
    Ok((
        StatusCode::CREATED,
        Json(s.app.create_account(input).await?),
    ))
}

#[utoipa::path(get, path = "/api/v1/accounts/{id}", tag = "accounts", params(("id" = i64, Path)),
    responses((status = 200, body = Account), (status = 404, body = Problem)))]
async fn get_account(State(s): State<AppState>, _a: Auth, Path(id): Path<String>) -> Res<Account> {
    Ok(Json(s.app.account(path_id(&id, "account")?).await?))
}

#[utoipa::path(patch, path = "/api/v1/accounts/{id}", tag = "accounts", params(("id" = i64, Path)), request_body = AccountPatch,
    responses((status = 200, body = Account), (status = 404, body = Problem), (status = 422, body = Problem)))]
async fn update_account(
    State(s): State<AppState>,
    _a: Auth,
    Path(id): Path<String>,
    ApiJson(patch): ApiJson<AccountPatch>,
) -> Res<Account> {
    Ok(Json(
        s.app
            .update_account(path_id(&id, "account")?, patch)
            .await?,
    ))
}

// ---------------- contacts ----------------

#[utoipa::path(get, path = "/api/v1/contacts", tag = "contacts", params(ContactFilter, Paging),
    responses((status = 200, body = Page<Contact>), (status = 422, body = Problem)))]
async fn list_contacts(
    State(s): State<AppState>,
    _a: Auth,
    ApiQuery(f): ApiQuery<ContactFilter>,
    ApiQuery(p): ApiQuery<Paging>,
) -> Res<Page<Contact>> {
    Ok(Json(s.app.contacts(&f, &p).await?))
}

#[utoipa::path(post, path = "/api/v1/contacts", tag = "contacts", request_body = ContactInput,
    responses((status = 201, body = Contact), (status = 409, body = Problem), (status = 422, body = Problem)))]
async fn create_contact(
    State(s): State<AppState>,
    a: Auth,
    ApiJson(input): ApiJson<ContactInput>,
) -> Created<Contact> {
    Ok((
        StatusCode::CREATED,
        Json(s.app.create_contact(input, &a.actor()).await?),
    ))
}

#[utoipa::path(get, path = "/api/v1/contacts/{id}", tag = "contacts", params(("id" = i64, Path)),
    responses((status = 200, body = Contact), (status = 404, body = Problem)))]
async fn get_contact(State(s): State<AppState>, _a: Auth, Path(id): Path<String>) -> Res<Contact> {
    Ok(Json(s.app.contact(path_id(&id, "contact")?).await?))
}

#[utoipa::path(patch, path = "/api/v1/contacts/{id}", tag = "contacts", params(("id" = i64, Path)), request_body = ContactPatch,
    responses((status = 200, body = Contact), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
async fn update_contact(
    State(s): State<AppState>,
    _a: Auth,
    Path(id): Path<String>,
    ApiJson(patch): ApiJson<ContactPatch>,
) -> Res<Contact> {
    Ok(Json(
        s.app
            .update_contact(path_id(&id, "contact")?, patch)
            .await?,
    ))
}

#[utoipa::path(get, path = "/api/v1/contacts/{id}/timeline", tag = "contacts", params(("id" = i64, Path)),
    responses((status = 200, body = Vec<TimelineEntry>), (status = 404, body = Problem)))]
async fn contact_timeline(
    State(s): State<AppState>,
    _a: Auth,
    Path(id): Path<String>,
) -> Res<Vec<TimelineEntry>> {
    Ok(Json(s.app.timeline(path_id(&id, "contact")?).await?))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct ScoreQuery {
    /// Score at this instant (RFC 3339); default now.
    at: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/contacts/{id}/score", tag = "contacts", params(("id" = i64, Path), ScoreQuery),
    responses((status = 200, body = ScoreCard, description = "Fit and engagement with every contribution"), (status = 404, body = Problem)))]
async fn contact_score(
    State(s): State<AppState>,
    _a: Auth,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<ScoreQuery>,
) -> Res<ScoreCard> {
    let at =
        q.at.as_deref()
            .map(|t| Instant::parse(t, "at"))
            .transpose()?;
    Ok(Json(s.app.score(path_id(&id, "contact")?, at).await?))
}

#[utoipa::path(get, path = "/api/v1/contacts/{id}/merges", tag = "contacts", params(("id" = i64, Path)),
    responses((status = 200, body = Vec<ContactMerge>, description = "Every merge the contact took part in, oldest first"), (status = 404, body = Problem)))]
async fn contact_merges(
    State(s): State<AppState>,
    _a: Auth,
    Path(id): Path<String>,
) -> Res<Vec<ContactMerge>> {
    Ok(Json(s.app.contact_merges(path_id(&id, "contact")?).await?))
}

#[utoipa::path(post, path = "/api/v1/contact-merges", tag = "contacts", request_body = MergeInput,
    responses((status = 201, body = ContactMerge, description = "The two records are one; the survivor is the one further along the funnel"), (status = 404, body = Problem), (status = 422, body = Problem)))]
async fn merge_contacts(
    State(s): State<AppState>,
    a: Auth,
    ApiJson(input): ApiJson<MergeInput>,
) -> Created<ContactMerge> {
    Ok((
        StatusCode::CREATED,
        Json(s.app.merge_contacts(&input, &a.actor()).await?),
    ))
}

#[utoipa::path(post, path = "/api/v1/contact-merges/{id}/undo", tag = "contacts", params(("id" = i64, Path)),
    responses((status = 200, body = ContactMerge, description = "The merge undone: moved rows and filled fields are back"), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
async fn unmerge_contacts(
    State(s): State<AppState>,
    a: Auth,
    Path(id): Path<String>,
) -> Res<ContactMerge> {
    Ok(Json(
        s.app
            .unmerge_contacts(path_id(&id, "contact merge")?, &a.actor())
            .await?,
    ))
}

#[utoipa::path(post, path = "/api/v1/contacts/{id}/stage", tag = "contacts", params(("id" = i64, Path)), request_body = StageMoveInput,
    responses((status = 201, body = StageChange), (status = 404, body = Problem), (status = 409, body = Problem, description = "The lifecycle does not allow this move"), (status = 422, body = Problem)))]
async fn move_contact_stage(
    State(s): State<AppState>,
    a: Auth,
    Path(id): Path<String>,
    ApiJson(input): ApiJson<StageMoveInput>,
) -> Created<StageChange> {
    Ok((
        StatusCode::CREATED,
        Json(
            s.app
                .move_stage(path_id(&id, "contact")?, input, &a.actor())
                .await?,
        ),
    ))
}

// ---------------- campaigns ----------------

#[utoipa::path(get, path = "/api/v1/campaigns", tag = "campaigns", params(CampaignFilter, Paging),
    responses((status = 200, body = Page<Campaign>), (status = 422, body = Problem)))]
async fn list_campaigns(
    State(s): State<AppState>,
    _a: Auth,
    ApiQuery(f): ApiQuery<CampaignFilter>,
    ApiQuery(p): ApiQuery<Paging>,
) -> Res<Page<Campaign>> {
    Ok(Json(s.app.campaigns(&f, &p).await?))
}

#[utoipa::path(post, path = "/api/v1/campaigns", tag = "campaigns", request_body = CampaignInput,
    responses((status = 201, body = Campaign), (status = 409, body = Problem), (status = 422, body = Problem)))]
async fn create_campaign(
    State(s): State<AppState>,
    _a: Auth,
    ApiJson(input): ApiJson<CampaignInput>,
) -> Created<Campaign> {
    Ok((
        StatusCode::CREATED,
        Json(s.app.create_campaign(input).await?),
    ))
}

#[utoipa::path(get, path = "/api/v1/campaigns/{id}", tag = "campaigns", params(("id" = i64, Path)),
    responses((status = 200, body = Campaign), (status = 404, body = Problem)))]
async fn get_campaign(
    State(s): State<AppState>,
    _a: Auth,
    Path(id): Path<String>,
) -> Res<Campaign> {
    Ok(Json(s.app.campaign(path_id(&id, "campaign")?).await?))
}

#[utoipa::path(patch, path = "/api/v1/campaigns/{id}", tag = "campaigns", params(("id" = i64, Path)), request_body = CampaignPatch,
    responses((status = 200, body = Campaign), (status = 404, body = Problem), (status = 422, body = Problem)))]
async fn update_campaign(
    State(s): State<AppState>,
    _a: Auth,
    Path(id): Path<String>,
    ApiJson(patch): ApiJson<CampaignPatch>,
) -> Res<Campaign> {
    Ok(Json(
        s.app
            .update_campaign(path_id(&id, "campaign")?, patch)
            .await?,
    ))
}

// ---------------- deals ----------------

#[utoipa::path(get, path = "/api/v1/deals", tag = "deals", params(DealFilter, Paging),
    responses((status = 200, body = Page<Deal>), (status = 422, body = Problem)))]
async fn list_deals(
    State(s): State<AppState>,
    _a: Auth,
    ApiQuery(f): ApiQuery<DealFilter>,
    ApiQuery(p): ApiQuery<Paging>,
) -> Res<Page<Deal>> {
    Ok(Json(s.app.deals(&f, &p).await?))
}

#[utoipa::path(post, path = "/api/v1/deals", tag = "deals", request_body = DealInput,
    responses((status = 201, body = Deal), (status = 422, body = Problem)))]
async fn create_deal(
    State(s): State<AppState>,
    a: Auth,
    ApiJson(input): ApiJson<DealInput>,
) -> Created<Deal> {
    Ok((
        StatusCode::CREATED,
        Json(s.app.create_deal(input, &a.actor()).await?),
    ))
}

#[utoipa::path(get, path = "/api/v1/deals/{id}", tag = "deals", params(("id" = i64, Path)),
    responses((status = 200, body = Deal), (status = 404, body = Problem)))]
async fn get_deal(State(s): State<AppState>, _a: Auth, Path(id): Path<String>) -> Res<Deal> {
    Ok(Json(s.app.deal(path_id(&id, "deal")?).await?))
}

#[utoipa::path(patch, path = "/api/v1/deals/{id}", tag = "deals", params(("id" = i64, Path)), request_body = DealPatch,
    responses((status = 200, body = Deal), (status = 404, body = Problem), (status = 422, body = Problem)))]
async fn update_deal(
    State(s): State<AppState>,
    a: Auth,
    Path(id): Path<String>,
    ApiJson(patch): ApiJson<DealPatch>,
) -> Res<Deal> {
    Ok(Json(
        s.app
            .update_deal(path_id(&id, "deal")?, patch, &a.actor())
            .await?,
    ))
}

// ---------------- activities ----------------

#[utoipa::path(get, path = "/api/v1/activities", tag = "activities", params(ActivityFilter, Paging),
    responses((status = 200, body = Page<Activity>), (status = 422, body = Problem)))]
async fn list_activities(
    State(s): State<AppState>,
    _a: Auth,
    ApiQuery(f): ApiQuery<ActivityFilter>,
    ApiQuery(p): ApiQuery<Paging>,
) -> Res<Page<Activity>> {
    Ok(Json(s.app.activities(&f, &p).await?))
}

#[utoipa::path(post, path = "/api/v1/activities", tag = "activities", request_body = ActivityInput,
    responses((status = 201, body = Activity), (status = 422, body = Problem)))]
async fn create_activity(
    State(s): State<AppState>,
    a: Auth,
    ApiJson(input): ApiJson<ActivityInput>,
) -> Created<Activity> {
    Ok((
        StatusCode::CREATED,
        Json(s.app.create_activity(input, &a.actor()).await?),
    ))
}

#[utoipa::path(get, path = "/api/v1/activities/{id}", tag = "activities", params(("id" = i64, Path)),
    responses((status = 200, body = Activity), (status = 404, body = Problem)))]
async fn get_activity(
    State(s): State<AppState>,
    _a: Auth,
    Path(id): Path<String>,
) -> Res<Activity> {
    Ok(Json(s.app.activity(path_id(&id, "activity")?).await?))
}

#[utoipa::path(patch, path = "/api/v1/activities/{id}", tag = "activities", params(("id" = i64, Path)), request_body = ActivityPatch,
    responses((status = 200, body = Activity), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
async fn update_activity(
    State(s): State<AppState>,
    a: Auth,
    Path(id): Path<String>,
    ApiJson(patch): ApiJson<ActivityPatch>,
) -> Res<Activity> {
    Ok(Json(
        s.app
            .update_activity(path_id(&id, "activity")?, patch, &a.actor())
            .await?,
    ))
}

// ---------------- notes ----------------

#[utoipa::path(get, path = "/api/v1/notes", tag = "notes", params(NoteFilter, Paging),
    responses((status = 200, body = Page<Note>), (status = 422, body = Problem)))]
async fn list_notes(
    State(s): State<AppState>,
    _a: Auth,
    ApiQuery(f): ApiQuery<NoteFilter>,
    ApiQuery(p): ApiQuery<Paging>,
) -> Res<Page<Note>> {
    Ok(Json(s.app.notes(&f, &p).await?))
}

#[utoipa::path(post, path = "/api/v1/notes", tag = "notes", request_body = NoteInput,
    responses((status = 201, body = Note), (status = 422, body = Problem)))]
async fn create_note(
    State(s): State<AppState>,
    a: Auth,
    ApiJson(input): ApiJson<NoteInput>,
) -> Created<Note> {
    Ok((
        StatusCode::CREATED,
        Json(s.app.create_note(input, &a.actor()).await?),
    ))
}

#[utoipa::path(get, path = "/api/v1/notes/{id}", tag = "notes", params(("id" = i64, Path)),
    responses((status = 200, body = Note), (status = 404, body = Problem)))]
async fn get_note(State(s): State<AppState>, _a: Auth, Path(id): Path<String>) -> Res<Note> {
    Ok(Json(s.app.note(path_id(&id, "note")?).await?))
}

#[utoipa::path(patch, path = "/api/v1/notes/{id}", tag = "notes", params(("id" = i64, Path)), request_body = NotePatch,
    responses((status = 200, body = Note), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
async fn update_note(
    State(s): State<AppState>,
    a: Auth,
    Path(id): Path<String>,
    ApiJson(patch): ApiJson<NotePatch>,
) -> Res<Note> {
    Ok(Json(
        s.app
            .update_note(path_id(&id, "note")?, patch, &a.actor())
            .await?,
    ))
}

// ---------------- touchpoints ----------------

/// A batch of touchpoints: `{"batch": [...]}`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct TouchpointBatch {
    batch: Vec<TouchpointInput>,
}

#[derive(Debug, Serialize, ToSchema)]
struct TouchpointsRecorded {
    recorded: Vec<TouchOutcome>,
}

/// Records one touchpoint (an object), or many in one transaction (an array,
/// or `{"batch": [...]}`), rescoring contacts and moving them to MQL as the
/// playbook says.
#[utoipa::path(post, path = "/api/v1/touchpoints", tag = "touchpoints",
    request_body(content((TouchpointInput), (TouchpointBatch), (Vec<TouchpointInput>))),
    responses((status = 201, body = TouchpointsRecorded), (status = 422, body = Problem)))]
async fn record_touchpoints(
    State(s): State<AppState>,
    a: Auth,
    ApiJson(body): ApiJson<serde_json::Value>,
) -> Created<TouchpointsRecorded> {
    let (items, prefix) = match body {
        serde_json::Value::Array(items) => (items, ""),
        serde_json::Value::Object(mut m) if m.contains_key("batch") => match m.remove("batch") {
            Some(serde_json::Value::Array(items)) if m.is_empty() => (items, "batch"),
            _ => {
                return Err(Invalid::new(
                    "invalid_value",
                    "batch",
                    "batch must be the only key and hold an array of touchpoints",
                )
                .into());
            }
        },
        single @ serde_json::Value::Object(_) => (vec![single], "single"),
        _ => {
            return Err(Invalid::new(
                "invalid_value",
                "body",
                "send a touchpoint object, an array of them, or {\"batch\": [...]}",
            )
            .into());
        }
    };
    let mut inputs = Vec::with_capacity(items.len());
    for (i, item) in items.into_iter().enumerate() {
        let parsed: TouchpointInput = serde_json::from_value(item.clone()).map_err(|e| {
            let field = match prefix {
                "single" => "body".to_string(),
                _ => format!("{prefix}[{i}]"),
            };
            ApiError::from(Invalid::new("invalid_value", field, e.to_string()))
        })?;
        inputs.push(parsed);
    }
    let recorded = s.app.record_touchpoints(inputs, &a.actor()).await?;
    Ok((StatusCode::CREATED, Json(TouchpointsRecorded { recorded })))
}

// ---------------- playbook ----------------

#[derive(Debug, Serialize, ToSchema)]
struct CurrentPlaybook {
    version: i64,
    /// The playbook as TOML, the form both teams edit.
    toml: String,
    #[schema(value_type = Object)]
    playbook: serde_json::Value,
}

#[utoipa::path(get, path = "/api/v1/playbook", tag = "playbook",
    responses((status = 200, body = CurrentPlaybook)))]
async fn current_playbook(State(s): State<AppState>, _a: Auth) -> Res<CurrentPlaybook> {
    let (version, p) = s.app.playbook().await?;
    Ok(Json(CurrentPlaybook {
        version,
        toml: p.to_toml(),
        playbook: serde_json::to_value(&*p).unwrap_or_default(),
    }))
}

#[utoipa::path(get, path = "/api/v1/playbook/versions", tag = "playbook",
    responses((status = 200, body = Vec<VersionSummary>)))]
async fn list_playbook_versions(State(s): State<AppState>, _a: Auth) -> Res<Vec<VersionSummary>> {
    Ok(Json(s.app.playbook_versions().await?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct PlaybookImport {
    /// The playbook document as TOML.
    toml: String,
    /// What changed and why.
    note: Option<String>,
}

/// Stores a new playbook version (admins only). Send the TOML document as
/// `application/toml`, or JSON `{"toml": "...", "note": "..."}`.
#[utoipa::path(post, path = "/api/v1/playbook/versions", tag = "playbook",
    request_body(content((PlaybookImport = "application/json"), (String = "application/toml"))),
    responses((status = 201, body = VersionSummary), (status = 403, body = Problem), (status = 422, body = Problem, description = "Each problem names the TOML line and key")))]
async fn import_playbook(
    State(s): State<AppState>,
    a: Auth,
    req: Request,
) -> Created<VersionSummary> {
    let ct = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let bytes = body_bytes(req, &s).await?;
    let (toml, note) = if ct.starts_with("application/toml") || ct.starts_with("text/plain") {
        let text = String::from_utf8(bytes.to_vec())
            .map_err(|_| Invalid::new("invalid_value", "body", "the TOML document is not UTF-8"))?;
        (text, None)
    } else {
        let body: PlaybookImport = parse_json(&bytes)?;
        (body.toml, body.note)
    };
    let author = format!("{} <{}>", a.0.name, a.0.email);
    Ok((
        StatusCode::CREATED,
        Json(
            s.app
                .import_playbook(&toml, &author, note.as_deref(), &a.actor())
                .await?,
        ),
    ))
}

#[derive(Debug, Serialize, ToSchema)]
struct PlaybookVersionBody {
    version: i64,
    author: String,
    note: Option<String>,
    created_at: Instant,
    toml: String,
}

#[utoipa::path(get, path = "/api/v1/playbook/versions/{version}", tag = "playbook", params(("version" = i64, Path)),
    responses((status = 200, body = PlaybookVersionBody), (status = 404, body = Problem)))]
async fn get_playbook_version(
    State(s): State<AppState>,
    _a: Auth,
    Path(v): Path<String>,
) -> Res<PlaybookVersionBody> {
    let stored = s
        .app
        .playbook_version(path_id(&v, "playbook version")?)
        .await?;
    Ok(Json(PlaybookVersionBody {
        version: stored.version,
        author: stored.author,
        note: stored.note,
        created_at: stored.created_at,
        toml: stored.body,
    }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct DiffQuery {
    /// The older version.
    from: i64,
    /// The newer version.
    to: i64,
}

#[utoipa::path(get, path = "/api/v1/playbook/diff", tag = "playbook", params(DiffQuery),
    responses((status = 200, body = PlaybookDiff), (status = 404, body = Problem)))]
async fn playbook_diff(
    State(s): State<AppState>,
    _a: Auth,
    ApiQuery(q): ApiQuery<DiffQuery>,
) -> Res<PlaybookDiff> {
    Ok(Json(s.app.playbook_diff(q.from, q.to).await?))
}

// ---------------- users ----------------

#[utoipa::path(get, path = "/api/v1/users", tag = "users", responses((status = 200, body = Vec<User>)))]
async fn list_users(State(s): State<AppState>, _a: Auth) -> Res<Vec<User>> {
    Ok(Json(s.app.users().await?))
}

#[utoipa::path(post, path = "/api/v1/users", tag = "users", request_body = UserInput,
    responses((status = 201, body = User), (status = 403, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
async fn create_user(
    State(s): State<AppState>,
    a: Auth,
    ApiJson(input): ApiJson<UserInput>,
) -> Created<User> {
    Ok((
        StatusCode::CREATED,
        Json(s.app.create_user(input, &a.actor()).await?),
    ))
}

#[utoipa::path(get, path = "/api/v1/me", tag = "users", responses((status = 200, body = User)))]
async fn me(a: Auth) -> Json<User> {
    Json(a.0)
}

#[utoipa::path(put, path = "/api/v1/users/{id}/rep-settings", tag = "users", params(("id" = i64, Path)), request_body = RepSettingsInput,
    responses((status = 200, body = smarketing_store::RepSettings), (status = 403, body = Problem), (status = 422, body = Problem)))]
async fn set_rep_settings(
    State(s): State<AppState>,
    a: Auth,
    Path(id): Path<String>,
    ApiJson(input): ApiJson<RepSettingsInput>,
) -> Res<smarketing_store::RepSettings> {
    Ok(Json(
        s.app
            .set_rep_settings(path_id(&id, "user")?, input, &a.actor())
            .await?,
    ))
}

#[utoipa::path(post, path = "/api/v1/users/{id}/out-of-office", tag = "users", params(("id" = i64, Path)), request_body = OutOfOfficeInput,
    responses((status = 201, body = smarketing_store::OutOfOffice), (status = 403, body = Problem), (status = 422, body = Problem)))]
async fn add_out_of_office(
    State(s): State<AppState>,
    a: Auth,
    Path(id): Path<String>,
    ApiJson(input): ApiJson<OutOfOfficeInput>,
) -> Created<smarketing_store::OutOfOffice> {
    Ok((
        StatusCode::CREATED,
        Json(
            s.app
                .add_out_of_office(path_id(&id, "user")?, input, &a.actor())
                .await?,
        ),
    ))
}

// ---------------- handoffs ----------------

/// Handoffs with their SLA clocks, oldest first.
#[utoipa::path(get, path = "/api/v1/handoffs", tag = "handoffs", params(HandoffFilter, Paging),
    responses((status = 200, body = Page<HandoffView>), (status = 422, body = Problem)))]
async fn list_handoffs(
    State(s): State<AppState>,
    _a: Auth,
    ApiQuery(f): ApiQuery<HandoffFilter>,
    ApiQuery(p): ApiQuery<Paging>,
) -> Res<Page<HandoffView>> {
    Ok(Json(s.app.handoffs(&f, &p).await?))
}

/// The handoff card: score explanation, recent touches, account, notes, clocks.
#[utoipa::path(get, path = "/api/v1/handoffs/{id}", tag = "handoffs", params(("id" = i64, Path)),
    responses((status = 200, body = HandoffCard), (status = 404, body = Problem)))]
async fn get_handoff(
    State(s): State<AppState>,
    _a: Auth,
    Path(id): Path<String>,
) -> Res<HandoffCard> {
    Ok(Json(s.app.handoff_card(path_id(&id, "handoff")?).await?))
}

#[utoipa::path(post, path = "/api/v1/handoffs/{id}/accept", tag = "handoffs", params(("id" = i64, Path)), request_body = AcceptInput,
    responses((status = 200, body = HandoffView), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
async fn accept_handoff(
    State(s): State<AppState>,
    a: Auth,
    Path(id): Path<String>,
    ApiJson(input): ApiJson<AcceptInput>,
) -> Res<HandoffView> {
    Ok(Json(
        s.app
            .accept_handoff(path_id(&id, "handoff")?, input, &a.actor())
            .await?,
    ))
}

#[utoipa::path(post, path = "/api/v1/handoffs/{id}/reject", tag = "handoffs", params(("id" = i64, Path)), request_body = RejectInput,
    responses((status = 200, body = HandoffView), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
async fn reject_handoff(
    State(s): State<AppState>,
    a: Auth,
    Path(id): Path<String>,
    ApiJson(input): ApiJson<RejectInput>,
) -> Res<HandoffView> {
    Ok(Json(
        s.app
            .reject_handoff(path_id(&id, "handoff")?, input, &a.actor())
            .await?,
    ))
}

#[utoipa::path(post, path = "/api/v1/handoffs/{id}/reassign", tag = "handoffs", params(("id" = i64, Path)), request_body = ReassignInput,
    responses((status = 200, body = HandoffView), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
async fn reassign_handoff(
    State(s): State<AppState>,
    a: Auth,
    Path(id): Path<String>,
    ApiJson(input): ApiJson<ReassignInput>,
) -> Res<HandoffView> {
    Ok(Json(
        s.app
            .reassign_handoff(path_id(&id, "handoff")?, input, &a.actor())
            .await?,
    ))
}

#[utoipa::path(post, path = "/api/v1/handoffs/{id}/activities", tag = "handoffs", params(("id" = i64, Path)), request_body = HandoffActivityInput,
    responses((status = 201, body = Activity), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
async fn log_handoff_activity(
    State(s): State<AppState>,
    a: Auth,
    Path(id): Path<String>,
    ApiJson(input): ApiJson<HandoffActivityInput>,
) -> Created<Activity> {
    Ok((
        StatusCode::CREATED,
        Json(
            s.app
                .log_handoff_activity(path_id(&id, "handoff")?, input, &a.actor())
                .await?,
        ),
    ))
}

// ---------------- goals and the agreement ----------------

#[utoipa::path(put, path = "/api/v1/goals/{period}", tag = "goals", params(("period" = String, Path, description = "2026, 2026-Q4 or 2026-11")), request_body = smarketing_app::goals::GoalInput,
    responses((status = 200, body = smarketing_store::Goal), (status = 403, body = Problem), (status = 422, body = Problem)))]
async fn set_goal(
    State(s): State<AppState>,
    a: Auth,
    Path(period): Path<String>,
    ApiJson(input): ApiJson<smarketing_app::goals::GoalInput>,
) -> Res<smarketing_store::Goal> {
    Ok(Json(s.app.set_goal(&period, input, &a.actor()).await?))
}

/// The goals of a period: the company's (segment "") and each segment's.
#[utoipa::path(get, path = "/api/v1/goals/{period}", tag = "goals", params(("period" = String, Path, description = "2026, 2026-Q4 or 2026-11")),
    responses((status = 200, body = Vec<smarketing_store::Goal>), (status = 422, body = Problem)))]
async fn list_goals(
    State(s): State<AppState>,
    _a: Auth,
    Path(period): Path<String>,
) -> Res<Vec<smarketing_store::Goal>> {
    Ok(Json(s.app.goals(&period).await?))
}

/// The reverse funnel of a period: the deals, opportunities, SQLs, MQLs and
/// leads the revenue goal needs, marketing's MQL commitment and pacing.
#[utoipa::path(get, path = "/api/v1/goals/{period}/reverse-funnel", tag = "goals",
    params(("period" = String, Path, description = "2026, 2026-Q4 or 2026-11"), smarketing_app::goals::ReverseFunnelQuery),
    responses((status = 200, body = smarketing_app::goals::ReverseFunnelReport), (status = 422, body = Problem)))]
async fn reverse_funnel(
    State(s): State<AppState>,
    _a: Auth,
    Path(period): Path<String>,
    ApiQuery(q): ApiQuery<smarketing_app::goals::ReverseFunnelQuery>,
) -> Res<smarketing_app::goals::ReverseFunnelReport> {
    Ok(Json(s.app.reverse_funnel(&period, &q).await?))
}

#[utoipa::path(get, path = "/api/v1/sla/agreements", tag = "sla", responses((status = 200, body = Vec<smarketing_app::agreements::AgreementView>)))]
async fn list_agreements(
    State(s): State<AppState>,
    _a: Auth,
) -> Res<Vec<smarketing_app::agreements::AgreementView>> {
    Ok(Json(s.app.agreements().await?))
}

/// Signs the latest agreement for the caller's team (managers and admins).
#[utoipa::path(post, path = "/api/v1/sla/agreements/{version}/sign", tag = "sla", params(("version" = i64, Path)),
    responses((status = 200, body = smarketing_app::agreements::AgreementView), (status = 403, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
async fn sign_agreement(
    State(s): State<AppState>,
    a: Auth,
    Path(v): Path<String>,
) -> Res<smarketing_app::agreements::AgreementView> {
    Ok(Json(
        s.app
            .sign_agreement(path_id(&v, "agreement")?, &a.0)
            .await?,
    ))
}

// ---------------- webhooks and notifications ----------------

#[utoipa::path(get, path = "/api/v1/webhooks", tag = "webhooks", responses((status = 200, body = Vec<smarketing_store::WebhookEndpoint>), (status = 403, body = Problem)))]
async fn list_webhooks(
    State(s): State<AppState>,
    a: Auth,
) -> Res<Vec<smarketing_store::WebhookEndpoint>> {
    Ok(Json(s.app.webhooks(&a.actor()).await?))
}

/// Adds a receiver of signed events (Standard Webhooks headers: webhook-id,
/// webhook-timestamp, webhook-signature). The secret is shown once.
#[utoipa::path(post, path = "/api/v1/webhooks", tag = "webhooks", request_body = smarketing_app::outbox::WebhookInput,
    responses((status = 201, body = smarketing_app::outbox::NewWebhook), (status = 403, body = Problem), (status = 422, body = Problem)))]
async fn create_webhook(
    State(s): State<AppState>,
    a: Auth,
    ApiJson(input): ApiJson<smarketing_app::outbox::WebhookInput>,
) -> Created<smarketing_app::outbox::NewWebhook> {
    Ok((
        StatusCode::CREATED,
        Json(s.app.create_webhook(input, &a.actor()).await?),
    ))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct FeedQuery {
    /// Only unread notifications.
    unread: Option<bool>,
}

/// The caller's in-app feed: SLA warnings, breaches, reassignments.
#[utoipa::path(get, path = "/api/v1/notifications", tag = "notifications", params(FeedQuery), responses((status = 200, body = Vec<smarketing_store::Notification>)))]
async fn list_notifications(
    State(s): State<AppState>,
    a: Auth,
    ApiQuery(q): ApiQuery<FeedQuery>,
) -> Res<Vec<smarketing_store::Notification>> {
    Ok(Json(
        s.app.notifications(&a.0, q.unread.unwrap_or(false)).await?,
    ))
}

#[utoipa::path(post, path = "/api/v1/notifications/{id}/read", tag = "notifications", params(("id" = i64, Path)),
    responses((status = 204), (status = 404, body = Problem)))]
async fn read_notification(
    State(s): State<AppState>,
    a: Auth,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    s.app
        .mark_notification_read(path_id(&id, "notification")?, &a.0)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct PeriodQuery {
    /// `2026`, `2026-Q4` or `2026-11`.
    period: String,
}

/// The clocks of the open handoffs now: how many are on track, at risk,
/// breached or met, per clock.
#[utoipa::path(get, path = "/api/v1/sla/status", tag = "sla",
    responses((status = 200, body = smarketing_app::sla_reports::SlaStatus)))]
async fn sla_status(
    State(s): State<AppState>,
    _a: Auth,
) -> Res<smarketing_app::sla_reports::SlaStatus> {
    Ok(Json(s.app.sla_status().await?))
}

/// Sales SLA compliance by rep, marketing's SLA (MQLs, acceptance, rejection
/// reasons by channel, campaign and persona) and the breach ledger.
#[utoipa::path(get, path = "/api/v1/reports/sla", tag = "reports", params(PeriodQuery),
    responses((status = 200, body = smarketing_app::sla_reports::SlaReport), (status = 422, body = Problem)))]
async fn sla_report(
    State(s): State<AppState>,
    _a: Auth,
    ApiQuery(q): ApiQuery<PeriodQuery>,
) -> Res<smarketing_app::sla_reports::SlaReport> {
    Ok(Json(s.app.sla_report(&q.period).await?))
}

/// The funnel on cohorts: of the contacts that entered a stage (in a
/// period), how many reached each later stage, by one dimension.
#[utoipa::path(get, path = "/api/v1/reports/funnel", tag = "reports", params(smarketing_app::reports::CohortQuery),
    responses((status = 200, body = smarketing_app::reports::FunnelReport), (status = 422, body = Problem)))]
async fn funnel_report(
    State(s): State<AppState>,
    _a: Auth,
    ApiQuery(q): ApiQuery<smarketing_app::reports::CohortQuery>,
) -> Res<smarketing_app::reports::FunnelReport> {
    Ok(Json(s.app.funnel_report(&q).await?))
}

/// Time in each stage and to won (n, median, lower median, p90, mean in seconds).
#[utoipa::path(get, path = "/api/v1/reports/velocity", tag = "reports", params(smarketing_app::reports::CohortQuery),
    responses((status = 200, body = smarketing_app::reports::VelocityReport), (status = 422, body = Problem)))]
async fn velocity_report(
    State(s): State<AppState>,
    _a: Auth,
    ApiQuery(q): ApiQuery<smarketing_app::reports::CohortQuery>,
) -> Res<smarketing_app::reports::VelocityReport> {
    Ok(Json(s.app.velocity_report(&q).await?))
}

/// Credit of conversions per channel and campaign under each model, side by side.
#[utoipa::path(get, path = "/api/v1/reports/attribution", tag = "reports", params(smarketing_app::reports::AttributionParams),
    responses((status = 200, body = smarketing_core::analytics::attribution::AttributionReport), (status = 422, body = Problem)))]
async fn attribution_report(
    State(s): State<AppState>,
    _a: Auth,
    ApiQuery(q): ApiQuery<smarketing_app::reports::AttributionParams>,
) -> Res<smarketing_core::analytics::attribution::AttributionReport> {
    Ok(Json(s.app.attribution_report(&q).await?))
}

/// The touches behind one deal and each rule-based model's weight on them.
#[utoipa::path(get, path = "/api/v1/reports/attribution/deals/{id}", tag = "reports",
    params(("id" = i64, Path, description = "Deal id"), smarketing_app::reports::JourneyParams),
    responses((status = 200, body = smarketing_core::analytics::attribution::DealJourney), (status = 404, body = Problem), (status = 422, body = Problem)))]
async fn deal_journey(
    State(s): State<AppState>,
    _a: Auth,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<smarketing_app::reports::JourneyParams>,
) -> Res<smarketing_core::analytics::attribution::DealJourney> {
    Ok(Json(s.app.deal_journey(path_id(&id, "deal")?, &q).await?))
}

/// Spend against attributed MQLs, pipeline and revenue: cost per MQL, CAC, ROI.
#[utoipa::path(get, path = "/api/v1/reports/channel-roi", tag = "reports", params(smarketing_app::reports::RoiParams),
    responses((status = 200, body = smarketing_core::analytics::roi::RoiReport), (status = 422, body = Problem)))]
async fn roi_report(
    State(s): State<AppState>,
    _a: Auth,
    ApiQuery(q): ApiQuery<smarketing_app::reports::RoiParams>,
) -> Res<smarketing_core::analytics::roi::RoiReport> {
    Ok(Json(s.app.roi_report(&q).await?))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct GoalQuery {
    /// `2026`, `2026-Q4` or `2026-11`.
    period: String,
    /// A segment's goal, `dimension=value`.
    segment: Option<String>,
}

/// The revenue goal against revenue won, with pacing and a projection.
#[utoipa::path(get, path = "/api/v1/reports/goals", tag = "reports", params(GoalQuery),
    responses((status = 200, body = smarketing_app::goals::GoalActual), (status = 422, body = Problem)))]
async fn goal_report(
    State(s): State<AppState>,
    _a: Auth,
    ApiQuery(q): ApiQuery<GoalQuery>,
) -> Res<smarketing_app::goals::GoalActual> {
    Ok(Json(
        s.app.goal_actual(&q.period, q.segment.as_deref()).await?,
    ))
}

/// Types the document refers to that no handler names directly.
#[derive(utoipa::OpenApi)]
#[openapi(components(schemas(Change, Contribution, ScorePart, Stage, Touchpoint)))]
pub struct ExtraSchemas;
