//! Channel ROI: campaign spend against the MQLs, pipeline and won revenue
//! one attribution model credits to each channel and campaign; cost per MQL,
//! CAC and ROI.

use super::attribution::{AttributionQuery, Conversion, ModelCredit, attribute};
use super::dataset::Dataset;
use super::models::Model;
use crate::Invalid;
use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RoiRow {
    pub name: String,
    /// Minor units.
    pub spend_minor: i64,
    pub mqls: f64,
    /// Attributed value of opportunities created (minor units).
    pub pipeline_minor: f64,
    pub won_deals: f64,
    /// Attributed won revenue (minor units).
    pub revenue_minor: f64,
    /// spend ÷ attributed MQLs.
    pub cost_per_mql_minor: Option<f64>,
    /// spend ÷ attributed won deals.
    pub cac_minor: Option<f64>,
    /// (revenue − spend) ÷ spend.
    pub roi: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RoiReport {
    pub model: String,
    pub channels: Vec<RoiRow>,
    pub campaigns: Vec<RoiRow>,
    pub total: RoiRow,
    /// Why part of the credit is missing, if it is (from attribution).
    pub notes: Vec<String>,
}

fn row(name: &str, spend: i64, mqls: f64, pipeline: f64, won: f64, revenue: f64) -> RoiRow {
    let per = |x: f64| (x > 0.0).then(|| spend as f64 / x);
    RoiRow {
        name: name.to_string(),
        spend_minor: spend,
        mqls,
        pipeline_minor: pipeline,
        won_deals: won,
        revenue_minor: revenue,
        cost_per_mql_minor: per(mqls),
        cac_minor: per(won),
        roi: (spend > 0).then(|| (revenue - spend as f64) / spend as f64),
    }
}

/// ROI per channel and campaign under `model`, for conversions (and
/// campaigns started) in `period` (ms), or all time.
pub fn channel_roi(
    ds: &Dataset,
    model: Model,
    period: Option<(i64, i64)>,
    lookback_days: Option<u32>,
) -> Result<RoiReport, Invalid> {
    let run = |conversion| -> Result<ModelCredit, Invalid> {
        let mut r = attribute(
            ds,
            &AttributionQuery {
                conversion,
                models: vec![model],
                lookback_days,
                account_level: false,
                period,
                campaigns: true,
            },
        )?;
        Ok(r.models.remove(0))
    };
    let mql = run(Conversion::Mql)?;
    let opp = run(Conversion::Opportunity)?;
    let won = run(Conversion::Won)?;
    let in_period = |at: i64| period.is_none_or(|(f, t)| at >= f && at < t);
    let mut spend_by_channel = vec![0i64; ds.channels.len()];
    for c in ds.campaigns.iter().filter(|c| in_period(c.started_at)) {
        // Saturating: stored amounts are bounded on the way in, and rows
        // written before that (or by hand) must not fail the report.
        let total = &mut spend_by_channel[c.channel as usize];
        *total = total.saturating_add(c.spend_minor);
    }
    let find = |list: &[super::attribution::Credit], name: &str| {
        list.iter()
            .find(|c| c.name == name)
            .map_or((0.0, 0.0), |c| (c.conversions, c.value))
    };
    let channels: Vec<RoiRow> = ds
        .channels
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let m = find(&mql.channels, name);
            let o = find(&opp.channels, name);
            let w = find(&won.channels, name);
            row(name, spend_by_channel[i], m.0, o.1, w.0, w.1)
        })
        .collect();
    let mut campaigns: Vec<RoiRow> = ds
        .campaigns
        .iter()
        .filter(|c| in_period(c.started_at))
        .map(|c| {
            let m = find(&mql.campaigns, &c.name);
            let o = find(&opp.campaigns, &c.name);
            let w = find(&won.campaigns, &c.name);
            row(&c.name, c.spend_minor, m.0, o.1, w.0, w.1)
        })
        .collect();
    campaigns.sort_by(|a, b| a.name.cmp(&b.name));
    let sum = |f: fn(&RoiRow) -> f64| channels.iter().map(f).sum::<f64>();
    let total = row(
        "ALL",
        spend_by_channel
            .iter()
            .fold(0i64, |a, b| a.saturating_add(*b)),
        sum(|r| r.mqls),
        sum(|r| r.pipeline_minor),
        sum(|r| r.won_deals),
        sum(|r| r.revenue_minor),
    );
    let notes = [&mql, &opp, &won]
        .iter()
        .filter_map(|m| m.note.clone())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    Ok(RoiReport {
        notes,
        model: model.label(),
        channels,
        campaigns,
        total,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Stage;
    use crate::analytics::dataset::{DatasetBuilder, DealStatus};

    #[test]
    fn spend_against_credit() {
        let mut b = DatasetBuilder::new(["email", "events"]);
        b.campaign(1, "Mail", "email", 10_000, 0);
        b.campaign(2, "Fair", "events", 50_000, 0);
        for c in 1..=2 {
            b.contact(c, None, Default::default());
        }
        b.touch(1, 10, 100, "email", Some(1));
        b.touch(1, 11, 200, "events", Some(2));
        b.touch(2, 20, 150, "email", Some(1));
        b.change(1, Stage::Lead, 100, Some(10));
        b.change(1, Stage::Mql, 200, Some(11));
        b.change(2, Stage::Lead, 150, Some(20));
        b.change(2, Stage::Mql, 160, Some(20));
        b.deal(7, Some(1), None, DealStatus::Won, 90_000, 300, Some(400));
        let ds = b.finish();
        let r = channel_roi(&ds, Model::Linear, None, None).unwrap();
        let email = &r.channels[0];
        // MQLs: contact 1 half each, contact 2 all email.
        assert_eq!((email.mqls, email.won_deals), (1.5, 0.5));
        assert_eq!(email.revenue_minor, 45_000.0);
        assert_eq!(email.cost_per_mql_minor, Some(10_000.0 / 1.5));
        assert_eq!(email.cac_minor, Some(20_000.0));
        assert_eq!(email.roi, Some(3.5));
        let events = &r.channels[1];
        assert_eq!(events.roi, Some((45_000.0 - 50_000.0) / 50_000.0));
        assert_eq!(r.total.spend_minor, 60_000);
        assert_eq!(r.total.revenue_minor, 90_000.0);
        assert_eq!(r.campaigns.len(), 2);
    }
}
