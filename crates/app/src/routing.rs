//! Routing and rep state: who is on the sales team now (settings, open
//! handoffs, absences, calendars) and which rep a new MQL goes to, by core's
//! `route`; reps' routing settings and absences.

use crate::error::named;
use crate::input::{NAME_MAX, opt_text};
use crate::lifecycle::profile;
use crate::{Actor, App, AppError};
use serde::Deserialize;
use smarketing_core::access::Action;
use smarketing_core::calendar::{CalendarSpec, WorkingCalendar};
use smarketing_core::routing::{RepState, route};
use smarketing_core::{Instant, Invalid, Playbook, Role, Team};
use smarketing_store::{Account, Conn, Contact, OutOfOffice, User, repo};
use std::collections::HashMap;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RepSettingsInput {
    /// Share of round-robin leads relative to other reps (default 1).
    pub weight: Option<i64>,
    /// Most open handoffs at once (default: the playbook's).
    pub capacity: Option<i64>,
    /// The rep's own working calendar; absent = the company calendar.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    pub calendar: Option<CalendarSpec>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OutOfOfficeInput {
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub starts_at: Instant,
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub ends_at: Instant,
    pub note: Option<String>,
}

pub(crate) fn is_rep(u: &User) -> bool {
    u.team == Team::Sales
        && matches!(u.role, Role::Manager | Role::Member)
        && u.disabled_at.is_none()
}

/// A rep's working calendar: their own (or the company's), with the
/// company's holidays and their absences.
fn rep_calendar(
    playbook: &Playbook,
    own: Option<&str>,
    away: &[&OutOfOffice],
) -> Result<WorkingCalendar, AppError> {
    let mut spec: CalendarSpec = match own {
        Some(json) => serde_json::from_str(json).map_err(|e| {
            AppError::Store(smarketing_store::StoreError::Corrupt(format!(
                "rep calendar: {e}"
            )))
        })?,
        None => playbook.calendar.clone(),
    };
    for h in &playbook.calendar.holidays {
        if !spec.holidays.iter().any(|x| x.date == h.date) {
            spec.holidays.push(h.clone());
        }
    }
    for a in away {
        spec.out_of_office
            .push(smarketing_core::calendar::AwaySpec {
                from: a.starts_at.to_string(),
                to: a.ends_at.to_string(),
            });
    }
    Ok(WorkingCalendar::from_spec(&spec)?)
}

/// What routing and the clocks need to know about the sales team now.
pub(crate) struct SalesTeam {
    reps: Vec<User>,
    settings: HashMap<i64, smarketing_store::RepSettings>,
    away: Vec<OutOfOffice>,
    /// Calendars built so far, by user (None: the company's). Building one
    /// (and its day table) is costly; a team lives for one operation, in
    /// which the playbook does not change.
    cache: std::sync::Mutex<HashMap<Option<i64>, WorkingCalendar>>,
}

impl SalesTeam {
    /// Whether `user_id` works in sales (a rep or a sales manager): only
    /// their activities count on a handoff's clocks.
    pub(crate) fn is_seller(&self, user_id: i64) -> bool {
        self.reps.iter().any(|u| u.id == user_id)
    }

    /// Sales managers, who hear about breaches.
    pub(crate) fn managers(&self) -> impl Iterator<Item = &User> {
        self.reps.iter().filter(|u| u.role == Role::Manager)
    }

    pub(crate) async fn load(conn: &mut Conn, now: Instant) -> Result<SalesTeam, AppError> {
        let reps = repo::users(conn)
            .await?
            .into_iter()
            .filter(is_rep)
            .collect();
        let settings = repo::rep_settings(conn)
            .await?
            .into_iter()
            .map(|s| (s.user_id, s))
            .collect();
        // Absences that matter for clocks running now: a generous window.
        let from = Instant::from_millis(now.millis() - 400 * 86_400_000).unwrap_or(now);
        let to = Instant::from_millis(now.millis() + 400 * 86_400_000).unwrap_or(now);
        let away = repo::out_of_office_between(conn, from, to).await?;
        Ok(SalesTeam {
            reps,
            settings,
            away,
            cache: Default::default(),
        })
    }

    pub(crate) fn calendar(
        &self,
        playbook: &Playbook,
        user_id: Option<i64>,
    ) -> Result<WorkingCalendar, AppError> {
        if let Some(c) = self
            .cache
            .lock()
            .ok()
            .and_then(|m| m.get(&user_id).cloned())
        {
            return Ok(c);
        }
        let built = self.build_calendar(playbook, user_id)?;
        if let Ok(mut m) = self.cache.lock() {
            m.insert(user_id, built.clone());
        }
        Ok(built)
    }

    fn build_calendar(
        &self,
        playbook: &Playbook,
        user_id: Option<i64>,
    ) -> Result<WorkingCalendar, AppError> {
        let own = user_id
            .and_then(|u| self.settings.get(&u))
            .and_then(|s| s.calendar.as_deref());
        let away: Vec<&OutOfOffice> = self
            .away
            .iter()
            .filter(|a| Some(a.user_id) == user_id)
            .collect();
        rep_calendar(playbook, own, &away)
    }
}

fn hours_until_working(cal: &WorkingCalendar, now: Instant) -> f64 {
    let tick = jiff::SignedDuration::from_millis(1);
    match cal.add_working(now.timestamp(), tick) {
        Some(t) => ((t.as_millisecond() - 1 - now.millis()) as f64 / 3_600_000.0).max(0.0),
        None => f64::INFINITY,
    }
}

/// Every rep as routing sees them now; `except` is left out (the rep a
/// breached lead is taken from).
pub(crate) fn rep_states(
    playbook: &Playbook,
    team: &SalesTeam,
    open: &HashMap<i64, i64>,
    now: Instant,
    except: Option<i64>,
) -> Result<Vec<RepState>, AppError> {
    let mut states = Vec::with_capacity(team.reps.len());
    for r in team.reps.iter().filter(|r| Some(r.id) != except) {
        let s = team.settings.get(&r.id);
        let cal = team.calendar(playbook, Some(r.id))?;
        states.push(RepState {
            user_id: r.id,
            name: r.name.clone(),
            email: r.email.clone(),
            weight: s.map(|s| s.weight.max(1) as u32).unwrap_or(1),
            open_handoffs: open.get(&r.id).copied().unwrap_or(0) as u32,
            capacity: s.and_then(|s| s.capacity).map(|c| c as u32),
            out_of_office: team
                .away
                .iter()
                .any(|a| a.user_id == r.id && a.starts_at <= now && now < a.ends_at),
            hours_until_working: hours_until_working(&cal, now),
            tag: s.map(|s| s.routing_tag).unwrap_or(0.0),
        });
    }
    Ok(states)
}

/// Routes a lead among the team and stores the fair-queueing state.
pub(crate) async fn route_lead(
    conn: &mut Conn,
    playbook: &Playbook,
    team: &SalesTeam,
    contact: &Contact,
    now: Instant,
    except: Option<i64>,
) -> Result<smarketing_core::routing::RouteDecision, AppError> {
    let account = match contact.account_id {
        Some(a) => Some(repo::get::<Account>(conn, a).await?),
        None => None,
    };
    let open = repo::open_handoff_counts(conn).await?;
    let states = rep_states(playbook, team, &open, now, except)?;
    let vt = repo::virtual_time(conn).await?;
    let owner = account
        .as_ref()
        .and_then(|a| a.owner_id)
        .filter(|o| Some(*o) != except);
    let decision = route(
        &playbook.routing,
        &profile(contact, account.as_ref()),
        owner,
        &states,
        vt,
    );
    if let (Some(user), Some(tag), Some(vt)) = (
        decision.assignee,
        decision.new_tag,
        decision.new_virtual_time,
    ) {
        repo::save_routing_tags(conn, user, tag, vt).await?;
    }
    Ok(decision)
}

impl App {
    /// Sets a rep's routing weight, open-handoff cap and working calendar.
    pub async fn set_rep_settings(
        &self,
        user_id: i64,
        input: RepSettingsInput,
        actor: &Actor,
    ) -> Result<smarketing_store::RepSettings, AppError> {
        let mut conn = self.store().acquire().await?;
        let relation = crate::access::relation_to_user(&mut conn, actor, Some(user_id)).await?;
        drop(conn);
        actor.authorize(Action::EditRepSettings, relation)?;
        let weight = input.weight.unwrap_or(1);
        if !(1..=100).contains(&weight) {
            return Err(Invalid::new(
                "invalid_weight",
                "weight",
                "weight must be between 1 and 100",
            )
            .into());
        }
        if input.capacity.is_some_and(|c| c < 1) {
            return Err(Invalid::new(
                "invalid_capacity",
                "capacity",
                "capacity must be at least 1",
            )
            .into());
        }
        let calendar = match &input.calendar {
            Some(spec) => {
                WorkingCalendar::from_spec(spec).map_err(|e| {
                    let field = format!("calendar.{}", e.field);
                    e.at(field)
                })?;
                Some(serde_json::to_string(spec).expect("a calendar spec serialises"))
            }
            None => None,
        };
        let mut conn = self.store().acquire().await?;
        let user: User = repo::get(&mut conn, user_id)
            .await
            .map_err(named("user", user_id))?;
        if !is_rep(&user) {
            return Err(Invalid::new(
                "not_a_rep",
                "user_id",
                format!("{} is not a sales rep", user.name),
            )
            .into());
        }
        let settings = repo::upsert_rep_settings(
            &mut conn,
            user_id,
            weight,
            input.capacity,
            calendar.as_deref(),
        )
        .await?;
        crate::audit::record(
            &mut conn,
            actor,
            "rep_settings.set",
            ("user", &user_id),
            crate::audit::NOTHING,
            Some(&settings),
            self.now(),
        )
        .await?;
        Ok(settings)
    }

    /// Records an absence; routing skips the rep and their clocks pause.
    pub async fn add_out_of_office(
        &self,
        user_id: i64,
        input: OutOfOfficeInput,
        actor: &Actor,
    ) -> Result<OutOfOffice, AppError> {
        let mut conn = self.store().acquire().await?;
        let relation = crate::access::relation_to_user(&mut conn, actor, Some(user_id)).await?;
        drop(conn);
        actor.authorize(Action::RecordAbsence, relation)?;
        if input.ends_at <= input.starts_at {
            return Err(Invalid::new(
                "invalid_range",
                "ends_at",
                "an absence must end after it starts",
            )
            .into());
        }
        let mut conn = self.store().acquire().await?;
        repo::get::<User>(&mut conn, user_id)
            .await
            .map_err(named("user", user_id))?;
        let row = OutOfOffice {
            id: 0,
            user_id,
            starts_at: input.starts_at,
            ends_at: input.ends_at,
            note: opt_text("note", input.note.as_deref(), NAME_MAX)?,
            created_at: self.now(),
        };
        let row = repo::insert(&mut conn, &row).await?;
        crate::audit::record(
            &mut conn,
            actor,
            "absence.add",
            ("user", &user_id),
            crate::audit::NOTHING,
            Some(&row),
            self.now(),
        )
        .await?;
        Ok(row)
    }
}
