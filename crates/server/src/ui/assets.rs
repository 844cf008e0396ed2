//! The workspace's static files, built into the binary. Each is served
//! under its content hash, so a browser may keep it for a year and a new
//! release is fetched at once.

use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};
use std::sync::LazyLock;

/// One static file.
pub struct Asset {
    pub name: &'static str,
    pub content_type: &'static str,
    pub bytes: &'static [u8],
    /// The first 16 hex digits of its SHA-256.
    pub hash: String,
}

impl Asset {
    fn new(name: &'static str, content_type: &'static str, bytes: &'static [u8]) -> Asset {
        let digest = Sha256::digest(bytes);
        Asset {
            name,
            content_type,
            bytes,
            hash: hex(&digest[..8]),
        }
    }

    /// Where pages link it.
    pub fn url(&self) -> String {
        format!("/assets/{}/{}", self.hash, self.name)
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Every static file of the workspace.
pub struct Assets {
    pub css: Asset,
    pub app_js: Asset,
    pub htmx: Asset,
    pub icon: Asset,
}

impl Assets {
    fn all(&self) -> [&Asset; 4] {
        [&self.css, &self.app_js, &self.htmx, &self.icon]
    }
}

pub static ASSETS: LazyLock<Assets> = LazyLock::new(|| Assets {
    css: Asset::new(
        "app.css",
        "text/css; charset=utf-8",
        include_bytes!("../../assets/app.css"),
    ),
    app_js: Asset::new(
        "app.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../assets/app.js"),
    ),
    // Pinned: htmx 2.0.x, committed as published on npm (htmx.org).
    htmx: Asset::new(
        "htmx.min.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../assets/vendor/htmx-2.0.11.min.js"),
    ),
    icon: Asset::new(
        "icon.svg",
        "image/svg+xml",
        include_bytes!("../../assets/icon.svg"),
    ),
});

/// A static file by its hash and name; a stale hash is 404, not an old
/// file under a new name.
pub async fn serve(Path((hash, name)): Path<(String, String)>) -> Response {
    match ASSETS
        .all()
        .into_iter()
        .find(|a| a.name == name && a.hash == hash)
    {
        Some(a) => {
            let mut res = a.bytes.into_response();
            let h = res.headers_mut();
            h.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static(a.content_type),
            );
            h.insert(
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=31536000, immutable"),
            );
            res
        }
        None => StatusCode::NOT_FOUND.into_response(),
    }
}
