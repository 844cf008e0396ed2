//! The running server: HTTP on a bound listener, the scheduler (escalations
//! and webhooks) and the event applier, started together and stopped by one
//! signal. `serve`, `demo`, the benchmarks and the tests all start it here,
//! so what they run is what production runs.

use crate::AppState;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// What runs beside HTTP.
#[derive(Debug, Clone)]
pub struct Background {
    /// How often the scheduler looks for due escalations and webhooks;
    /// `None` runs no scheduler.
    pub scheduler_every: Option<Duration>,
    /// Whether kept events are applied (contacts, stitching, touchpoints).
    pub apply_events: bool,
}

impl Background {
    /// Everything, as `serve` runs it.
    pub fn all(scheduler_every: Duration) -> Self {
        Background {
            scheduler_every: Some(scheduler_every),
            apply_events: true,
        }
    }

    /// HTTP alone: the tests and benchmarks that drive the jobs themselves.
    pub fn none() -> Self {
        Background {
            scheduler_every: None,
            apply_events: false,
        }
    }
}

/// A started server; [`Running::stop`] ends every part of it.
pub struct Running {
    addr: SocketAddr,
    stop: watch::Sender<bool>,
    http: JoinHandle<std::io::Result<()>>,
    scheduler: Option<JoinHandle<()>>,
    applier: Option<JoinHandle<()>>,
}

/// Starts HTTP on `listener` (already bound, so a busy port is reported
/// before anything else happens) and the background work.
pub fn start(listener: TcpListener, state: AppState, background: Background) -> Running {
    let addr = listener
        .local_addr()
        .expect("a bound listener has an address");
    let (stop, stopped) = watch::channel(false);
    let scheduler = background.scheduler_every.map(|every| {
        let app = state.app.clone();
        let stopped = stopped.clone();
        tokio::spawn(async move { app.run_scheduler(every, stopped).await })
    });
    let applier = background
        .apply_events
        .then(|| tokio::spawn(state.app.clone().run_event_applier()));
    let limits = state.limits;
    let http = tokio::spawn(crate::clients::serve(
        listener,
        crate::router(state),
        limits,
        stopped,
    ));
    Running {
        addr,
        stop,
        http,
        scheduler,
        applier,
    }
}

impl Running {
    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops HTTP (finishing requests in flight) and the scheduler, then
    /// the applier; what it had applied is committed, the rest waits for
    /// the next start.
    pub async fn stop(self) -> std::io::Result<()> {
        let _ = self.stop.send(true);
        let served = self.http.await.unwrap_or(Ok(()));
        if let Some(s) = self.scheduler {
            let _ = s.await;
        }
        if let Some(a) = self.applier {
            a.abort();
        }
        served
    }

    /// Runs until Ctrl-C or SIGTERM (what systemd and container engines
    /// send), then stops.
    pub async fn until_signalled(self) -> std::io::Result<()> {
        shutdown_signal().await;
        self.stop().await
    }
}

/// Completes on Ctrl-C (SIGINT) or SIGTERM.
pub async fn shutdown_signal() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = interrupt => {}
        _ = terminate => {}
    }
}
