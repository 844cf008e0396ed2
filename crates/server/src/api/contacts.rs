//! Contacts: list, create, get, update, their timeline and score, stage
//! moves, and merging two contacts into one (and undoing it).

use super::{Created, Res};
use crate::AppState;
use crate::error::Problem;
use crate::extract::{ApiJson, ApiQuery, Auth, path_id};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;
use smarketing_app::contacts::{ContactFilter, TimelineEntry};
use smarketing_app::input::*;
use smarketing_app::listing::Paging;
use smarketing_app::merges::MergeInput;
use smarketing_core::Instant;
use smarketing_core::scoring::ScoreCard;
use smarketing_store::merges::ContactMerge;
use smarketing_store::{Contact, Page, StageChange};
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_contacts, create_contact))
        .routes(routes!(get_contact, update_contact))
        .routes(routes!(contact_timeline))
        .routes(routes!(contact_score))
        .routes(routes!(move_contact_stage))
        .routes(routes!(contact_merges))
        .routes(routes!(export_person))
        .routes(routes!(erase_person))
        .routes(routes!(list_consents, record_consent))
        .routes(routes!(merge_contacts))
        .routes(routes!(unmerge_contacts))
}

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

/// Everything held about this person (GDPR), as one JSON document: the
/// contact and account, the ids and browsers they are known by, their raw
/// events, touches, stage history, activities, notes, deals, handoffs and
/// merges. Admins; audited.
#[utoipa::path(get, path = "/api/v1/contacts/{id}/export", tag = "contacts", params(("id" = i64, Path)),
    responses((status = 200, body = Object), (status = 403, body = Problem), (status = 404, body = Problem)))]
async fn export_person(
    State(s): State<AppState>,
    a: Auth,
    Path(id): Path<String>,
) -> Res<serde_json::Value> {
    Ok(Json(
        s.app
            .export_person(path_id(&id, "contact")?, &a.actor())
            .await?,
    ))
}

/// Erases a person (admins): a hard delete of the contact, every record
/// merged with it and everything held about them, in one transaction.
/// Deals stay without them; audit entries keep who did what, not the
/// data; a keyed hash of the e-mail stays so no source records them again.
#[utoipa::path(post, path = "/api/v1/contacts/{id}/erasure", tag = "contacts", params(("id" = i64, Path)),
    responses((status = 200, body = smarketing_store::person::Erased),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json")))]
async fn erase_person(
    State(s): State<AppState>,
    a: Auth,
    Path(id): Path<String>,
) -> Res<smarketing_store::person::Erased> {
    Ok(Json(
        s.app
            .erase_person(path_id(&id, "contact")?, &a.actor())
            .await?,
    ))
}

/// A person's consent records, newest first; `in_force` marks the one
/// that holds for each purpose.
#[utoipa::path(get, path = "/api/v1/contacts/{id}/consents", tag = "contacts", params(("id" = i64, Path)),
    responses((status = 200, body = Vec<smarketing_app::privacy::ConsentView>),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json")))]
async fn list_consents(
    State(s): State<AppState>,
    _a: Auth,
    Path(id): Path<String>,
) -> Res<Vec<smarketing_app::privacy::ConsentView>> {
    Ok(Json(s.app.consents(path_id(&id, "contact")?).await?))
}

/// Records that the person granted or withdrew consent for a purpose: the
/// lawful basis, where it was given and when.
#[utoipa::path(post, path = "/api/v1/contacts/{id}/consents", tag = "contacts", params(("id" = i64, Path)),
    request_body = smarketing_app::privacy::ConsentInput,
    responses((status = 201, body = smarketing_app::privacy::ConsentView),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")))]
async fn record_consent(
    State(s): State<AppState>,
    a: Auth,
    Path(id): Path<String>,
    ApiJson(input): ApiJson<smarketing_app::privacy::ConsentInput>,
) -> Created<smarketing_app::privacy::ConsentView> {
    Ok((
        axum::http::StatusCode::CREATED,
        Json(
            s.app
                .record_consent(path_id(&id, "contact")?, input, &a.actor())
                .await?,
        ),
    ))
}

#[utoipa::path(patch, path = "/api/v1/contacts/{id}", tag = "contacts", params(("id" = i64, Path)), request_body = ContactPatch,
    responses((status = 200, body = Contact), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
async fn update_contact(
    State(s): State<AppState>,
    a: Auth,
    Path(id): Path<String>,
    ApiJson(patch): ApiJson<ContactPatch>,
) -> Res<Contact> {
    Ok(Json(
        s.app
            .update_contact(path_id(&id, "contact")?, patch, &a.actor())
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
