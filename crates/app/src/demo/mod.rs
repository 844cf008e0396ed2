//! The demo company: a deterministic (seeded) generator of a believable B2B
//! software business — users of both teams, accounts, a year of campaigns
//! with spend, contacts with journeys of touches, lifecycle history driven by
//! the playbook's own scoring, handoffs worked by reps, deals won and lost.

mod story;
mod tables;
mod world;

use crate::import::Progress;
use crate::input::UserInput;
use crate::{Actor, App, AppError};
use serde::Serialize;
use smarketing_core::{Instant, Role, Team};
use smarketing_store::{User, Where, repo};
use std::collections::HashMap;
use world::build;

/// How big a demo company to make.
#[derive(Debug, Clone, Copy)]
pub struct DemoSize {
    pub accounts: usize,
    pub contacts: usize,
    /// Mean touches per contact (the total lands near contacts × this).
    pub touches_per_contact: f64,
    pub months: u32,
}

impl Default for DemoSize {
    fn default() -> Self {
        DemoSize {
            accounts: 3_000,
            contacts: 20_000,
            touches_per_contact: 24.0,
            months: 12,
        }
    }
}

/// The source the demo website's events come from.
pub const DEMO_SOURCE: &str = "Demo website";

/// What a user of the demo needs to reach it: an admin's API token, the
/// demo website's write key, and a sign-in of every profile.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct DemoCredentials {
    pub api_token: String,
    pub write_key: String,
    /// Files written before sign-in existed have none; new ones are made.
    #[serde(default)]
    pub logins: Vec<DemoLogin>,
}

/// One demo person's sign-in.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct DemoLogin {
    /// Their profile: admin, marketing lead, …
    pub profile: String,
    pub name: String,
    pub email: String,
    pub password: String,
}

/// The demo people who can sign in: one of every profile.
const DEMO_LOGINS: [&str; 6] = [
    "admin@demo.smarketing.dev",
    "mona@demo.smarketing.dev",
    "lea@demo.smarketing.dev",
    "sam@demo.smarketing.dev",
    "ana@demo.smarketing.dev",
    "vera@demo.smarketing.dev",
];

#[derive(Debug, Clone, Default, Serialize)]
pub struct DemoSummary {
    pub users: usize,
    pub accounts: usize,
    pub campaigns: usize,
    pub contacts: usize,
    pub touchpoints: usize,
    pub stage_changes: usize,
    pub deals: usize,
    pub activities: usize,
    pub notes: usize,
    pub handoffs: usize,
    /// False when the database already held data and was reused as is.
    pub generated: bool,
}

const DAY: i64 = 86_400_000;
const HOUR: i64 = 3_600_000;

impl App {
    /// The demo admin's API token and the demo website's write key: the
    /// `saved` ones when both still work, so a second `demo` run prints what
    /// the first did; otherwise new ones (the token is stored hashed, so it
    /// cannot be read back — the caller keeps it beside the database).
    pub async fn demo_credentials(
        &self,
        admin: &User,
        saved: Option<DemoCredentials>,
    ) -> Result<DemoCredentials, AppError> {
        let logins = self
            .demo_logins(saved.as_ref().map_or(&[][..], |s| &s.logins))
            .await?;
        if let Some(saved) = saved {
            let token_works = self
                .authenticate(&saved.api_token, None)
                .await?
                .is_some_and(|a| a.user.id == admin.id);
            let key_works = self
                .source_for_key(&saved.write_key)
                .await?
                .is_some_and(|s| s.name == DEMO_SOURCE);
            if token_works && key_works {
                return Ok(DemoCredentials { logins, ..saved });
            }
        }
        let api_token = self.create_token(admin.id, "demo").await?;
        let write_key = match self.add_source(DEMO_SOURCE, &["*".to_string()]).await {
            Ok(s) => s.write_key,
            Err(AppError::Conflict { .. }) => self.rotate_write_key(DEMO_SOURCE).await?,
            Err(e) => return Err(e),
        };
        Ok(DemoCredentials {
            logins,
            api_token,
            write_key,
        })
    }

    /// A sign-in for one demo person of every profile: the `saved`
    /// password when it still works, else a new random one (set now).
    async fn demo_logins(&self, saved: &[DemoLogin]) -> Result<Vec<DemoLogin>, AppError> {
        let users = self.users().await?;
        let mut logins = Vec::new();
        for email in DEMO_LOGINS {
            let Some(user) = users.iter().find(|u| u.email == email) else {
                continue;
            };
            let mut conn = self.store().acquire().await?;
            let hash = repo::password_hash(&mut conn, user.id).await?;
            drop(conn);
            let kept = saved
                .iter()
                .find(|l| l.email == email)
                .filter(|l| {
                    hash.as_deref()
                        .is_some_and(|h| crate::sign_in::verify_password(&l.password, h))
                })
                .map(|l| l.password.clone());
            let password = match kept {
                Some(p) => p,
                None => {
                    let p = format!("demo-{}", hex::encode(rand::random::<[u8; 8]>()));
                    self.set_password(user.id, &p, &crate::Actor::system())
                        .await?;
                    p
                }
            };
            logins.push(DemoLogin {
                profile: smarketing_core::access::Profile::of(user.role, user.team)
                    .name()
                    .to_string(),
                name: user.name.clone(),
                email: email.to_string(),
                password,
            });
        }
        Ok(logins)
    }

    /// Creates the demo users and, when the database holds no contacts yet,
    /// the demo company. Returns what is there and the admin user.
    pub async fn generate_demo(
        &self,
        seed: u64,
        size: DemoSize,
        progress: &dyn Progress,
    ) -> Result<(DemoSummary, User), AppError> {
        let admin = self
            .ensure_user(UserInput {
                name: "Riley Admin".into(),
                email: "admin@demo.smarketing.dev".into(),
                team: "marketing".into(),
                role: "admin".into(),
            })
            .await?;
        let mut conn = self.store().acquire().await?;
        let existing = repo::count(&mut conn, "contacts", &Where::new()).await?;
        drop(conn);
        if existing > 0 {
            return Ok((self.demo_counts().await?, admin));
        }
        let mut users = vec![admin.clone()];
        let staff: [(&str, &str, &str); 15] = [
            ("Ana Sales", "sales", "member"),
            ("Ben Carter", "sales", "member"),
            ("Chiara Rossi", "sales", "member"),
            ("Dev Patel", "sales", "member"),
            ("Eva Lindqvist", "sales", "member"),
            ("Farid Haddad", "sales", "member"),
            ("Grace Okafor", "sales", "member"),
            ("Hiro Tanaka", "sales", "member"),
            ("Sam Manager", "sales", "manager"),
            ("Mona Marketing", "marketing", "manager"),
            ("Lea Demand", "marketing", "member"),
            ("Noel Content", "marketing", "member"),
            ("Omar Events", "marketing", "member"),
            ("Paula Ops", "marketing", "member"),
            ("Vera Board", "sales", "viewer"),
        ];
        for (name, team, role) in staff {
            let email = format!(
                "{}@demo.smarketing.dev",
                name.split(' ').next().unwrap_or(name).to_lowercase()
            );
            users.push(
                self.ensure_user(UserInput {
                    name: name.into(),
                    email,
                    team: team.into(),
                    role: role.into(),
                })
                .await?,
            );
        }
        let reps: Vec<i64> = users
            .iter()
            .filter(|u| u.team == Team::Sales && u.role == Role::Member)
            .map(|u| u.id)
            .collect();
        let marketers: Vec<i64> = users
            .iter()
            .filter(|u| u.team == Team::Marketing)
            .map(|u| u.id)
            .collect();
        let (version, playbook) = self.playbook().await?;
        // End at the start of today so that one seed on one day gives one company.
        let now = self.now().millis();
        let end = now - now.rem_euclid(DAY);
        let mut world = build(&playbook, seed, size, end, &reps, &marketers, progress);
        // The company's history ran under the playbook it has now; its
        // agreement is signed today, so no past handoff is held to it.
        for (_, h) in &mut world.handoffs {
            h.playbook_version = Some(version);
        }
        let mut summary = DemoSummary {
            users: users.len(),
            accounts: world.accounts.len(),
            campaigns: world.campaigns.len(),
            contacts: world.contacts.len(),
            touchpoints: world.touchpoints.len(),
            stage_changes: world.stage_changes.len(),
            deals: world.deals.len(),
            activities: world.activities.len(),
            notes: world.notes.len(),
            handoffs: world.handoffs.len(),
            generated: true,
        };
        let total = (summary.accounts
            + summary.campaigns
            + summary.contacts
            + summary.touchpoints
            + summary.stage_changes
            + summary.deals
            + summary.activities
            + summary.notes
            + summary.handoffs
            + world.assignments.len()) as u64;
        progress.start("writing the demo company", total);
        let mut tx = self.store().begin().await?;
        macro_rules! put {
            ($rows:expr) => {
                for chunk in $rows.chunks(5_000) {
                    repo::insert_with_ids(&mut tx, chunk).await?;
                    progress.advance(chunk.len() as u64);
                }
            };
        }
        put!(world.accounts);
        put!(world.campaigns);
        put!(world.contacts);
        put!(world.touchpoints);
        put!(world.stage_changes);
        put!(world.deals);
        put!(world.activities);
        put!(world.notes);
        put!(world.handoffs);
        put!(world.assignments);
        tx.commit()
            .await
            .map_err(smarketing_store::StoreError::from)?;
        progress.finish();
        summary.users = users.len();
        let won: Vec<(Instant, i64)> = world
            .deals
            .iter()
            .filter(|(_, d)| d.status == smarketing_core::DealStatus::Won)
            .filter_map(|(_, d)| Some((d.closed_at?, d.amount_minor)))
            .collect();
        self.demo_goals_and_agreement(&won, &users).await?;
        Ok((summary, admin))
    }

    /// What a company using Smarketing has set up by now: a revenue goal
    /// for the current quarter, the four before it and the current year,
    /// the SLA agreement signed by the marketing and sales
    /// managers, and a newer version (a higher acceptance minimum) waiting
    /// for their signatures.
    async fn demo_goals_and_agreement(
        &self,
        won: &[(Instant, i64)],
        users: &[User],
    ) -> Result<(), AppError> {
        let now = self.now();
        let zone = jiff::tz::TimeZone::UTC;
        let quarter_of = |at: Instant| {
            let d = at.timestamp().to_zoned(zone.clone()).date();
            (d.year(), (d.month() as u8 - 1) / 3 + 1)
        };
        let (year, quarter) = quarter_of(now);
        // The current quarter and the four before it.
        let quarters: Vec<(i16, u8)> = (0..5)
            .map(|back: i16| {
                let q = year * 4 + i16::from(quarter) - 1 - back;
                (q.div_euclid(4), (q.rem_euclid(4) + 1) as u8)
            })
            .collect();
        let mut by_quarter: HashMap<(i16, u8), i64> = HashMap::new();
        for (at, amount) in won {
            *by_quarter.entry(quarter_of(*at)).or_default() += amount;
        }
        // The demo company is growing: the goal is a tenth above the pace
        // of the current quarter so far, so pacing has something to say.
        let today = now.timestamp().to_zoned(zone.clone()).date();
        let quarter_start = jiff::civil::date(year, (quarter as i8 - 1) * 3 + 1, 1);
        let elapsed = (today - quarter_start).get_days() as f64 + 1.0;
        let this_quarter = by_quarter.get(&quarters[0]).copied().unwrap_or(0) as f64;
        let pace = this_quarter * 91.0 / elapsed.max(9.0);
        // Rounded to a thousand in the company's currency.
        let goal = ((pace * 1.1 / 100_000.0).round() as i64).max(1) * 100_000;
        let system = Actor::system();
        for (y, q) in &quarters {
            let input = crate::goals::GoalInput {
                revenue_minor: goal,
                marketing_share: Some(0.6),
                segment: None,
            };
            self.set_goal(&format!("{y}-Q{q}"), input, &system).await?;
        }
        let input = crate::goals::GoalInput {
            revenue_minor: goal * 4,
            marketing_share: Some(0.6),
            segment: None,
        };
        self.set_goal(&year.to_string(), input, &system).await?;
        let lead = |team: Team| {
            users
                .iter()
                .find(|u| u.team == team && u.role == Role::Manager)
                .cloned()
        };
        if let (Some(marketing), Some(sales)) = (lead(Team::Marketing), lead(Team::Sales)) {
            let version = self.agreements().await?.last().map(|a| a.version);
            if let Some(v) = version {
                self.sign_agreement(v, &marketing).await?;
                self.sign_agreement(v, &sales).await?;
            }
            let (_, playbook) = self.playbook().await?;
            let mut next = (*playbook).clone();
            next.sla.min_acceptance_rate = 0.65;
            self.import_playbook(
                &next.to_toml(),
                &marketing.name,
                Some("raise the acceptance minimum to 65 %"),
                &system,
            )
            .await?;
        }
        Ok(())
    }

    async fn demo_counts(&self) -> Result<DemoSummary, AppError> {
        let mut conn = self.store().acquire().await?;
        let tables = [
            "users",
            "accounts",
            "campaigns",
            "contacts",
            "touchpoints",
            "stage_changes",
            "deals",
            "activities",
            "notes",
            "handoffs",
        ];
        let mut n = Vec::with_capacity(tables.len());
        for t in tables {
            n.push(repo::count(&mut conn, t, &Where::new()).await? as usize);
        }
        Ok(DemoSummary {
            users: n[0],
            accounts: n[1],
            campaigns: n[2],
            contacts: n[3],
            touchpoints: n[4],
            stage_changes: n[5],
            deals: n[6],
            activities: n[7],
            notes: n[8],
            handoffs: n[9],
            generated: false,
        })
    }
}
