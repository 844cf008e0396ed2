//! The history reports — funnel on cohorts, velocity, attribution — over the
//! in-memory dataset. The dataset is loaded once per data version (a counter
//! every write bumps) and each report's result is cached under it, so asking
//! again on unchanged data costs one tiny query and no re-scan.

use crate::{App, AppError};
use serde::{Deserialize, Serialize};
use smarketing_core::analytics::attribution::{
    AttributionQuery, AttributionReport, Conversion, attribute,
};
use smarketing_core::analytics::dataset::{Dataset, DatasetBuilder};
use smarketing_core::analytics::funnel::{Cohort, FunnelRow, VelocityRow, funnel, velocity};
use smarketing_core::analytics::models::Model;
use smarketing_core::calendar::WorkingCalendar;
use smarketing_core::period::Period;
use smarketing_core::segment::Dimension;
use smarketing_core::{Instant, Invalid, Stage};
use std::any::Any;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What a dataset was loaded at: the data version and the playbook version.
pub type Version = (i64, i64);

/// The dataset of one data version and the results computed on it.
#[derive(Default)]
pub struct Analytics {
    version: Version,
    dataset: Option<Arc<Dataset>>,
    results: HashMap<String, Arc<dyn Any + Send + Sync>>,
}

pub type AnalyticsCache = Arc<Mutex<Analytics>>;

/// Results kept per data version; beyond this the cache starts afresh.
const MAX_CACHED_RESULTS: usize = 256;

/// Runs CPU work on tokio's blocking pool, away from the async workers.
async fn off_the_workers<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, AppError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| AppError::Store(smarketing_store::StoreError::Corrupt(e.to_string())))
}

/// Which contacts a funnel or velocity report follows, as users write it.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams), into_params(parameter_in = Query))]
pub struct CohortQuery {
    /// The stage the cohort entered (default lead).
    pub stage: Option<String>,
    /// Entered in this period (2026, 2026-Q4, 2026-11); all time if absent.
    pub period: Option<String>,
    /// Count later stages reached within this many days of entering.
    pub within_days: Option<u32>,
    /// Break down by source_channel, campaign, persona, company_size, region or owner.
    pub by: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams), into_params(parameter_in = Query))]
pub struct AttributionParams {
    /// lead, mql, opportunity or won (default won).
    pub conversion: Option<String>,
    /// Comma-separated models, or `all` (default).
    pub models: Option<String>,
    /// Half-life of time decay in days (default 7).
    pub half_life_days: Option<f64>,
    /// Markov order 1–4 (default 1).
    pub order: Option<u8>,
    /// Only touches this many days before the conversion count.
    pub lookback_days: Option<u32>,
    /// Credit the touches of all of an account's contacts to its deals.
    pub account_level: Option<bool>,
    /// Conversions in this period; all time if absent.
    pub period: Option<String>,
    /// Credit campaigns as well as channels (default true).
    pub campaigns: Option<bool>,
}

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FunnelReport {
    pub cohort_stage: Stage,
    pub period: Option<String>,
    pub within_days: Option<u32>,
    pub by: Option<Dimension>,
    pub rows: Vec<FunnelRow>,
    /// The same cohort one period earlier, when a period is given.
    pub previous: Option<Vec<FunnelRow>>,
}

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct VelocityReport {
    pub cohort_stage: Stage,
    pub period: Option<String>,
    pub by: Option<Dimension>,
    pub rows: Vec<VelocityRow>,
    /// The same cohort one period earlier, when a period is given.
    pub previous: Option<Vec<VelocityRow>>,
}

/// How long the last load took, for the benchmark and the logs.
#[derive(Debug, Clone, Copy)]
pub struct LoadFigures {
    pub took: Duration,
    pub contacts: u64,
    pub touches: u64,
    pub changes: u64,
    pub deals: u64,
}

impl App {
    /// The dataset of the current data version (and playbook version: the
    /// channel taxonomy comes from it), loaded if either changed. One load
    /// at a time: requests that arrive during a load wait for it and share
    /// it.
    pub async fn dataset(&self) -> Result<(Version, Arc<Dataset>), AppError> {
        let _loading = self.analytics_load.lock().await;
        // The playbook first: it takes a pool connection of its own.
        let (playbook_version, playbook) = self.playbook().await?;
        let mut conn = self.store().acquire().await?;
        let version = (
            smarketing_store::analytics::data_version(&mut conn).await?,
            playbook_version,
        );
        {
            let cache = self.analytics.lock().expect("analytics cache");
            if cache.version == version
                && let Some(ds) = &cache.dataset
            {
                return Ok((version, ds.clone()));
            }
        }
        let (ds, _) = self.load_dataset(&mut conn, &playbook).await?;
        let ds = Arc::new(ds);
        let mut cache = self.analytics.lock().expect("analytics cache");
        *cache = Analytics {
            version,
            dataset: Some(ds.clone()),
            results: HashMap::new(),
        };
        Ok((version, ds))
    }

    /// Reads the dataset afresh (no cache), with how long it took. The
    /// version is read before the data, so a write that lands during the
    /// load only makes the next request load again.
    pub async fn load_dataset(
        &self,
        conn: &mut smarketing_store::Conn,
        playbook: &smarketing_core::Playbook,
    ) -> Result<(Dataset, LoadFigures), AppError> {
        let started = std::time::Instant::now();
        let mut b = DatasetBuilder::new(playbook.channels.iter().map(|c| c.id.as_str()));
        let n = smarketing_store::analytics::load(conn, &mut b).await?;
        let ds = off_the_workers(move || b.finish()).await?;
        Ok((
            ds,
            LoadFigures {
                took: started.elapsed(),
                contacts: n.contacts,
                touches: n.touches,
                changes: n.changes,
                deals: n.deals,
            },
        ))
    }

    /// A report's result from the cache of this data version, or computed.
    async fn cached<T, F>(&self, key: String, compute: F) -> Result<T, AppError>
    where
        T: Clone + Send + Sync + 'static,
        F: FnOnce(&Dataset) -> Result<T, AppError> + Send + 'static,
    {
        let (version, ds) = self.dataset().await?;
        {
            let cache = self.analytics.lock().expect("analytics cache");
            if cache.version == version
                && let Some(v) = cache.results.get(&key).and_then(|v| v.downcast_ref::<T>())
            {
                return Ok(v.clone());
            }
        }
        // Reports are CPU work: off the async workers.
        let result = off_the_workers(move || compute(&ds)).await??;
        let value: Arc<dyn Any + Send + Sync> = Arc::new(result.clone());
        let mut cache = self.analytics.lock().expect("analytics cache");
        if cache.version == version {
            if cache.results.len() >= MAX_CACHED_RESULTS {
                cache.results.clear();
            }
            cache.results.insert(key, value);
        }
        Ok(result)
    }

    async fn optional_period(
        &self,
        period: Option<&str>,
    ) -> Result<Option<(Period, (i64, i64))>, AppError> {
        match period {
            Some(p) => Ok(Some(self.period_bounds(p).await?)),
            None => Ok(None),
        }
    }

    async fn period_bounds(&self, period: &str) -> Result<(Period, (i64, i64)), AppError> {
        let p: Period = period.parse()?;
        let (_, playbook) = self.playbook().await?;
        let tz = WorkingCalendar::from_spec(&playbook.calendar)?;
        let (a, b) = p.instants(tz.time_zone());
        Ok((p, (Instant::from(a).millis(), Instant::from(b).millis())))
    }

    /// The bounds of the period before the given one, for period over period.
    async fn previous_period(
        &self,
        period: &Option<(Period, (i64, i64))>,
    ) -> Result<Option<(i64, i64)>, AppError> {
        Ok(match period {
            Some((p, _)) => Some(self.period_bounds(&p.previous().to_string()).await?.1),
            None => None,
        })
    }

    async fn cohort(
        &self,
        q: &CohortQuery,
    ) -> Result<(Cohort, Option<(Period, (i64, i64))>), AppError> {
        let stage = match q.stage.as_deref() {
            None => Stage::Lead,
            Some(s) => s.parse::<Stage>()?,
        };
        if stage.is_side_state() || stage == Stage::Customer || stage == Stage::Evangelist {
            return Err(Invalid::new(
                "invalid_cohort_stage",
                "stage",
                format!("a cohort enters a funnel stage before customer, not {stage}"),
            )
            .into());
        }
        let period = self.optional_period(q.period.as_deref()).await?;
        let dimension =
            q.by.as_deref()
                .map(|d| Dimension::parse(d, "by"))
                .transpose()?;
        positive(q.within_days, "within_days")?;
        Ok((
            Cohort {
                stage,
                period: period.map(|p| p.1),
                within_days: q.within_days,
                dimension,
            },
            period,
        ))
    }

    /// Of the contacts that entered a stage (in a period), how many reached
    /// each later stage, by one dimension; with the previous period beside it.
    pub async fn funnel_report(&self, q: &CohortQuery) -> Result<FunnelReport, AppError> {
        let (cohort, period) = self.cohort(q).await?;
        let previous = self.previous_period(&period).await?;
        let key = format!("funnel {cohort:?} {previous:?}");
        let q = q.clone();
        self.cached(key, move |ds| {
            Ok(FunnelReport {
                cohort_stage: cohort.stage,
                period: period.map(|p| p.0.to_string()),
                within_days: q.within_days,
                by: cohort.dimension,
                rows: funnel(ds, &cohort),
                previous: previous.map(|prev| {
                    funnel(
                        ds,
                        &Cohort {
                            period: Some(prev),
                            ..cohort
                        },
                    )
                }),
            })
        })
        .await
    }

    /// Time in each stage and from the cohort stage to won, p50/p90, by one dimension.
    pub async fn velocity_report(&self, q: &CohortQuery) -> Result<VelocityReport, AppError> {
        let (cohort, period) = self.cohort(q).await?;
        let previous = self.previous_period(&period).await?;
        let key = format!("velocity {cohort:?} {previous:?}");
        self.cached(key, move |ds| {
            Ok(VelocityReport {
                cohort_stage: cohort.stage,
                period: period.map(|p| p.0.to_string()),
                by: cohort.dimension,
                rows: velocity(ds, &cohort),
                previous: previous.map(|prev| {
                    velocity(
                        ds,
                        &Cohort {
                            period: Some(prev),
                            ..cohort
                        },
                    )
                }),
            })
        })
        .await
    }

    /// Credit of conversions per channel and campaign under each model.
    pub async fn attribution_report(
        &self,
        p: &AttributionParams,
    ) -> Result<AttributionReport, AppError> {
        let conversion = Conversion::parse(p.conversion.as_deref().unwrap_or("won"))?;
        let models = models(
            p.models.as_deref(),
            p.half_life_days.unwrap_or(7.0),
            p.order.unwrap_or(1),
        )?;
        positive(p.lookback_days, "lookback_days")?;
        let period = self
            .optional_period(p.period.as_deref())
            .await?
            .map(|p| p.1);
        let q = AttributionQuery {
            conversion,
            models,
            lookback_days: p.lookback_days,
            account_level: p.account_level.unwrap_or(false),
            period,
            campaigns: p.campaigns.unwrap_or(true),
        };
        let key = format!("attribution {q:?}");
        self.cached(key, move |ds| {
            let r = attribute(ds, &q)?;
            for m in r.models.iter().filter(|m| !m.reconciled) {
                tracing::error!(model = %m.model, "attribution credit does not sum to the converted total");
            }
            Ok(r)
        })
        .await
    }
}

/// Parameters of the ROI report.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams), into_params(parameter_in = Query))]
pub struct RoiParams {
    /// The attribution model (default linear).
    pub model: Option<String>,
    pub half_life_days: Option<f64>,
    pub order: Option<u8>,
    pub lookback_days: Option<u32>,
    /// Conversions and campaign spend of this period; all time if absent.
    pub period: Option<String>,
}

/// Parameters of a deal's drill-down.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams), into_params(parameter_in = Query))]
pub struct JourneyParams {
    /// Comma-separated per-touch models, or `all` (default).
    pub models: Option<String>,
    pub half_life_days: Option<f64>,
    pub lookback_days: Option<u32>,
    pub account_level: Option<bool>,
}

fn models(list: Option<&str>, half_life: f64, order: u8) -> Result<Vec<Model>, AppError> {
    Ok(match list.map(str::trim) {
        None | Some("all") | Some("") => Model::all(half_life, order)?,
        Some(list) => list
            .split(',')
            .map(|m| Model::parse(m, half_life, order))
            .collect::<Result<Vec<_>, _>>()?,
    })
}

fn positive(days: Option<u32>, field: &str) -> Result<(), AppError> {
    if days == Some(0) {
        return Err(Invalid::new(
            "invalid_window",
            field,
            format!("{field} must be at least 1"),
        )
        .into());
    }
    Ok(())
}

impl App {
    /// Spend against attributed MQLs, pipeline and revenue per channel and campaign.
    pub async fn roi_report(
        &self,
        p: &RoiParams,
    ) -> Result<smarketing_core::analytics::roi::RoiReport, AppError> {
        let model = Model::parse(
            p.model.as_deref().unwrap_or("linear"),
            p.half_life_days.unwrap_or(7.0),
            p.order.unwrap_or(1),
        )?;
        positive(p.lookback_days, "lookback_days")?;
        let period = self
            .optional_period(p.period.as_deref())
            .await?
            .map(|p| p.1);
        let key = format!("roi {model:?} {period:?} {:?}", p.lookback_days);
        let lookback = p.lookback_days;
        self.cached(key, move |ds| {
            Ok(smarketing_core::analytics::roi::channel_roi(
                ds, model, period, lookback,
            )?)
        })
        .await
    }

    /// The touches behind one deal with each rule-based model's weights.
    pub async fn deal_journey(
        &self,
        deal_id: i64,
        p: &JourneyParams,
    ) -> Result<smarketing_core::analytics::attribution::DealJourney, AppError> {
        let models = models(p.models.as_deref(), p.half_life_days.unwrap_or(7.0), 1)?;
        positive(p.lookback_days, "lookback_days")?;
        let (_, ds) = self.dataset().await?;
        smarketing_core::analytics::attribution::deal_journey(
            &ds,
            deal_id,
            &models,
            p.lookback_days,
            p.account_level.unwrap_or(false),
        )
        .ok_or_else(|| AppError::not_found("deal", deal_id))
    }
}
