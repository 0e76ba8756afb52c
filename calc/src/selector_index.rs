//! Which selectors a label change can concern. A selector's result depends only on the
//! labels it mentions ([`Selector::label_keys`]), so when an entity's labels change only the
//! selectors mentioning a changed key need evaluating; a new entity can only match selectors
//! that mention one of its keys or that match an entity without any of their keys. This is
//! what makes one label change cost the selectors it concerns, not every selector.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use model::selector::Selector;

/// Selectors by the label keys they mention.
#[derive(Clone, Debug)]
pub(crate) struct SelectorIndex<K> {
    by_key: HashMap<String, BTreeSet<K>>,
    /// Selectors that match labels without any of their keys (`all()`, `!has(a)`,
    /// `a != 'x'`).
    match_without_keys: BTreeSet<K>,
}

impl<K> Default for SelectorIndex<K> {
    fn default() -> Self {
        SelectorIndex {
            by_key: HashMap::new(),
            match_without_keys: BTreeSet::new(),
        }
    }
}

impl<K: Ord + Clone> SelectorIndex<K> {
    pub fn insert(&mut self, k: &K, sel: &Selector) {
        for key in sel.label_keys() {
            self.by_key.entry(key).or_default().insert(k.clone());
        }
        if sel.matches(&BTreeMap::<String, String>::new()) {
            self.match_without_keys.insert(k.clone());
        }
    }

    pub fn remove(&mut self, k: &K, sel: &Selector) {
        for key in sel.label_keys() {
            if let Some(set) = self.by_key.get_mut(&key) {
                set.remove(k);
                if set.is_empty() {
                    self.by_key.remove(&key);
                }
            }
        }
        self.match_without_keys.remove(k);
    }

    /// The selectors that may match a new entity with `labels`; the others do not.
    pub fn for_new(&self, labels: &BTreeMap<String, String>) -> BTreeSet<K> {
        let mut out = self.match_without_keys.clone();
        for key in labels.keys() {
            if let Some(set) = self.by_key.get(key) {
                out.extend(set.iter().cloned());
            }
        }
        out
    }

    /// The selectors whose result may change when the keys `changed` change (value, or
    /// presence); the others give what they gave.
    pub fn for_change<'k>(&self, changed: impl IntoIterator<Item = &'k str>) -> BTreeSet<K> {
        let mut out = BTreeSet::new();
        for key in changed {
            if let Some(set) = self.by_key.get(key) {
                out.extend(set.iter().cloned());
            }
        }
        out
    }
}

/// The keys whose value or presence differs between `a` and `b`.
pub(crate) fn changed_keys<'l>(
    a: &'l BTreeMap<String, String>,
    b: &'l BTreeMap<String, String>,
) -> Vec<&'l str> {
    let mut out: Vec<&str> = a
        .iter()
        .filter(|(k, v)| b.get(*k) != Some(*v))
        .map(|(k, _)| k.as_str())
        .collect();
    out.extend(b.keys().filter(|k| !a.contains_key(*k)).map(String::as_str));
    out
}
