//! Report results for pages, served at once: the last result with the time
//! it was computed, while a newer one is computed in the background once
//! the data changed or the result aged. No page waits for a reload but the
//! very first; the page says how old what it shows is.

use crate::{App, AppError};
use smarketing_core::Instant;
use std::any::Any;
use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A result older than this is recomputed even if no counted table
/// changed: SLA clocks move with time, and handoffs and activities do not
/// bump the data version.
pub const MAX_AGE: Duration = Duration::from_secs(60);

/// Results by key (a report and its parameters).
#[derive(Default)]
pub(crate) struct Snapshots(Mutex<HashMap<String, Entry>>);

struct Entry {
    value: Arc<dyn Any + Send + Sync>,
    as_of: Instant,
    data_version: i64,
    refreshing: bool,
}

/// A result and how current it is.
pub struct Snapshot<T> {
    pub value: Arc<T>,
    /// When it was computed.
    pub as_of: Instant,
    /// Whether a newer result is being computed now.
    pub refreshing: bool,
}

impl App {
    /// The result of `compute` under `key`: the stored one while the data
    /// is unchanged and it is younger than [`MAX_AGE`]; otherwise still
    /// the stored one, with `compute` run in the background to replace it.
    /// Only a key never computed waits for `compute`.
    pub async fn snapshot<T, F, Fut>(&self, key: &str, compute: F) -> Result<Snapshot<T>, AppError>
    where
        T: Send + Sync + 'static,
        F: FnOnce(App) -> Fut + Send + 'static,
        Fut: Future<Output = Result<T, AppError>> + Send + 'static,
    {
        let version = {
            let mut conn = self.store().acquire().await?;
            smarketing_store::analytics::data_version(&mut conn).await?
        };
        let now = self.now();
        let stale = {
            let mut map = self.snapshots.0.lock().expect("snapshots");
            match map.get_mut(key) {
                Some(e) => {
                    let value = e.value.clone().downcast::<T>().ok();
                    let fresh = e.data_version == version
                        && now.millis() - e.as_of.millis() < MAX_AGE.as_millis() as i64;
                    match value {
                        Some(value) if fresh => {
                            return Ok(Snapshot {
                                value,
                                as_of: e.as_of,
                                refreshing: e.refreshing,
                            });
                        }
                        Some(value) => {
                            let start = !e.refreshing;
                            e.refreshing = true;
                            Some((value, e.as_of, start))
                        }
                        None => None,
                    }
                }
                None => None,
            }
        };
        match stale {
            Some((value, as_of, start)) => {
                if start {
                    let app = self.clone();
                    let key = key.to_string();
                    tokio::spawn(async move {
                        let outcome = compute(app.clone()).await;
                        app.store_snapshot(&key, outcome, version, now);
                    });
                }
                Ok(Snapshot {
                    value,
                    as_of,
                    refreshing: true,
                })
            }
            None => {
                let value = Arc::new(compute(self.clone()).await?);
                let stored: Arc<dyn Any + Send + Sync> = value.clone();
                self.snapshots.0.lock().expect("snapshots").insert(
                    key.to_string(),
                    Entry {
                        value: stored,
                        as_of: now,
                        data_version: version,
                        refreshing: false,
                    },
                );
                Ok(Snapshot {
                    value,
                    as_of: now,
                    refreshing: false,
                })
            }
        }
    }

    fn store_snapshot<T: Send + Sync + 'static>(
        &self,
        key: &str,
        outcome: Result<T, AppError>,
        version: i64,
        as_of: Instant,
    ) {
        let mut map = self.snapshots.0.lock().expect("snapshots");
        match outcome {
            Ok(value) => {
                map.insert(
                    key.to_string(),
                    Entry {
                        value: Arc::new(value),
                        as_of,
                        data_version: version,
                        refreshing: false,
                    },
                );
            }
            Err(e) => {
                tracing::warn!(error = %e, key, "a report failed to refresh; the last result stays");
                if let Some(entry) = map.get_mut(key) {
                    entry.refreshing = false;
                }
            }
        }
    }
}
