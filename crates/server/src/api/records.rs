//! The plain records: accounts, campaigns, deals, activities and notes
//! (list, create, get, update). Contacts have their own file.

use super::{Created, Res};
use crate::AppState;
use crate::error::Problem;
use crate::extract::{ApiJson, ApiQuery, Auth, path_id};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use smarketing_app::accounts::AccountFilter;
use smarketing_app::activities::ActivityFilter;
use smarketing_app::campaigns::CampaignFilter;
use smarketing_app::deals::DealFilter;
use smarketing_app::input::*;
use smarketing_app::listing::Paging;
use smarketing_app::notes::NoteFilter;
use smarketing_store::{Account, Activity, Campaign, Deal, Note, Page};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_accounts, create_account))
        .routes(routes!(get_account, update_account))
        .routes(routes!(list_campaigns, create_campaign))
        .routes(routes!(get_campaign, update_campaign))
        .routes(routes!(list_deals, create_deal))
        .routes(routes!(get_deal, update_deal))
        .routes(routes!(list_activities, create_activity))
        .routes(routes!(get_activity, update_activity))
        .routes(routes!(list_notes, create_note))
        .routes(routes!(get_note, update_note))
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
    a: Auth,
    ApiJson(input): ApiJson<AccountInput>,
) -> Created<Account> {
    Ok((
        StatusCode::CREATED,
        Json(s.app.create_account(input, &a.actor()).await?),
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
    a: Auth,
    Path(id): Path<String>,
    ApiJson(patch): ApiJson<AccountPatch>,
) -> Res<Account> {
    Ok(Json(
        s.app
            .update_account(path_id(&id, "account")?, patch, &a.actor())
            .await?,
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
    a: Auth,
    ApiJson(input): ApiJson<CampaignInput>,
) -> Created<Campaign> {
    Ok((
        StatusCode::CREATED,
        Json(s.app.create_campaign(input, &a.actor()).await?),
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
    a: Auth,
    Path(id): Path<String>,
    ApiJson(patch): ApiJson<CampaignPatch>,
) -> Res<Campaign> {
    Ok(Json(
        s.app
            .update_campaign(path_id(&id, "campaign")?, patch, &a.actor())
            .await?,
    ))
}

// ---------------- deals ----------------

#[utoipa::path(get, path = "/api/v1/deals", tag = "deals", params(DealFilter, Paging),
    responses((status = 200, body = Page<Deal>), (status = 422, body = Problem)))]
async fn list_deals(
    State(s): State<AppState>,
    a: Auth,
    ApiQuery(f): ApiQuery<DealFilter>,
    ApiQuery(p): ApiQuery<Paging>,
) -> Res<Page<Deal>> {
    Ok(Json(s.app.deals_for(&f, &p, &a.actor()).await?))
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
async fn get_deal(State(s): State<AppState>, a: Auth, Path(id): Path<String>) -> Res<Deal> {
    Ok(Json(
        s.app.deal_for(path_id(&id, "deal")?, &a.actor()).await?,
    ))
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
    a: Auth,
    ApiQuery(f): ApiQuery<ActivityFilter>,
    ApiQuery(p): ApiQuery<Paging>,
) -> Res<Page<Activity>> {
    Ok(Json(s.app.activities_for(&f, &p, &a.actor()).await?))
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
async fn get_activity(State(s): State<AppState>, a: Auth, Path(id): Path<String>) -> Res<Activity> {
    Ok(Json(
        s.app
            .activity_for(path_id(&id, "activity")?, &a.actor())
            .await?,
    ))
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
    a: Auth,
    ApiQuery(f): ApiQuery<NoteFilter>,
    ApiQuery(p): ApiQuery<Paging>,
) -> Res<Page<Note>> {
    Ok(Json(s.app.notes_for(&f, &p, &a.actor()).await?))
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
async fn get_note(State(s): State<AppState>, a: Auth, Path(id): Path<String>) -> Res<Note> {
    Ok(Json(
        s.app.note_for(path_id(&id, "note")?, &a.actor()).await?,
    ))
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
