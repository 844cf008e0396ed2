//! The web workspace: server-rendered pages where both teams work, served
//! by the same binary as the API. Every page calls the same app use cases
//! as the JSON API, so what a profile may see and do is decided once, in
//! the app layer; this module only reads requests and renders answers.

mod assets;
mod card;
mod format;
mod home;
mod page;
mod playbook;
mod queue;
mod sign_in;
mod sla;

use crate::AppState;
use axum::Router;
use axum::routing::{get, post};

pub use assets::ASSETS;

/// The page for a path that is nothing here.
pub fn not_found() -> page::UiError {
    page::UiError::Api(crate::error::ApiError::NotFound)
}

/// The workspace's routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(home::team_revenue))
        .route("/sign-in", get(sign_in::form).post(sign_in::submit))
        .route("/sign-out", post(sign_in::sign_out))
        .route("/queue", get(queue::show))
        .route("/queue/{id}/{action}", post(queue::act))
        .route("/handoffs/{id}", get(card::show))
        .route("/playbook", get(playbook::show))
        .route("/playbook/threshold", post(playbook::save_threshold))
        .route("/sla", get(sla::show))
        .route("/sla/sign", post(sla::sign))
        .route("/assets/{hash}/{name}", get(assets::serve))
}
