//! The history reports scan, held in memory as compact rows: contacts with
//! their dimension values as small codes, and each contact's touches, stage
//! changes and deals in time order. Built once per data version from one
//! streaming pass over the database; every report then reads only this.

use crate::Stage;
use crate::segment::Dimension;
use rustc_hash::FxHashMap;

/// No campaign, account or contact.
pub const NONE: u32 = u32::MAX;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ContactRow {
    pub id: i64,
    pub account: Option<i64>,
    /// A code per [`Dimension`] (in `Dimension::ALL` order) into
    /// [`Dataset::values`]; `NONE` when the contact has no value.
    pub dims: [u32; 6],
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TouchRow {
    pub id: i64,
    /// Milliseconds since the epoch.
    pub at: i64,
    /// Index into [`Dataset::channels`].
    pub channel: u32,
    /// Index into [`Dataset::campaigns`], or `NONE`.
    pub campaign: u32,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ChangeRow {
    pub stage: Stage,
    pub at: i64,
    /// The touch recorded as the change's cause.
    pub touch: Option<i64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DealStatus {
    Open,
    Won,
    Lost,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DealRow {
    pub id: i64,
    /// Index of the deal's contact, or `NONE`.
    pub contact: u32,
    pub account: Option<i64>,
    pub status: DealStatus,
    pub amount_minor: i64,
    pub created_at: i64,
    pub closed_at: Option<i64>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct CampaignRow {
    pub name: String,
    pub channel: u32,
    pub spend_minor: i64,
    /// Milliseconds since the epoch.
    pub started_at: i64,
}

/// Everything the history reports read.
#[derive(Debug, Clone, Default)]
pub struct Dataset {
    /// The channel taxonomy (and any channel seen outside it), sorted.
    pub channels: Vec<String>,
    pub campaigns: Vec<CampaignRow>,
    /// Sorted by id.
    pub contacts: Vec<ContactRow>,
    /// Each contact's touches in (at, id) order, contact after contact;
    /// contact i's are `touches[touch_start[i]..touch_start[i + 1]]`.
    pub touches: Vec<TouchRow>,
    pub touch_start: Vec<u32>,
    /// Likewise for stage changes, in (at, insertion) order.
    pub changes: Vec<ChangeRow>,
    pub change_start: Vec<u32>,
    pub deals: Vec<DealRow>,
    /// Per dimension, its values (codes index these), sorted.
    pub values: [Vec<String>; 6],
}

impl Dataset {
    pub fn touches_of(&self, contact: usize) -> &[TouchRow] {
        &self.touches[self.touch_start[contact] as usize..self.touch_start[contact + 1] as usize]
    }

    pub fn changes_of(&self, contact: usize) -> &[ChangeRow] {
        &self.changes[self.change_start[contact] as usize..self.change_start[contact + 1] as usize]
    }

    /// The groups of a breakdown: every value of the dimension, sorted.
    pub fn groups(&self, dimension: Dimension) -> &[String] {
        &self.values[dim_index(dimension)]
    }

    /// The code of contact `i` in `dimension`.
    pub fn group_of(&self, i: usize, dimension: Dimension) -> u32 {
        self.contacts[i].dims[dim_index(dimension)]
    }
}

pub fn dim_index(d: Dimension) -> usize {
    Dimension::ALL
        .iter()
        .position(|x| *x == d)
        .expect("every dimension is in ALL")
}

/// Collects rows in any order and sorts them into a [`Dataset`].
#[derive(Debug, Default)]
pub struct DatasetBuilder {
    channels: Dictionary,
    campaigns: Vec<CampaignRow>,
    campaign_index: FxHashMap<i64, u32>,
    contacts: Vec<ContactRow>,
    /// Per dimension, the values seen (codes in `ContactRow::dims`).
    dicts: [Dictionary; 6],
    /// (contact id, row)
    touches: Vec<(i64, TouchRow)>,
    changes: Vec<(i64, ChangeRow)>,
    /// (contact id, row with contact unset)
    deals: Vec<(Option<i64>, DealRow)>,
}

#[derive(Debug, Default)]
struct Dictionary {
    names: Vec<String>,
    index: FxHashMap<String, u32>,
}

impl Dictionary {
    fn code(&mut self, name: &str) -> u32 {
        if let Some(c) = self.index.get(name) {
            return *c;
        }
        let c = self.names.len() as u32;
        self.names.push(name.to_string());
        self.index.insert(name.to_string(), c);
        c
    }

    /// Sorts the names; returns old code → new code.
    fn sort(&mut self) -> Vec<u32> {
        let mut order: Vec<u32> = (0..self.names.len() as u32).collect();
        order.sort_by(|a, b| self.names[*a as usize].cmp(&self.names[*b as usize]));
        let mut remap = vec![0; order.len()];
        for (new, old) in order.iter().enumerate() {
            remap[*old as usize] = new as u32;
        }
        self.names = order
            .iter()
            .map(|o| self.names[*o as usize].clone())
            .collect();
        remap
    }
}

impl DatasetBuilder {
    /// Starts with the playbook's channel taxonomy, so that every channel
    /// gets a row in reports even without data.
    pub fn new<'a>(taxonomy: impl IntoIterator<Item = &'a str>) -> DatasetBuilder {
        let mut b = DatasetBuilder::default();
        for c in taxonomy {
            b.channels.code(c);
        }
        b
    }

    pub fn campaign(
        &mut self,
        id: i64,
        name: &str,
        channel: &str,
        spend_minor: i64,
        started_at: i64,
    ) {
        let channel = self.channels.code(channel);
        self.campaign_index.insert(id, self.campaigns.len() as u32);
        self.campaigns.push(CampaignRow {
            name: name.to_string(),
            channel,
            spend_minor,
            started_at,
        });
    }

    /// A contact with its values for each dimension in `Dimension::ALL`
    /// order (the campaign value is filled in from its first touch).
    pub fn contact(&mut self, id: i64, account: Option<i64>, values: [Option<&str>; 6]) {
        let mut dims = [NONE; 6];
        for (d, v) in values.iter().enumerate() {
            if let Some(v) = v {
                dims[d] = self.dicts[d].code(v);
            }
        }
        self.contacts.push(ContactRow { id, account, dims });
    }

    pub fn touch(&mut self, contact: i64, id: i64, at: i64, channel: &str, campaign: Option<i64>) {
        let channel = self.channels.code(channel);
        let campaign = campaign
            .and_then(|c| self.campaign_index.get(&c).copied())
            .unwrap_or(NONE);
        self.touches.push((
            contact,
            TouchRow {
                id,
                at,
                channel,
                campaign,
            },
        ));
    }

    pub fn change(&mut self, contact: i64, stage: Stage, at: i64, touch: Option<i64>) {
        self.changes.push((contact, ChangeRow { stage, at, touch }));
    }

    #[allow(clippy::too_many_arguments)]
    pub fn deal(
        &mut self,
        id: i64,
        contact: Option<i64>,
        account: Option<i64>,
        status: DealStatus,
        amount_minor: i64,
        created_at: i64,
        closed_at: Option<i64>,
    ) {
        self.deals.push((
            contact,
            DealRow {
                id,
                contact: NONE,
                account,
                status,
                amount_minor,
                created_at,
                closed_at,
            },
        ));
    }

    pub fn finish(mut self) -> Dataset {
        let remap = self.channels.sort();
        for c in &mut self.campaigns {
            c.channel = remap[c.channel as usize];
        }
        self.contacts.sort_by_key(|c| c.id);
        self.contacts.dedup_by_key(|c| c.id);
        let index: FxHashMap<i64, u32> = self
            .contacts
            .iter()
            .enumerate()
            .map(|(i, c)| (c.id, i as u32))
            .collect();
        let n = self.contacts.len();

        let mut touches: Vec<(u32, TouchRow)> = self
            .touches
            .into_iter()
            .filter_map(|(c, mut t)| {
                t.channel = remap[t.channel as usize];
                index.get(&c).map(|i| (*i, t))
            })
            .collect();
        touches.sort_unstable_by_key(|(c, t)| (*c, t.at, t.id));
        let touch_start = starts(touches.iter().map(|t| t.0), n);
        let touches: Vec<TouchRow> = touches.into_iter().map(|t| t.1).collect();

        let mut changes: Vec<(u32, ChangeRow)> = self
            .changes
            .into_iter()
            .filter_map(|(c, ch)| index.get(&c).map(|i| (*i, ch)))
            .collect();
        // Stable: changes at one instant keep their insertion order.
        changes.sort_by_key(|(c, ch)| (*c, ch.at));
        let change_start = starts(changes.iter().map(|c| c.0), n);
        let changes: Vec<ChangeRow> = changes.into_iter().map(|c| c.1).collect();

        let deals = self
            .deals
            .into_iter()
            .map(|(c, mut d)| {
                d.contact = c.and_then(|c| index.get(&c).copied()).unwrap_or(NONE);
                d
            })
            .collect();

        // The campaign dimension: the campaign of each contact's first
        // touch that has one.
        let campaign_dim = dim_index(Dimension::Campaign);
        let mut dicts = std::mem::take(&mut self.dicts);
        let mut contacts = std::mem::take(&mut self.contacts);
        for (i, row) in contacts.iter_mut().enumerate() {
            row.dims[campaign_dim] = touches[touch_start[i] as usize..touch_start[i + 1] as usize]
                .iter()
                .find(|t| t.campaign != NONE)
                .map(|t| dicts[campaign_dim].code(&self.campaigns[t.campaign as usize].name))
                .unwrap_or(NONE);
        }
        // Every channel is a value of the source dimension, seen or not.
        let source = dim_index(Dimension::SourceChannel);
        for c in &self.channels.names {
            dicts[source].code(c);
        }
        let mut values: [Vec<String>; 6] = Default::default();
        for (d, dict) in dicts.iter_mut().enumerate() {
            let remap = dict.sort();
            for c in &mut contacts {
                if c.dims[d] != NONE {
                    c.dims[d] = remap[c.dims[d] as usize];
                }
            }
            values[d] = std::mem::take(&mut dict.names);
        }
        Dataset {
            channels: self.channels.names,
            campaigns: self.campaigns,
            contacts,
            touches,
            touch_start,
            changes,
            change_start,
            deals,
            values,
        }
    }
}

/// Offsets of each contact's rows in rows sorted by contact.
fn starts(contact_of_row: impl Iterator<Item = u32>, n: usize) -> Vec<u32> {
    let mut counts = vec![0u32; n + 1];
    for c in contact_of_row {
        counts[c as usize + 1] += 1;
    }
    for i in 1..=n {
        counts[i] += counts[i - 1];
    }
    counts
}
