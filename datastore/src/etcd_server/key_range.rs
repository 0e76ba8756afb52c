//! etcd's key ranges (`key` + `range_end`) mapped onto the [`crate::Datastore`] trait, which
//! lists and watches by string prefix: a range becomes "list this prefix, keep what falls inside".

/// The keys a request addresses, as etcd encodes them:
/// - `range_end` empty: the single key `key`;
/// - `range_end == "\0"`: every key `>= key`;
/// - otherwise: every key in `[key, range_end)` (a prefix query sends `range_end` = the prefix
///   with its last byte incremented).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct KeyRange {
    start: Vec<u8>,
    end: End,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum End {
    /// Only `start` itself.
    Single,
    /// No upper bound.
    Unbounded,
    /// Exclusive upper bound.
    Before(Vec<u8>),
}

impl KeyRange {
    pub(crate) fn new(key: &[u8], range_end: &[u8]) -> Self {
        let end = match range_end {
            [] => End::Single,
            [0] => End::Unbounded,
            end => End::Before(end.to_vec()),
        };
        KeyRange {
            start: key.to_vec(),
            end,
        }
    }

    /// The single key this range addresses, when it addresses one and that key can exist in a
    /// string-keyed store.
    pub(crate) fn single_key(&self) -> Option<Option<&str>> {
        match self.end {
            End::Single => Some(std::str::from_utf8(&self.start).ok()),
            _ => None,
        }
    }

    /// The longest string prefix shared by every key of the range: list or watch this prefix and
    /// filter with [`KeyRange::contains`].
    pub(crate) fn list_prefix(&self) -> &str {
        let shared = match &self.end {
            End::Single => self.start.len(),
            End::Unbounded => 0,
            End::Before(end) => self
                .start
                .iter()
                .zip(end.iter())
                .take_while(|(a, b)| a == b)
                .count(),
        };
        let bytes = &self.start[..shared];
        match std::str::from_utf8(bytes) {
            Ok(s) => s,
            // Cut back to the last whole character: still a prefix of every key in the range.
            Err(e) => std::str::from_utf8(&bytes[..e.valid_up_to()]).unwrap_or(""),
        }
    }

    pub(crate) fn contains(&self, key: &str) -> bool {
        self.contains_bytes(key.as_bytes())
    }

    pub(crate) fn contains_bytes(&self, key: &[u8]) -> bool {
        match &self.end {
            End::Single => key == self.start.as_slice(),
            End::Unbounded => key >= self.start.as_slice(),
            End::Before(end) => key >= self.start.as_slice() && key < end.as_slice(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_range_lists_the_prefix_without_its_last_byte() {
        let r = KeyRange::new(b"/calico/", b"/calico0");
        assert_eq!(r.list_prefix(), "/calico");
        assert!(r.contains("/calico/a"));
        assert!(r.contains("/calico/"));
        assert!(!r.contains("/calico0"));
        assert!(!r.contains("/calicox"));
    }

    #[test]
    fn single_key_matches_only_itself() {
        let r = KeyRange::new(b"/a", b"");
        assert_eq!(r.single_key(), Some(Some("/a")));
        assert_eq!(r.list_prefix(), "/a");
        assert!(r.contains("/a"));
        assert!(!r.contains("/ab"));
    }

    #[test]
    fn from_key_range_is_unbounded() {
        let r = KeyRange::new(b"/b", b"\0");
        assert_eq!(r.list_prefix(), "");
        assert!(r.contains("/b"));
        assert!(r.contains("/z"));
        assert!(!r.contains("/a"));
    }

    #[test]
    fn whole_keyspace_contains_everything() {
        let r = KeyRange::new(b"\0", b"\0");
        assert!(r.contains("/x"));
    }

    #[test]
    fn prefix_cut_inside_a_multibyte_character_stays_valid() {
        // "é" is 0xC3 0xA9; a range ending just after 0xC3 shares half the character.
        let r = KeyRange::new("/é".as_bytes(), &[b'/', 0xC3, 0xAA]);
        assert_eq!(r.list_prefix(), "/");
        assert!(r.contains("/é"));
    }
}
