//! The scheduler: the loop a server runs to fire due escalations, return
//! SALs without follow-up to marketing, send due webhooks and (hourly)
//! delete anonymous data past retention, until it is told to stop.

use crate::App;
use std::time::Duration;

impl App {
    /// The scheduler: sweeps the clocks once, then every `interval` fires due
    /// escalations and delivers webhooks, until `stop` resolves.
    pub async fn run_scheduler(
        &self,
        interval: Duration,
        stop: tokio::sync::watch::Receiver<bool>,
    ) {
        if let Err(e) = self.sweep_clocks().await {
            tracing::warn!(error = %e, "sweeping SLA clocks failed");
        }
        let mut stop = stop;
        // Retention runs at start and then hourly, not on every pass.
        let mut retention_due = std::time::Instant::now();
        loop {
            if std::time::Instant::now() >= retention_due {
                retention_due = std::time::Instant::now() + Duration::from_secs(3600);
                match self.apply_retention().await {
                    Ok(p) if p.visitors + p.touchpoints + p.events > 0 => tracing::info!(
                        visitors = p.visitors,
                        touchpoints = p.touchpoints,
                        events = p.events,
                        "anonymous data past retention deleted"
                    ),
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e, "retention failed"),
                }
                if let Err(e) = self.purge_old_sessions().await {
                    tracing::warn!(error = %e, "purging old sessions failed");
                }
            }
            match self.run_due_escalations(200).await {
                Ok(r) if r.fired + r.skipped > 0 => {
                    tracing::info!(fired = r.fired, skipped = r.skipped, "escalations")
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "escalations failed"),
            }
            match self.return_unfollowed_sals().await {
                Ok(n) if n > 0 => tracing::info!(returned = n, "SALs without follow-up"),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "returning SALs failed"),
            }
            match self.deliver_webhooks(100).await {
                Ok(r) if r.delivered + r.failed_attempts > 0 => tracing::info!(
                    delivered = r.delivered,
                    failed = r.failed_attempts,
                    "webhooks"
                ),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "webhook delivery failed"),
            }
            tokio::select! {
                _ = tokio::time::sleep(interval) => {}
                _ = stop.changed() => break,
            }
        }
    }
}
