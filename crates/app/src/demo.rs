//! The demo company: a deterministic (seeded) generator of a believable B2B
//! software business — users of both teams, accounts, a year of campaigns
//! with spend, contacts with journeys of touches, lifecycle history driven by
//! the playbook's own scoring, handoffs worked by reps, deals won and lost.

use crate::import::Progress;
use crate::input::UserInput;
use crate::lifecycle::profile;
use crate::{Actor, App, AppError};
use rand::prelude::*;
use rand_chacha::ChaCha8Rng;
use serde::Serialize;
use smarketing_core::scoring::{ScoredTouch, mql_trigger, score};
use smarketing_core::{Instant, Playbook, Role, Stage, StageCause, Team};
use smarketing_store::{
    Account, Activity, Campaign, Contact, Deal, Handoff, HandoffAssignment, Note, StageChange,
    Touchpoint, User, Where, repo,
};
use std::collections::HashMap;

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

/// What a user of the demo needs to reach it: an admin's API token and the
/// demo website's write key.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct DemoCredentials {
    pub api_token: String,
    pub write_key: String,
}

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

const FIRST: &[&str] = &[
    "Nicole", "Melissa", "Robert", "Javier", "Chloé", "Łukasz", "Aisha", "Kenji", "Priya", "Mateo",
    "Sofia", "Liam", "Emma", "Noah", "Olivia", "Lucas", "Mia", "Ethan", "Hannah", "Jonas", "Lena",
    "Giulia", "Marco", "Amara", "Yuki", "Wei", "Ana", "Tomás", "Fatima", "Omar", "Ingrid", "Sven",
    "Elif", "Mehmet", "Chen", "Aroha", "Tane", "Grace", "Daniel", "Sarah", "Michael", "Laura",
    "David", "Julia", "Pierre", "Camille", "Raj", "Ananya", "Kwame", "Zanele", "Isabela", "Rafael",
    "Niamh", "Sean", "Freya", "Oskar", "Maja", "Viktor", "Elena", "Hugo",
];
const LAST: &[&str] = &[
    "White",
    "Wilson",
    "Smith",
    "Schneider",
    "Müller",
    "O'Brien",
    "Nowak",
    "Tanaka",
    "Sharma",
    "García",
    "Rossi",
    "Johnson",
    "Brown",
    "Martin",
    "Dubois",
    "van der Berg",
    "Te Rangi",
    "Nguyen",
    "Kim",
    "Okafor",
    "Mensah",
    "Silva",
    "Santos",
    "Kowalski",
    "Larsen",
    "Andersson",
    "Yilmaz",
    "Chen",
    "Li",
    "Patel",
    "Khan",
    "Murphy",
    "Kelly",
    "Fischer",
    "Weber",
    "Wagner",
    "Becker",
    "Moreau",
    "Laurent",
    "Fernández",
    "López",
    "Costa",
    "Ivanova",
    "Novak",
    "Horvat",
    "Jensen",
    "Nielsen",
    "Hughes",
    "Evans",
    "Taylor",
];
const PREFIX: &[&str] = &[
    "Liongate",
    "Elmstack",
    "Granitehill",
    "Emberpath",
    "Optishore",
    "Hawkvista",
    "Bearloop",
    "Silverhill",
    "Opalspark",
    "Summitwave",
    "Everbase",
    "Optispring",
    "Northwind",
    "Bluecrest",
    "Ironleaf",
    "Cedarline",
    "Brightforge",
    "Clearpeak",
    "Redmoor",
    "Stonebridge",
    "Quickfox",
    "Deepwell",
    "Suncrest",
    "Maplegate",
    "Windrose",
    "Tidewater",
    "Copperfield",
    "Highland",
    "Lakeshore",
    "Pinecone",
];
const SECTOR: &[(&str, &str)] = &[
    ("Software", "software"),
    ("Data", "software"),
    ("Labs", "software"),
    ("Capital", "financial_services"),
    ("Wealth", "financial_services"),
    ("Health", "healthcare"),
    ("Manufacturing", "manufacturing"),
    ("Retail", "retail"),
    ("Learning", "education"),
    ("Advisory", "professional_services"),
    ("Media", "media"),
    ("Broadband", "telecommunications"),
    ("Logistics", "logistics"),
    ("Energy", "energy"),
    ("Hotels", "hospitality"),
    ("Technologies", "software"),
];
/// (region, weight, [(country, legal suffix, tld)])
/// (country, legal suffix, top-level domain)
type Country = (&'static str, &'static str, &'static str);
const REGIONS: &[(&str, u32, &[Country])] = &[
    (
        "NA",
        45,
        &[
            ("US", "Inc.", "com"),
            ("US", "LLC", "io"),
            ("CA", "Ltd", "ca"),
        ],
    ),
    (
        "EMEA",
        35,
        &[
            ("DE", "GmbH", "de"),
            ("GB", "Ltd", "co.uk"),
            ("FR", "SAS", "fr"),
            ("NL", "B.V.", "nl"),
            ("SE", "AB", "se"),
        ],
    ),
    (
        "APAC",
        15,
        &[
            ("AU", "Pty Ltd", "com.au"),
            ("JP", "K.K.", "jp"),
            ("SG", "Pte Ltd", "sg"),
            ("NZ", "Ltd", "co.nz"),
        ],
    ),
    (
        "LATAM",
        5,
        &[("BR", "Ltda", "com.br"), ("MX", "S.A.", "mx")],
    ),
];
const PERSONAS: &[(&str, u32, &[&str])] = &[
    (
        "executive",
        12,
        &[
            "CEO",
            "Founder & CEO",
            "Chief Operating Officer",
            "Chief Revenue Officer",
            "Managing Director",
            "VP of Sales",
        ],
    ),
    (
        "marketing_leader",
        22,
        &[
            "VP of Marketing",
            "Head of Growth",
            "Chief Marketing Officer",
            "Director of Demand Generation",
            "Marketing Director",
        ],
    ),
    (
        "operations",
        18,
        &[
            "Revenue Operations Manager",
            "Marketing Operations Analyst",
            "Sales Operations Analyst",
            "Head of Operations",
        ],
    ),
    (
        "it_manager",
        14,
        &[
            "IT Manager",
            "Head of IT",
            "IT Director",
            "Infrastructure Manager",
        ],
    ),
    (
        "developer",
        26,
        &[
            "Software Engineer",
            "Data Engineer",
            "Solutions Architect",
            "Backend Developer",
            "DevOps Engineer",
        ],
    ),
    (
        "student",
        8,
        &[
            "Student",
            "Graduate Student",
            "Marketing Intern",
            "MBA Student",
        ],
    ),
];
/// (channel, weight as a source, weight later in a journey, monthly spend range in whole units, allowed kinds, campaign theme)
/// (channel, source weight, journey weight, spend range, kinds, theme)
type ChannelPlan = (
    &'static str,
    u32,
    u32,
    (i64, i64),
    &'static [&'static str],
    &'static str,
);
const CHANNELS: &[ChannelPlan] = &[
    (
        "organic_search",
        16,
        14,
        (800, 2_500),
        &["page_view", "page_view", "form_submit", "demo_request"],
        "SEO: Comparison pages",
    ),
    (
        "paid_search",
        14,
        10,
        (8_000, 22_000),
        &["ad_click", "ad_click", "form_submit", "demo_request"],
        "Paid search: Category terms",
    ),
    (
        "paid_social",
        10,
        8,
        (5_000, 14_000),
        &["ad_click", "ad_click", "form_submit"],
        "LinkedIn: Pipeline playbook ads",
    ),
    (
        "social",
        5,
        6,
        (300, 900),
        &["page_view", "form_submit"],
        "Organic social: Founder posts",
    ),
    (
        "email",
        8,
        26,
        (600, 1_500),
        &[
            "email_open",
            "email_open",
            "email_click",
            "meeting_booked",
            "demo_request",
        ],
        "Nurture: Revenue alignment series",
    ),
    (
        "webinar",
        12,
        8,
        (1_500, 4_000),
        &["webinar_attended", "form_submit"],
        "Webinar: Pipeline forecasting 101",
    ),
    (
        "events",
        9,
        5,
        (12_000, 40_000),
        &["event_visit", "meeting_booked"],
        "Event: Revenue Summit",
    ),
    (
        "content_download",
        14,
        8,
        (3_000, 9_000),
        &["content_download"],
        "Syndication: State of RevOps report",
    ),
    (
        "referral",
        6,
        5,
        (0, 500),
        &["page_view", "form_submit", "meeting_booked", "demo_request"],
        "Referral: Customer programme",
    ),
    (
        "partner",
        3,
        3,
        (1_000, 3_000),
        &["form_submit", "meeting_booked"],
        "Partner: Agency co-marketing",
    ),
    (
        "direct",
        3,
        7,
        (0, 0),
        &["page_view", "page_view", "form_submit", "demo_request"],
        "Direct: Website",
    ),
];
/// Kinds that identify a person (a journey's first touch is one of these).
const IDENTIFYING: &[&str] = &[
    "form_submit",
    "demo_request",
    "email_click",
    "webinar_attended",
    "content_download",
    "event_visit",
    "meeting_booked",
];

/// An index into `weights`, chosen with probability proportional to its weight.
fn pick_index(rng: &mut ChaCha8Rng, weights: &[u32]) -> usize {
    let total: u32 = weights.iter().sum();
    let mut x = rng.random_range(0..total);
    for (i, w) in weights.iter().enumerate() {
        if x < *w {
            return i;
        }
        x -= w;
    }
    weights.len() - 1
}

fn pick_weighted<'a, T>(rng: &mut ChaCha8Rng, items: &'a [T], weight: impl Fn(&T) -> u32) -> &'a T {
    let total: u32 = items.iter().map(&weight).sum();
    let mut x = rng.random_range(0..total);
    for it in items {
        let w = weight(it);
        if x < w {
            return it;
        }
        x -= w;
    }
    items.last().expect("non-empty")
}

fn slug(s: &str) -> String {
    s.to_lowercase()
        .chars()
        .map(|c| match c {
            'a'..='z' | '0'..='9' => c,
            'é' | 'è' => 'e',
            'ł' => 'l',
            'ü' => 'u',
            'á' => 'a',
            _ => '-',
        })
        .collect::<String>()
        .split('-')
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join("")
}

/// Everything generated, before it is written.
#[derive(Default)]
struct World {
    accounts: Vec<(i64, Account)>,
    campaigns: Vec<(i64, Campaign)>,
    contacts: Vec<(i64, Contact)>,
    touchpoints: Vec<(i64, Touchpoint)>,
    stage_changes: Vec<(i64, StageChange)>,
    deals: Vec<(i64, Deal)>,
    activities: Vec<(i64, Activity)>,
    notes: Vec<(i64, Note)>,
    handoffs: Vec<(i64, Handoff)>,
    assignments: Vec<(i64, HandoffAssignment)>,
}

/// Records the rep's decision on the latest handoff.
fn decide(w: &mut World, decision: &str, reason: Option<&str>, at_ms: i64, by: i64) {
    if let Some((_, h)) = w.handoffs.last_mut() {
        h.decision = Some(decision.into());
        h.reason_code = reason.map(str::to_string);
        h.decided_at = Some(at(at_ms));
        h.decided_by = Some(by);
        h.updated_at = at(at_ms);
    }
}

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
        if let Some(saved) = saved {
            let token_works = self
                .authenticate(&saved.api_token)
                .await?
                .is_some_and(|u| u.id == admin.id);
            let key_works = self
                .source_for_key(&saved.write_key)
                .await?
                .is_some_and(|s| s.name == DEMO_SOURCE);
            if token_works && key_works {
                return Ok(saved);
            }
        }
        let api_token = self.create_token(admin.id, "demo").await?;
        let write_key = match self.add_source(DEMO_SOURCE, &["*".to_string()]).await {
            Ok(s) => s.write_key,
            Err(AppError::Conflict { .. }) => self.rotate_write_key(DEMO_SOURCE).await?,
            Err(e) => return Err(e),
        };
        Ok(DemoCredentials {
            api_token,
            write_key,
        })
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
        let staff: [(&str, &str, &str); 14] = [
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
        let (_, playbook) = self.playbook().await?;
        // End at the start of today so that one seed on one day gives one company.
        let now = self.now().millis();
        let end = now - now.rem_euclid(DAY);
        let world = build(&playbook, seed, size, end, &reps, &marketers, progress);
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
        let backend = self.store().backend();
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
                    repo::insert_with_ids(&mut tx, backend, chunk).await?;
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
            .filter(|(_, d)| d.status == "won")
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

/// The calendar months (UTC) ending with the one that holds `end`: start,
/// end (exclusive) and a label such as "Apr 2026".
fn calendar_months(end: i64, count: u32) -> Vec<(i64, i64, String)> {
    use jiff::{ToSpan, tz::TimeZone};
    let last = jiff::Timestamp::from_millisecond(end)
        .expect("in range")
        .to_zoned(TimeZone::UTC)
        .date()
        .first_of_month();
    (0..count as i64)
        .rev()
        .map(|back| {
            let first = last.checked_sub(back.months()).expect("in range");
            let next = first.checked_add(1.month()).expect("in range");
            let ms = |d: jiff::civil::Date| {
                d.to_zoned(TimeZone::UTC)
                    .expect("in range")
                    .timestamp()
                    .as_millisecond()
            };
            (ms(first), ms(next), first.strftime("%b %Y").to_string())
        })
        .collect()
}

fn at(ms: i64) -> Instant {
    Instant::from_millis(ms).expect("demo instants are in range")
}

/// Builds the demo world in memory. Pure given its arguments.
fn build(
    playbook: &Playbook,
    seed: u64,
    size: DemoSize,
    end: i64,
    reps: &[i64],
    marketers: &[i64],
    progress: &dyn Progress,
) -> World {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut w = World::default();
    let months = calendar_months(end, size.months);
    let start = months[0].0;
    let created = at(start);

    // Accounts.
    let mut domains = std::collections::HashSet::new();
    let mut account_weights = Vec::with_capacity(size.accounts);
    for i in 0..size.accounts {
        let (region, _, countries) = *pick_weighted(&mut rng, REGIONS, |r| r.1);
        let (country, legal, tld) = countries[rng.random_range(0..countries.len())];
        let (sector, industry) = SECTOR[rng.random_range(0..SECTOR.len())];
        let prefix = PREFIX[rng.random_range(0..PREFIX.len())];
        let (size_code, employees, weight) = match rng.random_range(0..100) {
            0..55 => ("smb", rng.random_range(10..200), 1),
            55..85 => ("mid_market", rng.random_range(200..2_000), 3),
            _ => ("enterprise", rng.random_range(2_000..50_000), 6),
        };
        let mut domain = format!("{}{}.{tld}", slug(prefix), slug(sector));
        let mut k = 2;
        while !domains.insert(domain.clone()) {
            domain = format!("{}{}{k}.{tld}", slug(prefix), slug(sector));
            k += 1;
        }
        let owner = (size_code != "smb" && rng.random_bool(0.4))
            .then(|| reps[rng.random_range(0..reps.len())]);
        let id = i as i64 + 1;
        account_weights.push(weight);
        w.accounts.push((
            id,
            Account {
                id,
                external_id: None,
                name: format!("{prefix} {sector} {legal}"),
                domain: Some(domain),
                industry: Some(industry.into()),
                employee_count: Some(employees),
                company_size: Some(size_code.into()),
                region: Some(region.into()),
                country: Some(country.into()),
                owner_id: owner,
                created_at: created,
                updated_at: created,
            },
        ));
    }

    // Campaigns: one per channel per month.
    let mut campaign_of: std::collections::HashMap<(usize, i64), i64> = Default::default();
    for (m, (month_start, month_end, label)) in months.iter().enumerate() {
        let (month_start, m) = (*month_start, m as i64);
        for (ci, (channel, _, _, (lo, hi), _, theme)) in CHANNELS.iter().enumerate() {
            if !playbook.has_channel(channel) {
                continue;
            }
            let id = w.campaigns.len() as i64 + 1;
            let spend = if hi > lo {
                rng.random_range(*lo..=*hi)
            } else {
                *lo
            };
            let name = format!("{theme} – {label}");
            campaign_of.insert((ci, m), id);
            w.campaigns.push((
                id,
                Campaign {
                    id,
                    external_id: None,
                    utm_campaign: Some(format!("{}-{}", slug(theme), m + 1)),
                    name,
                    channel: channel.to_string(),
                    started_at: at(month_start),
                    ended_at: Some(at(*month_end - 1000)),
                    spend_minor: spend * 100,
                    created_at: at(month_start),
                    updated_at: at(month_start),
                },
            ));
        }
    }

    // Contacts and their journeys.
    progress.start("generating the demo company", size.contacts as u64);
    let total_weight: u32 = account_weights.iter().sum();
    // Channels the playbook does not know get no touches.
    let source_weights: Vec<u32> = CHANNELS
        .iter()
        .map(|c| if playbook.has_channel(c.0) { c.1 } else { 0 })
        .collect();
    let journey_weights: Vec<u32> = CHANNELS
        .iter()
        .map(|c| if playbook.has_channel(c.0) { c.2 } else { 0 })
        .collect();
    let mut emails = std::collections::HashSet::new();
    let mut rep_turn = 0usize;
    for i in 0..size.contacts {
        let cid = i as i64 + 1;
        // Weighted account choice: bigger companies have more people.
        let mut x = rng.random_range(0..total_weight);
        let mut ai = 0;
        while x >= account_weights[ai] {
            x -= account_weights[ai];
            ai += 1;
        }
        let account = &w.accounts[ai].1.clone();
        let domain = account.domain.clone().unwrap_or_default();
        let (persona, _, titles) = *pick_weighted(&mut rng, PERSONAS, |p| p.1);
        let first = FIRST[rng.random_range(0..FIRST.len())];
        let last = LAST[rng.random_range(0..LAST.len())];
        let base = if rng.random_bool(0.6) {
            format!("{}.{}", slug(first), slug(last))
        } else {
            format!("{}{}", &slug(first)[..1], slug(last))
        };
        let mut email = format!("{base}@{domain}");
        let mut k = 2;
        while !emails.insert(email.clone()) {
            email = format!("{base}{k}@{domain}");
            k += 1;
        }
        // Growth: later months bring more contacts (density rises linearly).
        let u: f64 = rng.random::<f64>();
        let span = (end - start - 2 * DAY) as f64;
        let created_ms = start + (span * u.sqrt()) as i64;
        let src_idx = pick_index(&mut rng, &source_weights);
        let mut contact = Contact {
            id: cid,
            external_id: None,
            email,
            first_name: Some(first.into()),
            last_name: Some(last.into()),
            job_title: Some(titles[rng.random_range(0..titles.len())].into()),
            phone: None,
            country: account.country.clone(),
            account_id: Some(account.id),
            owner_id: None,
            persona: Some(persona.into()),
            stage: Stage::Lead,
            source_channel: Some(CHANNELS[src_idx].0.into()),
            fit_score: 0,
            engagement_score: 0.0,
            scored_at: None,
            first_touch: None,
            last_touch: None,
            merged_into_id: None,
            created_at: at(created_ms),
            updated_at: at(created_ms),
        };
        let prof = profile(&contact, Some(account));

        // Touches: the first identifies the person on the source channel.
        let n_touches =
            1 + (-(1.0 - rng.random::<f64>()).ln() * (size.touches_per_contact - 1.0)) as usize;
        let mut touches: Vec<Touchpoint> = Vec::with_capacity(n_touches);
        let mut t = created_ms;
        for j in 0..n_touches {
            if j > 0 {
                t += (rng.random::<f64>().powi(2) * 12.0 * DAY as f64) as i64
                    + rng.random_range(10 * 60_000..6 * HOUR);
            }
            if t >= end {
                break;
            }
            let ci = if j == 0 {
                src_idx
            } else {
                pick_index(&mut rng, &journey_weights)
            };
            let (channel, _, _, _, kinds, _) = CHANNELS[ci];
            // Hand-raisers are rarer than the raw kind lists suggest: most
            // people read and click for weeks before they ask for a demo.
            let kind = if j == 0 {
                let ident: Vec<&str> = kinds
                    .iter()
                    .copied()
                    .filter(|k| IDENTIFYING.contains(k))
                    .collect();
                match ident[..] {
                    [] => "form_submit",
                    _ => match ident[rng.random_range(0..ident.len())] {
                        "demo_request" if rng.random_bool(0.9) => "form_submit",
                        k => k,
                    },
                }
            } else {
                // Most later touches are the channel's lightest kind (a view,
                // an open, an ad click); a few are forms, meetings, demos.
                match kinds[rng.random_range(0..kinds.len())] {
                    _ if rng.random_bool(0.7) => kinds[0],
                    "demo_request" if rng.random_bool(0.85) => kinds[0],
                    k => k,
                }
            };
            let month = months
                .partition_point(|(s, _, _)| *s <= t)
                .saturating_sub(1) as i64;
            let tid = w.touchpoints.len() as i64 + touches.len() as i64 + 1;
            let campaign_id = campaign_of.get(&(ci, month)).copied();
            touches.push(Touchpoint {
                id: tid,
                external_id: None,
                contact_id: Some(cid),
                visitor_id: None,
                occurred_at: at(t),
                channel: channel.into(),
                campaign_id,
                kind: Some(kind.into()),
                utm_source: None,
                utm_medium: None,
                utm_campaign: campaign_id
                    .and_then(|c| w.campaigns[c as usize - 1].1.utm_campaign.clone()),
                utm_term: None,
                utm_content: None,
                referrer: None,
                properties: serde_json::json!({}),
                created_at: at(t),
            });
        }

        // Lifecycle: lead at the first touch, MQL by the playbook's scoring.
        let sc_id = |w: &World, extra: usize| w.stage_changes.len() as i64 + extra as i64 + 1;
        let mut changes: Vec<StageChange> = Vec::new();
        let push_change = |changes: &mut Vec<StageChange>,
                           w: &World,
                           from: Option<Stage>,
                           to: Stage,
                           at_ms: i64,
                           actor: Option<i64>,
                           cause: StageCause,
                           reason: Option<&str>,
                           touch: Option<i64>| {
            changes.push(StageChange {
                id: sc_id(w, changes.len()),
                contact_id: cid,
                from_stage: from,
                to_stage: to,
                changed_at: at(at_ms),
                actor: actor
                    .map(|u| format!("user:{u}"))
                    .unwrap_or_else(|| "system".into()),
                actor_user_id: actor,
                cause,
                reason_code: reason.map(str::to_string),
                note: None,
                touchpoint_id: touch,
            });
        };
        push_change(
            &mut changes,
            &w,
            None,
            Stage::Lead,
            created_ms,
            None,
            StageCause::Created,
            None,
            touches.first().map(|t| t.id),
        );
        let scored: Vec<ScoredTouch> = touches
            .iter()
            .map(|t| ScoredTouch {
                touchpoint_id: t.id,
                occurred_at: t.occurred_at.timestamp(),
                channel: t.channel.clone(),
                kind: t.kind.clone(),
            })
            .collect();
        let mut mql_at = None;
        for (k, st) in scored.iter().enumerate() {
            let card = score(playbook, &prof, &scored[..=k], st.occurred_at);
            if let Some(cause) = mql_trigger(playbook, Stage::Lead, &card, Some(st)) {
                mql_at = Some((st.occurred_at.as_millisecond(), cause, st.touchpoint_id));
                break;
            }
        }
        let mut stage = Stage::Lead;
        let mut deal: Option<Deal> = None;
        if let Some((mql_ms, cause, touch)) = mql_at {
            push_change(
                &mut changes,
                &w,
                Some(Stage::Lead),
                Stage::Mql,
                mql_ms,
                None,
                cause.into(),
                None,
                Some(touch),
            );
            stage = Stage::Mql;
            let mql_change_id = changes.last().map(|c| c.id);
            let owner = account.owner_id.unwrap_or_else(|| {
                rep_turn += 1;
                reps[rep_turn % reps.len()]
            });
            contact.owner_id = Some(owner);
            let (rule, why) = if account.owner_id.is_some() {
                ("account_owner", "account owner")
            } else {
                ("round_robin", "round-robin")
            };
            let handoff = Handoff {
                id: w.handoffs.len() as i64 + 1,
                contact_id: cid,
                mql_change_id,
                assignee_id: Some(owner),
                assigned_at: Some(at(mql_ms)),
                route_rule: rule.into(),
                route_reason: why.into(),
                decision: None,
                decided_at: None,
                decided_by: None,
                reason_code: None,
                decision_note: None,
                created_at: at(mql_ms),
                updated_at: at(mql_ms),
            };
            w.assignments.push((
                w.assignments.len() as i64 + 1,
                HandoffAssignment {
                    id: w.assignments.len() as i64 + 1,
                    handoff_id: handoff.id,
                    user_id: Some(owner),
                    assigned_at: at(mql_ms),
                    actor: "system".into(),
                    actor_user_id: None,
                    rule: rule.into(),
                    reason: why.into(),
                },
            ));
            w.handoffs.push((handoff.id, handoff));
            if rng.random_bool(0.35) {
                let nid = w.notes.len() as i64 + 1;
                let author = marketers[rng.random_range(0..marketers.len())];
                w.notes.push((
                    nid,
                    Note {
                        id: nid,
                        contact_id: Some(cid),
                        account_id: None,
                        deal_id: None,
                        author_id: Some(author),
                        body: format!(
                            "Handoff context: came in through {}, asked about {}.",
                            contact.source_channel.clone().unwrap_or_default(),
                            [
                                "pricing",
                                "integrations",
                                "security review",
                                "onboarding time",
                                "a pilot"
                            ][rng.random_range(0..5)]
                        ),
                        created_at: at(mql_ms + 10 * 60_000),
                        updated_at: at(mql_ms + 10 * 60_000),
                    },
                ));
            }
            // The rep works the lead: attempts, perhaps a connect.
            let mut t = mql_ms + rng.random_range(HOUR / 2..30 * HOUR);
            let attempts = rng.random_range(1..7);
            for a in 0..attempts {
                if t >= end {
                    break;
                }
                let aid = w.activities.len() as i64 + 1;
                let connect = a == attempts - 1 && rng.random_bool(0.55);
                w.activities.push((
                    aid,
                    Activity {
                        id: aid,
                        contact_id: cid,
                        deal_id: None,
                        user_id: Some(owner),
                        kind: if a % 2 == 0 {
                            "call".into()
                        } else {
                            "email".into()
                        },
                        outcome: if connect {
                            "connect".into()
                        } else {
                            "attempt".into()
                        },
                        subject: Some(if connect {
                            "Discovery call".into()
                        } else {
                            format!("Follow-up #{}", a + 1)
                        }),
                        body: None,
                        occurred_at: at(t),
                        created_at: at(t),
                        updated_at: at(t),
                    },
                ));
                t += rng.random_range(4 * HOUR..2 * DAY);
            }
            let decided = mql_ms + rng.random_range(2 * HOUR..4 * DAY);
            let student = persona == "student";
            if decided < end {
                if student || rng.random_bool(0.28) {
                    let (to, reason) = if student {
                        (Stage::Disqualified, "student_or_job_seeker")
                    } else {
                        *[
                            (Stage::Recycled, "not_ready"),
                            (Stage::Recycled, "no_budget"),
                            (Stage::Disqualified, "bad_fit"),
                            (Stage::Recycled, "unreachable"),
                            (Stage::Disqualified, "wrong_contact"),
                            (Stage::Disqualified, "competitor"),
                        ]
                        .choose(&mut rng)
                        .expect("non-empty")
                    };
                    push_change(
                        &mut changes,
                        &w,
                        Some(stage),
                        to,
                        decided,
                        Some(owner),
                        StageCause::HandoffRejected,
                        Some(reason),
                        None,
                    );
                    stage = to;
                    decide(&mut w, "rejected", Some(reason), decided, owner);
                } else {
                    push_change(
                        &mut changes,
                        &w,
                        Some(stage),
                        Stage::Sal,
                        decided,
                        Some(owner),
                        StageCause::HandoffAccepted,
                        None,
                        None,
                    );
                    stage = Stage::Sal;
                    decide(&mut w, "accepted", None, decided, owner);
                    let sql_at = decided + rng.random_range(DAY..18 * DAY);
                    if sql_at < end && rng.random_bool(0.62) {
                        push_change(
                            &mut changes,
                            &w,
                            Some(stage),
                            Stage::Sql,
                            sql_at,
                            Some(owner),
                            StageCause::Qualified,
                            None,
                            None,
                        );
                        stage = Stage::Sql;
                        let opp_at = sql_at + rng.random_range(2 * DAY..15 * DAY);
                        if opp_at < end && rng.random_bool(0.68) {
                            push_change(
                                &mut changes,
                                &w,
                                Some(stage),
                                Stage::Opportunity,
                                opp_at,
                                Some(owner),
                                StageCause::DealCreated,
                                None,
                                None,
                            );
                            stage = Stage::Opportunity;
                            let amount = match account.company_size.as_deref() {
                                Some("enterprise") => rng.random_range(60_000..300_000),
                                Some("mid_market") => rng.random_range(18_000..90_000),
                                _ => rng.random_range(4_000..25_000),
                            };
                            let close_at = opp_at + rng.random_range(14 * DAY..100 * DAY);
                            let won = rng.random_bool(0.32);
                            let did = w.deals.len() as i64 + 1;
                            let closed = close_at < end;
                            let mut d = Deal {
                                id: did,
                                external_id: None,
                                name: format!(
                                    "{} – {}",
                                    account.name,
                                    ["Starter", "Growth", "Enterprise", "Pilot"]
                                        [rng.random_range(0..4)]
                                ),
                                contact_id: Some(cid),
                                account_id: Some(account.id),
                                owner_id: Some(owner),
                                amount_minor: amount * 100,
                                pipeline_stage: playbook.pipeline_stages
                                    [rng.random_range(0..playbook.pipeline_stages.len())]
                                .clone(),
                                status: "open".into(),
                                lost_reason: None,
                                created_at: at(opp_at),
                                closed_at: None,
                                updated_at: at(opp_at),
                            };
                            if closed {
                                d.pipeline_stage =
                                    playbook.pipeline_stages.last().cloned().unwrap_or_default();
                                d.closed_at = Some(at(close_at));
                                d.updated_at = at(close_at);
                                if won {
                                    d.status = "won".into();
                                    push_change(
                                        &mut changes,
                                        &w,
                                        Some(stage),
                                        Stage::Customer,
                                        close_at,
                                        Some(owner),
                                        StageCause::DealWon,
                                        None,
                                        None,
                                    );
                                    stage = Stage::Customer;
                                } else {
                                    d.status = "lost".into();
                                    d.lost_reason = Some(
                                        [
                                            "price",
                                            "timing",
                                            "competitor",
                                            "no decision",
                                            "missing feature",
                                        ][rng.random_range(0..5)]
                                        .into(),
                                    );
                                }
                            }
                            deal = Some(d);
                        }
                    }
                }
            }
        }
        contact.stage = stage;
        let last_ms = changes
            .last()
            .map(|c| c.changed_at.millis())
            .unwrap_or(created_ms);
        contact.updated_at = at(last_ms);
        let card = score(playbook, &prof, &scored, at(end).timestamp());
        contact.fit_score = card.fit;
        contact.engagement_score = card.engagement;
        contact.scored_at = Some(at(end));
        contact.set_touch_origins(&touches);
        w.contacts.push((cid, contact));
        w.touchpoints.extend(touches.into_iter().map(|t| (t.id, t)));
        w.stage_changes
            .extend(changes.into_iter().map(|c| (c.id, c)));
        if let Some(d) = deal {
            w.deals.push((d.id, d));
        }
        if i % 1_000 == 999 {
            progress.advance(1_000);
        }
    }
    progress.finish();
    w
}
