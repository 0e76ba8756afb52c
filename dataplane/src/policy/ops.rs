//! Changes to the `calico` table, as data. One [`Transaction`] is applied atomically: by the
//! kernel backend as one `nft -f` run, by the twin to a copy that replaces the table only when
//! every operation succeeded.
//!
//! Order inside a transaction (so that nothing is referenced before it exists or removed
//! while referenced): new sets and element changes, new maps, new chains, chain contents, map
//! elements, then deletions of chains (endpoint chains before the policy and profile chains
//! they jump to), maps and sets.

use super::ir::{Chain, Element, Hook, Rule, Set, SetType, Table};

/// One change.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Op {
    /// Replace the whole table (delete it if present, then create it with this content).
    ReplaceTable(Box<Table>),
    /// Create a set with its elements.
    AddSet {
        name: String,
        set: Set,
    },
    /// Add elements to an existing set.
    AddElements {
        set: String,
        set_type: SetType,
        elements: Vec<Element>,
    },
    /// Remove elements from an existing set.
    DeleteElements {
        set: String,
        set_type: SetType,
        elements: Vec<Element>,
    },
    /// Create an empty chain (a base chain when `hook` is set).
    AddChain {
        name: String,
        hook: Option<Hook>,
    },
    /// Replace a chain's rules (flush, then add these).
    SetRules {
        chain: String,
        rules: Vec<Rule>,
    },
    /// Create an empty dispatch map.
    AddMap {
        name: String,
    },
    /// Add `interface → goto chain` elements to a map.
    AddMapElements {
        map: String,
        elements: Vec<(String, String)>,
    },
    /// Remove interfaces from a map.
    DeleteMapElements {
        map: String,
        interfaces: Vec<String>,
    },
    /// Delete a chain (its rules go with it).
    DeleteChain {
        name: String,
    },
    DeleteMap {
        name: String,
    },
    DeleteSet {
        name: String,
    },
}

/// Operations applied together or not at all.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Transaction {
    pub ops: Vec<Op>,
}

impl Transaction {
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    /// The number of kernel objects (sets, elements, chains, rules, map entries) the
    /// transaction writes or removes: what the tests count to show a change stayed small.
    pub fn size(&self) -> usize {
        self.ops
            .iter()
            .map(|op| match op {
                Op::ReplaceTable(t) => {
                    t.sets.values().map(|s| 1 + s.elements.len()).sum::<usize>()
                        + t.maps.values().map(|m| 1 + m.elements.len()).sum::<usize>()
                        + t.chains.values().map(|c| 1 + c.rules.len()).sum::<usize>()
                }
                Op::AddSet { set, .. } => 1 + set.elements.len(),
                Op::AddElements { elements, .. } | Op::DeleteElements { elements, .. } => {
                    elements.len()
                }
                Op::SetRules { rules, .. } => rules.len().max(1),
                Op::AddMapElements { elements, .. } => elements.len(),
                Op::DeleteMapElements { interfaces, .. } => interfaces.len(),
                Op::AddChain { .. }
                | Op::AddMap { .. }
                | Op::DeleteChain { .. }
                | Op::DeleteMap { .. }
                | Op::DeleteSet { .. } => 1,
            })
            .sum()
    }
}

/// A chain with its rules, as [`Op::AddChain`] + [`Op::SetRules`] would create it.
pub fn chain_ops(name: &str, chain: &Chain) -> [Op; 2] {
    [
        Op::AddChain {
            name: name.to_owned(),
            hook: chain.hook,
        },
        Op::SetRules {
            chain: name.to_owned(),
            rules: chain.rules.clone(),
        },
    ]
}
