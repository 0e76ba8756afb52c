//! What the fan-out clients received: per client, which of the workload's prefixes it holds,
//! and counts of every announcement a correct route reflector would not send.

use bgp::codec::Update;

use super::Workload;

/// Per client: which of the workload's prefixes it holds.
pub(super) struct ClientTable {
    bits: Vec<u64>,
    pub(super) held: u64,
}

impl ClientTable {
    fn new(total: u64) -> Self {
        ClientTable {
            bits: vec![0; total.div_ceil(64) as usize],
            held: 0,
        }
    }

    /// Sets bit `n`; whether it was clear.
    fn insert(&mut self, n: u64) -> bool {
        let (word, bit) = ((n / 64) as usize, 1u64 << (n % 64));
        let fresh = self.bits[word] & bit == 0;
        self.bits[word] |= bit;
        self.held += u64::from(fresh);
        fresh
    }

    /// Clears bit `n`; whether it was set.
    fn remove(&mut self, n: u64) -> bool {
        let (word, bit) = ((n / 64) as usize, 1u64 << (n % 64));
        let was = self.bits[word] & bit != 0;
        self.bits[word] &= !bit;
        self.held -= u64::from(was);
        was
    }
}

/// What the clients received so far.
pub(super) struct Tally {
    pub(super) workload: Workload,
    pub(super) tables: Vec<ClientTable>,
    pub(super) converged_clients: usize,
    pub(super) foreign: u64,
    pub(super) echoed: u64,
    pub(super) looped: u64,
    pub(super) wrong_next_hop: u64,
    pub(super) wrong_originator: u64,
    pub(super) withdrawn: u64,
}

impl Tally {
    pub(super) fn new(workload: Workload) -> Self {
        Tally {
            workload,
            tables: (0..workload.peers)
                .map(|_| ClientTable::new(workload.total()))
                .collect(),
            converged_clients: 0,
            foreign: 0,
            echoed: 0,
            looped: 0,
            wrong_next_hop: 0,
            wrong_originator: 0,
            withdrawn: 0,
        }
    }

    pub(super) fn converged(&self) -> bool {
        self.converged_clients == self.workload.peers
    }

    pub(super) fn apply(&mut self, c: usize, update: &Update) {
        let expected = self.workload.expected_per_client();
        let prefixes = u64::from(self.workload.prefixes);
        let Some(table) = self.tables.get_mut(c) else {
            return;
        };
        let was_converged = table.held == expected;
        for w in &update.withdrawn {
            if let Some(n) = self.workload.index_of(&w.prefix)
                && table.remove(n)
            {
                self.withdrawn += 1;
            }
        }
        if update.mp_reach.is_some() {
            self.foreign += update.mp_reach.as_ref().map_or(0, |m| m.nlri.len() as u64);
        }
        for a in &update.nlri {
            let Some(n) = self.workload.index_of(&a.prefix) else {
                self.foreign += 1;
                continue;
            };
            // Each client's router ID is its address.
            let owner = self.workload.client_address((n / prefixes) as usize);
            let attributes = &update.attributes;
            if owner == self.workload.client_address(c) {
                if attributes.originator_id == Some(owner) {
                    self.echoed += 1;
                } else {
                    self.looped += 1;
                }
                continue;
            }
            self.wrong_next_hop += u64::from(attributes.next_hop != Some(owner));
            self.wrong_originator += u64::from(attributes.originator_id != Some(owner));
            table.insert(n);
        }
        let now_converged = table.held == expected;
        match (was_converged, now_converged) {
            (false, true) => self.converged_clients += 1,
            (true, false) => self.converged_clients -= 1,
            _ => {}
        }
    }

    /// "k of N clients converged; fewest held: m of M".
    pub(super) fn progress(&self) -> String {
        let fewest = self.tables.iter().map(|t| t.held).min().unwrap_or(0);
        format!(
            "{} of {} clients converged; fewest prefixes held: {fewest} of {}",
            self.converged_clients,
            self.workload.peers,
            self.workload.expected_per_client()
        )
    }
}

#[cfg(test)]
mod tests {
    use bgp::codec::{Nlri, PathAttributes};

    use super::*;

    #[test]
    fn a_client_converges_on_every_other_clients_prefixes_only() {
        let w = Workload {
            peers: 3,
            prefixes: 2,
        };
        let mut tally = Tally::new(w);
        let announce = |c: usize| Update {
            attributes: PathAttributes {
                next_hop: Some(w.client_address(c)),
                originator_id: Some(w.client_address(c)),
                ..PathAttributes::default()
            },
            nlri: (0..2).map(|j| Nlri::new(w.prefix(c, j))).collect(),
            ..Update::default()
        };
        tally.apply(0, &announce(0));
        tally.apply(0, &announce(1));
        assert_eq!((tally.echoed, tally.converged_clients), (2, 0));
        assert_eq!((tally.looped, tally.wrong_originator), (0, 0));
        tally.apply(0, &announce(2));
        assert_eq!(tally.converged_clients, 1);
        let withdraw = Update {
            withdrawn: vec![Nlri::new(w.prefix(2, 0))],
            ..Update::default()
        };
        tally.apply(0, &withdraw);
        assert_eq!((tally.converged_clients, tally.withdrawn), (0, 1));
    }
}
