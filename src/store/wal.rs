//! Refusing a database whose write-ahead log lost committed records.
//!
//! In WAL mode a commit is durable once it is in `<db>-wal`; it reaches the database file only
//! at the next checkpoint. After a crash (or `kill -9`, or a power cut) the last commits live
//! in the -wal alone, and the next open replays them. If the -wal is gone by then (someone
//! copied only the .db to another machine, or "cleaned up" the side files), SQLite opens the
//! older database file without a word, and the newest records vanish: among them, possibly the
//! durable intent recorded just before a device was told to factory-reset, which is exactly
//! what a resume needs to see.
//!
//! The -shm file (the WAL index) outlives a crash too, and its header says how far the log
//! goes. Before SQLite opens the database, [`check`] reads that header (the "WAL-index format"
//! of the SQLite file format documentation): two copies of the 48-byte `WalIndexHdr` at
//! offsets 0 and 48, then the `WalCkptInfo` whose first field, `nBackfill`, counts the frames
//! already copied into the database file; all in the machine's native byte order. When both
//! copies agree, the header is initialised and its checksum holds, and `mxFrame > nBackfill`,
//! committed frames are waiting in the log, so the -wal must exist and hold at least
//! `32 + mxFrame * (24 + page size)` bytes. Anything the header does not let us conclude
//! (no -shm, too short, copies that disagree, not initialised, a version or page size we don't
//! know, nothing waiting) proceeds as before: SQLite itself rebuilds the index from the log.
//!
//! What this does not see: a -wal replaced by another one that is long enough, a -shm deleted
//! together with the -wal, or a -shm from a different database copied next to this one.

use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

/// Bytes of one `WalIndexHdr`; the header is stored twice, at 0 and at this offset.
const HDR_BYTES: usize = 48;

/// Where `WalCkptInfo` starts (right after the two header copies); its first u32 is
/// `nBackfill`.
const CKPT_INFO_OFFSET: usize = 2 * HDR_BYTES;

/// What [`check`] reads of the -shm: both header copies and `nBackfill`.
const NEEDED_BYTES: usize = CKPT_INFO_OFFSET + 4;

/// The only WAL-index version SQLite has written (3.7.0 onwards). Another value is a format we
/// don't know, so nothing to conclude from.
const WALINDEX_VERSION: u32 = 3_007_000;

/// The -wal file starts with a 32-byte header, and every frame with a 24-byte header before its
/// page.
const WAL_HEADER_BYTES: u64 = 32;
const FRAME_HEADER_BYTES: u64 = 24;

/// How many times a header that seems to show a loss is read again. A live writer can move the
/// log on between our reading the -shm and our looking at the -wal (a `TRUNCATE` checkpoint);
/// a loss is only reported when the header did not change meanwhile.
const REREADS: usize = 3;

/// What the WAL-index header says, when it says something we can trust.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct IndexHeader {
    page_size: u32,
    /// `mxFrame`: the last frame of the last commit.
    max_frame: u32,
    /// `nBackfill`: frames already copied into the database file.
    backfilled: u32,
}

impl IndexHeader {
    /// The header in `bytes` (the start of a -shm), or `None` when it can't be trusted.
    fn parse(bytes: &[u8]) -> Option<IndexHeader> {
        if bytes.len() < NEEDED_BYTES {
            return None;
        }
        let (first, second) = (&bytes[..HDR_BYTES], &bytes[HDR_BYTES..2 * HDR_BYTES]);
        let u32_at = |b: &[u8], at: usize| u32::from_ne_bytes(b[at..at + 4].try_into().unwrap());
        let version = u32_at(first, 0);
        let is_init = first[12];
        let sz_page = u16::from_ne_bytes([first[14], first[15]]);
        if first != second || is_init != 1 || version != WALINDEX_VERSION {
            return None;
        }
        // aCksum (offset 40) covers the 40 bytes before it, in native order.
        if checksum(&first[..40]) != (u32_at(first, 40), u32_at(first, 44)) {
            return None;
        }
        // szPage is a u16: 65536 is stored as 1.
        let page_size = if sz_page == 1 {
            65_536
        } else {
            u32::from(sz_page)
        };
        if !(512..=65_536).contains(&page_size) || !page_size.is_power_of_two() {
            return None;
        }
        Some(IndexHeader {
            page_size,
            max_frame: u32_at(first, 16),
            backfilled: u32_at(bytes, CKPT_INFO_OFFSET),
        })
    }

    /// Committed frames not yet in the database file.
    fn waiting(&self) -> u32 {
        self.max_frame.saturating_sub(self.backfilled)
    }

    /// The smallest -wal that holds every committed frame.
    fn wal_bytes_needed(&self) -> u64 {
        WAL_HEADER_BYTES
            + u64::from(self.max_frame) * (FRAME_HEADER_BYTES + u64::from(self.page_size))
    }
}

/// SQLite's WAL checksum over `bytes` (a multiple of 8) read as native-order u32 pairs.
fn checksum(bytes: &[u8]) -> (u32, u32) {
    let (mut s1, mut s2) = (0u32, 0u32);
    for pair in bytes.chunks_exact(8) {
        let x0 = u32::from_ne_bytes(pair[..4].try_into().unwrap());
        let x1 = u32::from_ne_bytes(pair[4..].try_into().unwrap());
        s1 = s1.wrapping_add(x0).wrapping_add(s2);
        s2 = s2.wrapping_add(x1).wrapping_add(s1);
    }
    (s1, s2)
}

/// What [`check`] concluded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Nothing is known to be missing; open as usual.
    Fine,
    /// `frames` committed frames are in a -wal that is missing or too short.
    Lost { frames: u32 },
}

/// Whether the database at `db_path` has committed frames its -wal no longer holds. Reads only;
/// call it before SQLite opens the database (SQLite resets the -shm when it opens first).
pub(crate) fn check(db_path: &Path) -> Verdict {
    // SQLite resolves a symlinked database and keeps its side files next to the real file.
    let real = std::fs::canonicalize(db_path).unwrap_or_else(|_| db_path.to_owned());
    let (Some(shm), Some(wal)) = (side_file(&real, "-shm"), side_file(&real, "-wal")) else {
        return Verdict::Fine;
    };
    let mut header = read_header(&shm);
    for _ in 0..REREADS {
        let Some(seen) = header else {
            return Verdict::Fine;
        };
        let verdict = judge(&seen, wal_len(&wal));
        if verdict == Verdict::Fine {
            return verdict;
        }
        header = read_header(&shm);
        if header == Some(seen) {
            return verdict;
        }
    }
    // The header kept changing: a live writer owns the log, and SQLite will find it whole.
    Verdict::Fine
}

/// The verdict for one header and the -wal's length (`None`: no -wal).
fn judge(header: &IndexHeader, wal_len: Option<u64>) -> Verdict {
    let frames = header.waiting();
    if frames == 0 {
        return Verdict::Fine;
    }
    match wal_len {
        Some(len) if len >= header.wal_bytes_needed() => Verdict::Fine,
        _ => Verdict::Lost { frames },
    }
}

/// `<db file name><suffix>` next to the database, as SQLite names its side files.
fn side_file(db_path: &Path, suffix: &str) -> Option<PathBuf> {
    let mut name = db_path.file_name()?.to_owned();
    name.push(suffix);
    Some(db_path.with_file_name(name))
}

/// The -shm's header, or `None` if there is none to read (no file, unreadable, too short,
/// untrustworthy).
fn read_header(shm: &Path) -> Option<IndexHeader> {
    let mut bytes = Vec::with_capacity(NEEDED_BYTES);
    File::open(shm)
        .ok()?
        .take(NEEDED_BYTES as u64)
        .read_to_end(&mut bytes)
        .ok()?;
    IndexHeader::parse(&bytes)
}

/// The -wal's length; `None` when it is not there. A -wal we can't even stat is not known to
/// be missing, so it counts as long enough (SQLite will report what is wrong with it).
fn wal_len(wal: &Path) -> Option<u64> {
    match std::fs::metadata(wal) {
        Ok(meta) => Some(meta.len()),
        Err(err) if err.kind() == io::ErrorKind::NotFound => None,
        Err(_) => Some(u64::MAX),
    }
}

#[cfg(test)]
mod tests {
    use std::fs;

    use rusqlite::Connection;

    use super::*;

    /// A -shm start as SQLite writes it: both copies, a valid checksum, then nBackfill.
    fn shm(page: u16, max_frame: u32, backfilled: u32) -> Vec<u8> {
        let mut hdr = [0u8; HDR_BYTES];
        hdr[0..4].copy_from_slice(&WALINDEX_VERSION.to_ne_bytes());
        hdr[8..12].copy_from_slice(&7u32.to_ne_bytes()); // iChange
        hdr[12] = 1; // isInit
        hdr[14..16].copy_from_slice(&page.to_ne_bytes());
        hdr[16..20].copy_from_slice(&max_frame.to_ne_bytes());
        hdr[20..24].copy_from_slice(&3u32.to_ne_bytes()); // nPage
        let (c1, c2) = checksum(&hdr[..40]);
        hdr[40..44].copy_from_slice(&c1.to_ne_bytes());
        hdr[44..48].copy_from_slice(&c2.to_ne_bytes());
        let mut bytes = [hdr, hdr].concat();
        bytes.extend_from_slice(&backfilled.to_ne_bytes());
        bytes.resize(136, 0);
        bytes
    }

    fn parsed(bytes: &[u8]) -> IndexHeader {
        IndexHeader::parse(bytes).expect("a valid header")
    }

    #[test]
    fn a_valid_header_gives_page_size_last_frame_and_backfill() {
        assert_eq!(
            parsed(&shm(4096, 5, 2)),
            IndexHeader {
                page_size: 4096,
                max_frame: 5,
                backfilled: 2
            }
        );
        assert_eq!(parsed(&shm(1, 1, 0)).page_size, 65_536);
    }

    #[test]
    fn a_header_that_cannot_be_trusted_says_nothing() {
        let good = shm(4096, 5, 0);
        assert!(IndexHeader::parse(&good[..NEEDED_BYTES - 1]).is_none());
        assert!(IndexHeader::parse(&[]).is_none());

        let mut copies_differ = good.clone();
        copies_differ[HDR_BYTES + 16] ^= 1;
        assert!(IndexHeader::parse(&copies_differ).is_none());

        let mut not_init = good.clone();
        not_init[12] = 0;
        not_init[HDR_BYTES + 12] = 0;
        assert!(IndexHeader::parse(&not_init).is_none());

        let mut bad_sum = good.clone();
        bad_sum[16] ^= 1;
        bad_sum[HDR_BYTES + 16] ^= 1;
        assert!(IndexHeader::parse(&bad_sum).is_none());

        assert!(IndexHeader::parse(&shm(1000, 5, 0)).is_none());
    }

    #[test]
    fn frames_waiting_need_a_wal_long_enough_for_every_one_of_them() {
        let h = parsed(&shm(4096, 3, 1));
        let needed = 32 + 3 * (24 + 4096);
        assert_eq!(h.wal_bytes_needed(), needed);
        assert_eq!(judge(&h, Some(needed)), Verdict::Fine);
        assert_eq!(judge(&h, Some(needed - 1)), Verdict::Lost { frames: 2 });
        assert_eq!(judge(&h, None), Verdict::Lost { frames: 2 });
        assert_eq!(
            parsed(&shm(1, 2, 0)).wal_bytes_needed(),
            32 + 2 * (24 + 65_536)
        );
    }

    #[test]
    fn a_fully_checkpointed_log_needs_no_wal() {
        for (max, backfilled) in [(0, 0), (4, 4)] {
            assert_eq!(
                judge(&parsed(&shm(4096, max, backfilled)), None),
                Verdict::Fine
            );
        }
    }

    #[test]
    fn check_reads_the_side_files_next_to_the_database() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("audit.db");
        assert_eq!(check(&db), Verdict::Fine, "no -shm");
        fs::write(dir.path().join("audit.db-shm"), shm(4096, 2, 0)).unwrap();
        assert_eq!(check(&db), Verdict::Lost { frames: 2 }, "no -wal");
        fs::write(dir.path().join("audit.db-wal"), vec![0; 32 + 24 + 4096]).unwrap();
        assert_eq!(check(&db), Verdict::Lost { frames: 2 }, "one frame short");
        fs::write(
            dir.path().join("audit.db-wal"),
            vec![0; 32 + 2 * (24 + 4096)],
        )
        .unwrap();
        assert_eq!(check(&db), Verdict::Fine);
    }

    #[test]
    fn a_symlinked_database_is_checked_where_sqlite_keeps_its_side_files() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real");
        fs::create_dir(&real).unwrap();
        fs::write(real.join("audit.db"), b"").unwrap();
        fs::write(real.join("audit.db-shm"), shm(4096, 2, 0)).unwrap();
        let link = dir.path().join("link.db");
        std::os::unix::fs::symlink(real.join("audit.db"), &link).unwrap();
        assert_eq!(check(&link), Verdict::Lost { frames: 2 });
    }

    /// The parser against what SQLite really writes: a connection that never checkpoints,
    /// still open, with two commits in its log.
    #[test]
    fn the_header_sqlite_writes_parses_and_shows_the_uncheckpointed_frames() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("audit.db");
        let conn = Connection::open(&db).unwrap();
        conn.pragma_update(None, "journal_mode", "WAL").unwrap();
        conn.pragma_update(None, "wal_autocheckpoint", 0).unwrap();
        conn.execute_batch("CREATE TABLE t (x); INSERT INTO t VALUES (1);")
            .unwrap();
        let page_size: u32 = conn
            .pragma_query_value(None, "page_size", |r| r.get(0))
            .unwrap();

        let header = read_header(&dir.path().join("audit.db-shm")).expect("a header");
        assert_eq!(header.page_size, page_size);
        assert!(header.max_frame >= 2, "{header:?}");
        assert_eq!(header.backfilled, 0);
        assert_eq!(check(&db), Verdict::Fine, "the -wal is there");
        let wal = fs::metadata(dir.path().join("audit.db-wal")).unwrap().len();
        assert!(wal >= header.wal_bytes_needed(), "{wal} {header:?}");

        conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))
            .unwrap();
        let header = read_header(&dir.path().join("audit.db-shm")).expect("a header");
        assert_eq!(header.waiting(), 0, "{header:?}");
    }
}
