//! Where a selector reads label values from.
//!
//! Evaluation only ever asks "what is the value of label `k`, if any?", so anything that can
//! answer that is a label set: the maps the data model uses, a slice of pairs in tests, or a
//! layered view the calculator builds (an endpoint's own labels over those inherited from its
//! profiles) without copying either.

use std::borrow::Borrow;
use std::collections::{BTreeMap, HashMap};
use std::hash::{BuildHasher, Hash};

/// A set of labels a selector can be evaluated against.
pub trait Labels {
    /// The value of label `key`, or `None` when the label is absent.
    fn get_label(&self, key: &str) -> Option<&str>;
}

impl<K, V> Labels for BTreeMap<K, V>
where
    K: Borrow<str> + Ord,
    V: AsRef<str>,
{
    #[inline]
    fn get_label(&self, key: &str) -> Option<&str> {
        self.get(key).map(AsRef::as_ref)
    }
}

impl<K, V, S> Labels for HashMap<K, V, S>
where
    K: Borrow<str> + Hash + Eq,
    V: AsRef<str>,
    S: BuildHasher,
{
    #[inline]
    fn get_label(&self, key: &str) -> Option<&str> {
        self.get(key).map(AsRef::as_ref)
    }
}

/// Key/value pairs; when a key appears more than once the first pair wins.
impl<K, V> Labels for [(K, V)]
where
    K: AsRef<str>,
    V: AsRef<str>,
{
    #[inline]
    fn get_label(&self, key: &str) -> Option<&str> {
        self.iter()
            .find(|(k, _)| k.as_ref() == key)
            .map(|(_, v)| v.as_ref())
    }
}

impl<K, V, const N: usize> Labels for [(K, V); N]
where
    K: AsRef<str>,
    V: AsRef<str>,
{
    #[inline]
    fn get_label(&self, key: &str) -> Option<&str> {
        self.as_slice().get_label(key)
    }
}

impl<K, V> Labels for Vec<(K, V)>
where
    K: AsRef<str>,
    V: AsRef<str>,
{
    #[inline]
    fn get_label(&self, key: &str) -> Option<&str> {
        self.as_slice().get_label(key)
    }
}

impl<T: Labels + ?Sized> Labels for &T {
    #[inline]
    fn get_label(&self, key: &str) -> Option<&str> {
        (**self).get_label(key)
    }
}
