//! Entries by small integer keys that stay valid until the entry is removed: the
//! calculator's entities and sets refer to each other by these keys rather than by their
//! string IDs.

/// A vector of slots with a free list.
#[derive(Clone, Debug)]
pub(crate) struct Slab<T> {
    slots: Vec<Option<T>>,
    free: Vec<u32>,
}

impl<T> Default for Slab<T> {
    fn default() -> Self {
        Slab {
            slots: Vec::new(),
            free: Vec::new(),
        }
    }
}

impl<T> Slab<T> {
    pub fn insert(&mut self, value: T) -> u32 {
        if let Some(k) = self.free.pop()
            && let Some(slot) = self.slots.get_mut(k as usize)
        {
            *slot = Some(value);
            return k;
        }
        self.slots.push(Some(value));
        u32::try_from(self.slots.len() - 1).unwrap_or(u32::MAX)
    }

    pub fn remove(&mut self, k: u32) -> Option<T> {
        let v = self.slots.get_mut(k as usize)?.take()?;
        self.free.push(k);
        Some(v)
    }

    pub fn get(&self, k: u32) -> Option<&T> {
        self.slots.get(k as usize)?.as_ref()
    }

    pub fn get_mut(&mut self, k: u32) -> Option<&mut T> {
        self.slots.get_mut(k as usize)?.as_mut()
    }

    pub fn iter(&self) -> impl Iterator<Item = (u32, &T)> {
        self.slots
            .iter()
            .enumerate()
            .filter_map(|(k, v)| Some((u32::try_from(k).ok()?, v.as_ref()?)))
    }
}
