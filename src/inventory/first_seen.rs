//! The duplicate finder: the first line of each value of one kind of key (ids, hosts, MACs),
//! kept compactly, so that a million-row inventory is checked without a second copy of its
//! rows.
//!
//! Each key is stored once, end to end in one buffer, behind a small header (its line, a
//! payload, its length); a hash table holds only the offsets of those entries. Two keys are
//! the same only when their bytes are: a hash match alone is never a duplicate (the table
//! compares the stored bytes), which the tests prove with a hasher under which every key
//! collides.

use std::hash::BuildHasher;

use hashbrown::HashTable;
use hashbrown::hash_table::Entry as Slot;

/// Bytes before a key in the store: its line, its payload and its length, each a `u32`.
const HEADER: usize = 12;

/// Where a key's entry starts in the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Entry(u32);

/// What [`FirstSeen::first`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Seen {
    /// The key is new; it is recorded here, on the line given.
    New(Entry),
    /// The key was first seen on this line.
    Before(u64),
}

/// The store passed 4 GiB, or a line number passed `u32::MAX`: only a file of several GiB
/// gets there, and it is refused rather than checked in part.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Full;

/// The first line of each key seen, and a payload per key the caller may set
/// ([`FirstSeen::set_payload`]; 0 until then).
pub(super) struct FirstSeen<S = hashbrown::DefaultHashBuilder> {
    /// Entries end to end: line, payload and length (`u32`, little-endian), then the key.
    store: Vec<u8>,
    /// Offsets of the entries in `store`.
    table: HashTable<u32>,
    hasher: S,
}

impl Default for FirstSeen {
    fn default() -> Self {
        FirstSeen::with_hasher(hashbrown::DefaultHashBuilder::default())
    }
}

impl<S: BuildHasher> FirstSeen<S> {
    pub(super) fn with_hasher(hasher: S) -> Self {
        FirstSeen {
            store: Vec::new(),
            table: HashTable::new(),
            hasher,
        }
    }

    /// Room for `keys` more keys without growing: growing re-hashes every key from the store,
    /// which was a sixth of the time `check` took over a million rows.
    pub(super) fn reserve(&mut self, keys: usize) {
        let FirstSeen {
            store,
            table,
            hasher,
        } = self;
        table.reserve(keys, |&at| hasher.hash_one(key_at(store, at)));
    }

    /// The line `key` was first seen on; or, for a new key, records it as first seen on `line`.
    pub(super) fn first(&mut self, key: &[u8], line: u64) -> Result<Seen, Full> {
        let FirstSeen {
            store,
            table,
            hasher,
        } = self;
        let hash = hasher.hash_one(key);
        let slot = table.entry(
            hash,
            |&at| key_at(store, at) == key,
            |&at| hasher.hash_one(key_at(store, at)),
        );
        match slot {
            Slot::Occupied(found) => Ok(Seen::Before(u64::from(field(store, *found.get(), 0)))),
            Slot::Vacant(vacant) => {
                let at = u32::try_from(store.len()).map_err(|_| Full)?;
                let line = u32::try_from(line).map_err(|_| Full)?;
                // A key is at most a field, and a field at most `MAX_FIELD_BYTES`.
                let len = u32::try_from(key.len()).map_err(|_| Full)?;
                u32::try_from(store.len() + HEADER + key.len()).map_err(|_| Full)?;
                store.extend_from_slice(&line.to_le_bytes());
                store.extend_from_slice(&0u32.to_le_bytes());
                store.extend_from_slice(&len.to_le_bytes());
                store.extend_from_slice(key);
                vacant.insert(at);
                Ok(Seen::New(Entry(at)))
            }
        }
    }

    /// The first line and the payload of `key`, if it was seen.
    pub(super) fn get(&self, key: &[u8]) -> Option<(u64, u32)> {
        let hash = self.hasher.hash_one(key);
        let &at = self
            .table
            .find(hash, |&at| key_at(&self.store, at) == key)?;
        Some((
            u64::from(field(&self.store, at, 0)),
            field(&self.store, at, 4),
        ))
    }

    pub(super) fn set_payload(&mut self, entry: Entry, payload: u32) {
        let at = entry.0 as usize + 4;
        self.store[at..at + 4].copy_from_slice(&payload.to_le_bytes());
    }
}

/// The `u32` at `offset` in the header of the entry at `at`.
fn field(store: &[u8], at: u32, offset: usize) -> u32 {
    let at = at as usize + offset;
    let mut bytes = [0; 4];
    bytes.copy_from_slice(&store[at..at + 4]);
    u32::from_le_bytes(bytes)
}

fn key_at(store: &[u8], at: u32) -> &[u8] {
    let len = field(store, at, 8) as usize;
    let start = at as usize + HEADER;
    &store[start..start + len]
}

#[cfg(test)]
mod tests {
    use std::hash::{BuildHasherDefault, Hasher};

    use super::*;

    /// Every key hashes to 0: each lookup meets every key stored before it.
    #[derive(Default)]
    struct Colliding;

    impl Hasher for Colliding {
        fn finish(&self) -> u64 {
            0
        }
        fn write(&mut self, _: &[u8]) {}
    }

    fn colliding() -> FirstSeen<BuildHasherDefault<Colliding>> {
        FirstSeen::with_hasher(BuildHasherDefault::default())
    }

    #[test]
    fn keys_that_all_collide_are_still_told_apart_by_their_bytes() {
        let mut seen = colliding();
        assert_eq!(seen.first(b"plug-1", 2), Ok(Seen::New(Entry(0))));
        assert!(matches!(seen.first(b"plug-2", 3), Ok(Seen::New(_))));
        // A prefix, an extension and the empty key are other keys too.
        assert!(matches!(seen.first(b"plug-", 4), Ok(Seen::New(_))));
        assert!(matches!(seen.first(b"plug-10", 5), Ok(Seen::New(_))));
        assert!(matches!(seen.first(b"", 6), Ok(Seen::New(_))));
        assert_eq!(seen.first(b"plug-2", 7), Ok(Seen::Before(3)));
        assert_eq!(seen.first(b"plug-1", 8), Ok(Seen::Before(2)));
        assert_eq!(seen.first(b"", 9), Ok(Seen::Before(6)));
        assert_eq!(seen.get(b"plug-10"), Some((5, 0)));
        assert_eq!(seen.get(b"plug-3"), None);
    }

    #[test]
    fn many_colliding_keys_survive_the_table_growing() {
        let mut seen = colliding();
        for i in 0..2_000u64 {
            let key = format!("d{i}");
            assert!(matches!(
                seen.first(key.as_bytes(), i + 2),
                Ok(Seen::New(_))
            ));
        }
        for i in 0..2_000u64 {
            let key = format!("d{i}");
            assert_eq!(seen.first(key.as_bytes(), 9_999), Ok(Seen::Before(i + 2)));
        }
    }

    #[test]
    fn the_first_line_is_kept_and_the_payload_is_set_on_the_first_entry() {
        let mut seen = FirstSeen::default();
        let Ok(Seen::New(entry)) = seen.first(b"strip", 4) else {
            panic!("new key")
        };
        assert_eq!(seen.first(b"strip", 9), Ok(Seen::Before(4)));
        seen.set_payload(entry, 7);
        assert_eq!(seen.get(b"strip"), Some((4, 7)));
        assert_eq!(seen.first(b"strip", 12), Ok(Seen::Before(4)));
    }

    #[test]
    fn a_line_past_u32_is_refused_rather_than_cut() {
        let mut seen = FirstSeen::default();
        assert_eq!(seen.first(b"a", u64::from(u32::MAX) + 1), Err(Full));
        assert_eq!(seen.get(b"a"), None);
    }
}
