//! The disk spool: where events go when the store cannot take them (down, slow,
//! or the queue is full), and where forked children write theirs.
//!
//! A spool directory holds *segments*, one file per writer at a time, named
//! `<unix-nanos>-<pid>-<n>.spool` so that names sort by creation time. A segment
//! starts with the 8-byte magic `PTSPOOL1`, then records: a little-endian `u32`
//! payload length, a little-endian `u32` CRC-32 of the payload, and the payload,
//! one [`Event`] as JSON. The writing process holds an exclusive `flock` on its
//! segment; the kernel drops it when the process ends however it ends, so an
//! unlocked segment belongs to a process that is gone and any process may replay
//! it (replay takes the lock first, so two replayers never work on one file).
//!
//! Replay reads a segment, restores per-stream order (records of one stream may
//! have been spooled out of order when the queue overflowed), appends the events
//! in batches, and deletes the segment only after the store confirmed every
//! batch. Appends are idempotent, so a segment replayed twice changes nothing.
//! A torn last record (the process died mid-write) is expected and ignored; any
//! other damage keeps the records before it, renames the file to `*.corrupt` and
//! is reported, never a crash.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::SystemTime;

use serde::Serialize;
use tracker_core::{Event, RunId};
use tracker_db::{DbError, Store};

/// File extension of a segment.
pub const EXTENSION: &str = "spool";
/// Extension added to a damaged segment.
pub const CORRUPT_EXTENSION: &str = "corrupt";
const MAGIC: &[u8; 8] = b"PTSPOOL1";
/// Largest payload accepted when reading (an event is far smaller; a larger
/// length field means the file is damaged).
const MAX_RECORD: u32 = 16 * 1024 * 1024;

static SEGMENT_COUNTER: AtomicU64 = AtomicU64::new(0);

/// A segment this process writes to, locked for as long as it is open.
#[derive(Debug)]
pub(crate) struct Segment {
    path: PathBuf,
    file: File,
    buf: Vec<u8>,
    records: usize,
}

impl Segment {
    /// Creates a new, locked segment in `dir` (creating the directory).
    pub(crate) fn create(dir: &Path) -> io::Result<Self> {
        fs::create_dir_all(dir)?;
        let nanos = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
        let name = format!(
            "{nanos:020}-{:010}-{:06}.{EXTENSION}",
            std::process::id(),
            SEGMENT_COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        let path = dir.join(name);
        let mut file = OpenOptions::new().create_new(true).read(true).append(true).open(&path)?;
        file.try_lock().map_err(|err| io::Error::other(format!("cannot lock {}: {err}", path.display())))?;
        file.write_all(MAGIC)?;
        Ok(Self { path, file, buf: Vec::with_capacity(4096), records: 0 })
    }

    /// The segment's file.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Records written so far.
    pub(crate) fn records(&self) -> usize {
        self.records
    }

    /// Appends events with one `write` (no fsync: see [`Segment::sync`]).
    pub(crate) fn append(&mut self, events: &[Event]) -> io::Result<()> {
        self.buf.clear();
        for event in events {
            encode_record(event, &mut self.buf)?;
        }
        self.file.write_all(&self.buf)?;
        self.records += events.len();
        Ok(())
    }

    /// Forces what was written to disk.
    pub(crate) fn sync(&self) -> io::Result<()> {
        self.file.sync_data()
    }
}

/// Appends one record (length, CRC-32, JSON) for `event` to `out`.
pub fn encode_record(event: &Event, out: &mut Vec<u8>) -> io::Result<()> {
    let start = out.len();
    out.extend_from_slice(&[0; 8]);
    serde_json::to_writer(&mut *out, event).map_err(io::Error::other)?;
    let payload = &out[start + 8..];
    let len = u32::try_from(payload.len()).map_err(|_| io::Error::other("event too large to spool"))?;
    let crc = crc32fast::hash(payload);
    out[start..start + 4].copy_from_slice(&len.to_le_bytes());
    out[start + 4..start + 8].copy_from_slice(&crc.to_le_bytes());
    Ok(())
}

/// What is wrong with a segment.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Damage {
    /// The file does not start with the spool magic.
    NotASpool,
    /// The last record is incomplete (the writer died mid-write): harmless.
    TornTail {
        /// Byte offset of the incomplete record.
        offset: u64,
    },
    /// A record fails its checksum or does not decode.
    BadRecord {
        /// Byte offset of the record.
        offset: u64,
        /// What is wrong.
        reason: String,
    },
}

impl Damage {
    /// Whether the segment must be kept aside as corrupt (anything but a torn tail).
    pub fn is_corruption(&self) -> bool {
        !matches!(self, Damage::TornTail { .. })
    }
}

impl std::fmt::Display for Damage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Damage::NotASpool => f.write_str("not a pipetrack spool file (bad header)"),
            Damage::TornTail { offset } => write!(f, "incomplete last record at byte {offset}"),
            Damage::BadRecord { offset, reason } => write!(f, "bad record at byte {offset}: {reason}"),
        }
    }
}

/// The readable events of a segment and the first damage found, if any.
#[derive(Debug, Default)]
pub struct SegmentContents {
    /// Events before any damage, in file order.
    pub events: Vec<Event>,
    /// What stopped the reading, if anything did.
    pub damage: Option<Damage>,
}

/// What orders spooled events for replay (and makes duplicates equal).
type EventKey = (RunId, tracker_core::StreamId, u64);

/// Reads a segment; never fails on damaged content (see [`SegmentContents::damage`]).
pub fn read_segment(path: &Path) -> io::Result<SegmentContents> {
    let mut contents = SegmentContents::default();
    contents.damage =
        scan_records(io::BufReader::new(File::open(path)?), |_, event| contents.events.push(event))?;
    Ok(contents)
}

#[cfg(test)]
fn decode_segment(bytes: &[u8]) -> SegmentContents {
    let mut contents = SegmentContents::default();
    contents.damage =
        scan_records(bytes, |_, event| contents.events.push(event)).expect("reading from memory cannot fail");
    contents
}

/// Reads a segment record by record (never more than one in memory), checking
/// each, and hands each event to `found` with the byte range of its payload.
/// Returns the first damage found, which ends the reading.
fn scan_records(
    mut input: impl Read,
    mut found: impl FnMut(std::ops::Range<u64>, Event),
) -> io::Result<Option<Damage>> {
    let mut header = [0_u8; MAGIC.len()];
    let got = read_full(&mut input, &mut header)?;
    if got < MAGIC.len() || &header != MAGIC {
        // An empty or partial header is a writer that died right after creating the file.
        return Ok((got == MAGIC.len() || !MAGIC.starts_with(&header[..got])).then_some(Damage::NotASpool));
    }
    let mut pos = MAGIC.len() as u64;
    let mut payload = Vec::new();
    loop {
        let offset = pos;
        let mut prefix = [0_u8; 8];
        match read_full(&mut input, &mut prefix)? {
            0 => return Ok(None),
            8 => {}
            _ => return Ok(Some(Damage::TornTail { offset })),
        }
        let len = u32::from_le_bytes([prefix[0], prefix[1], prefix[2], prefix[3]]);
        let crc = u32::from_le_bytes([prefix[4], prefix[5], prefix[6], prefix[7]]);
        if len > MAX_RECORD {
            let reason = format!("record length {len} is implausible");
            return Ok(Some(Damage::BadRecord { offset, reason }));
        }
        payload.resize(len as usize, 0);
        if read_full(&mut input, &mut payload)? < payload.len() {
            return Ok(Some(Damage::TornTail { offset }));
        }
        if crc32fast::hash(&payload) != crc {
            return Ok(Some(Damage::BadRecord { offset, reason: "checksum mismatch".into() }));
        }
        match serde_json::from_slice::<Event>(&payload) {
            Ok(event) => found(offset + 8..offset + 8 + u64::from(len), event),
            Err(err) => {
                let reason = format!("undecodable event: {err}");
                return Ok(Some(Damage::BadRecord { offset, reason }));
            }
        }
        pos = offset + 8 + u64::from(len);
    }
}

/// Reads until `buf` is full or the input ends; returns how many bytes were read.
fn read_full(input: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match input.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
            Err(err) => return Err(err),
        }
    }
    Ok(got)
}

/// Whether a segment is being written by a live process, waiting for replay, or set aside.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SegmentState {
    /// A live process holds it: it replays it itself.
    InUse,
    /// Its writer is gone: any process (or `pipetrack spool replay`) may replay it.
    Ready,
    /// Damaged and set aside (`*.corrupt`); kept for inspection, never replayed.
    Corrupt,
}

/// One file of a spool directory.
#[derive(Clone, Debug, Serialize)]
pub struct SegmentInfo {
    /// The file.
    pub path: PathBuf,
    /// Process that wrote it (from its name).
    pub pid: Option<u32>,
    /// Size in bytes.
    pub bytes: u64,
    /// Readable records.
    pub records: usize,
    /// Runs it holds events of.
    pub runs: Vec<RunId>,
    /// In use, ready or corrupt.
    pub state: SegmentState,
    /// Last written.
    pub modified: Option<chrono::DateTime<chrono::Utc>>,
    /// Damage found, if any.
    pub damage: Option<Damage>,
}

fn pid_from_name(path: &Path) -> Option<u32> {
    let name = path.file_name()?.to_str()?;
    name.split('-').nth(1)?.parse().ok()
}

fn is_segment(path: &Path) -> bool {
    path.extension().is_some_and(|ext| ext == EXTENSION)
}

fn is_corrupt(path: &Path) -> bool {
    path.extension().is_some_and(|ext| ext == CORRUPT_EXTENSION)
}

/// Segments (and corrupt files) of a spool directory, oldest first. A missing
/// directory is an empty spool.
pub fn list(dir: &Path) -> io::Result<Vec<SegmentInfo>> {
    let mut paths = Vec::new();
    match fs::read_dir(dir) {
        Ok(entries) => {
            for entry in entries {
                let path = entry?.path();
                if is_segment(&path) || is_corrupt(&path) {
                    paths.push(path);
                }
            }
        }
        Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(err) => return Err(err),
    }
    paths.sort();
    let mut out = Vec::with_capacity(paths.len());
    for path in paths {
        let Ok(metadata) = fs::metadata(&path) else { continue };
        let state = if is_corrupt(&path) {
            SegmentState::Corrupt
        } else {
            match File::open(&path).map(|file| file.try_lock().is_ok()) {
                Ok(true) => SegmentState::Ready,
                Ok(false) => SegmentState::InUse,
                Err(_) => continue, // replayed and deleted meanwhile
            }
        };
        let contents = read_segment(&path).unwrap_or_default();
        let mut runs: Vec<RunId> = contents.events.iter().map(|e| e.run_id).collect();
        runs.sort();
        runs.dedup();
        out.push(SegmentInfo {
            pid: pid_from_name(&path),
            bytes: metadata.len(),
            records: contents.events.len(),
            runs,
            state,
            modified: metadata.modified().ok().map(chrono::DateTime::<chrono::Utc>::from),
            damage: contents.damage,
            path,
        });
    }
    Ok(out)
}

/// What a replay did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ReplayReport {
    /// Segments fully replayed and deleted.
    pub segments: usize,
    /// Events sent to the store.
    pub events: usize,
    /// Of those, newly stored.
    pub inserted: usize,
    /// Of those, already stored (replayed before): ignored.
    pub duplicates: usize,
    /// Segments skipped because a live process holds them.
    pub in_use: usize,
    /// Segments found damaged and renamed `*.corrupt` (their readable records were replayed).
    pub corrupt: Vec<PathBuf>,
    /// Events the store refused as invalid, saved to `rejected-*.jsonl` beside the spool.
    pub rejected: usize,
    /// Why replay stopped early (store unreachable ...), if it did.
    pub stopped: Option<String>,
}

impl ReplayReport {
    pub(crate) fn absorb(&mut self, other: FileReplay) {
        self.events += other.events;
        self.inserted += other.inserted;
        self.duplicates += other.duplicates;
        self.rejected += other.rejected;
        self.segments += other.segments - other.corrupt.len();
        self.corrupt.extend(other.corrupt);
    }
}

/// What replaying one file did.
#[derive(Debug, Default)]
pub(crate) struct FileReplay {
    pub(crate) segments: usize,
    pub(crate) events: usize,
    pub(crate) inserted: usize,
    pub(crate) duplicates: usize,
    pub(crate) rejected: usize,
    pub(crate) corrupt: Vec<PathBuf>,
}

/// Replays every segment of `dir` that no live process holds, oldest first,
/// except those in `skip`. Stops at the first store failure (see
/// [`ReplayReport::stopped`]); what was not replayed stays on disk.
pub async fn replay_dir(store: &Store, dir: &Path, batch_size: usize, skip: &[PathBuf]) -> ReplayReport {
    let mut report = ReplayReport::default();
    let ready = match ready_segments(dir, skip, &mut report) {
        Ok(ready) => ready,
        Err(err) => {
            report.stopped = Some(format!("cannot read the spool directory {}: {err}", dir.display()));
            return report;
        }
    };
    for group in group_segments(ready, batch_size) {
        let paths: Vec<PathBuf> = group.iter().map(|(path, _)| path.clone()).collect();
        match replay_group(store, &paths, batch_size).await {
            Ok(done) => report.absorb(done),
            Err(err) => {
                report.stopped = Some(err.to_string());
                break;
            }
        }
        drop(group);
    }
    report
}

/// Groups ready segments so that each group holds about `batch_size * 10`
/// bytes' worth of small segments (a segment over that is a group of its own).
pub(crate) fn group_segments(ready: Vec<(PathBuf, File)>, batch_size: usize) -> Vec<Vec<(PathBuf, File)>> {
    // ~200 bytes an event: a group is read into memory whole.
    let budget = (batch_size.max(1) as u64) * 200 * 10;
    let mut groups: Vec<Vec<(PathBuf, File)>> = Vec::new();
    let mut size = 0;
    for (path, file) in ready {
        let len = file.metadata().map_or(0, |m| m.len());
        match groups.last_mut() {
            Some(group) if size + len <= budget => group.push((path, file)),
            _ => {
                groups.push(vec![(path, file)]);
                size = 0;
            }
        }
        size += len;
    }
    groups
}

/// Segments of `dir` (minus `skip`) that no live process holds, oldest first,
/// each with the open file whose lock keeps other replayers away. Segments of
/// live processes are counted in `report.in_use`; their content is not read.
pub(crate) fn ready_segments(
    dir: &Path,
    skip: &[PathBuf],
    report: &mut ReplayReport,
) -> io::Result<Vec<(PathBuf, File)>> {
    let mut paths: Vec<PathBuf> = match fs::read_dir(dir) {
        Ok(entries) => {
            entries.flatten().map(|e| e.path()).filter(|p| is_segment(p) && !skip.contains(p)).collect()
        }
        Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(err) => return Err(err),
    };
    paths.sort();
    let mut ready = Vec::with_capacity(paths.len());
    for path in paths {
        let Ok(file) = File::open(&path) else { continue };
        if file.try_lock().is_err() {
            report.in_use += 1;
            continue;
        }
        ready.push((path, file));
    }
    Ok(ready)
}

/// Replays one segment (the caller holds its lock) and deletes it, or renames it
/// `*.corrupt` when damaged.
pub(crate) async fn replay_file(
    store: &Store,
    path: &Path,
    batch_size: usize,
) -> Result<FileReplay, DbError> {
    replay_group(store, &[path.to_path_buf()], batch_size).await
}

/// Replays several segments (the caller holds their locks) as one stream of
/// batches, so many small segments (a fork storm's children) cost a few
/// transactions, not one each; then deletes them (or sets damaged ones aside).
pub(crate) async fn replay_group(
    store: &Store,
    paths: &[PathBuf],
    batch_size: usize,
) -> Result<FileReplay, DbError> {
    // An index of the records (key, segment, payload bytes), not the events:
    // a long outage's spool holds millions of events, and replaying it must
    // not hold them all in memory.
    let mut index: Vec<(EventKey, usize, std::ops::Range<u64>)> = Vec::new();
    let mut read: Vec<(&PathBuf, File, Option<Damage>)> = Vec::with_capacity(paths.len());
    for path in paths {
        let opened = File::open(path).and_then(|file| {
            let segment = read.len();
            let damage = scan_records(io::BufReader::new(file.try_clone()?), |range, event| {
                index.push(((event.run_id, event.stream, event.seq), segment, range));
            })?;
            Ok((file, damage))
        });
        match opened {
            Ok((file, damage)) => read.push((path, file, damage)),
            Err(err) if err.kind() == io::ErrorKind::NotFound => {}
            Err(err) => {
                return Err(DbError::Corrupt(format!("cannot read spool segment {}: {err}", path.display())));
            }
        }
    }
    // Per-stream order: records spooled while the queue overflowed may be out of order.
    index.sort_by_key(|(key, ..)| *key);
    index.dedup_by_key(|(key, ..)| *key);
    let mut done = FileReplay { events: index.len(), segments: read.len(), ..FileReplay::default() };
    let mut payload = Vec::new();
    for chunk in index.chunks(batch_size.max(1)) {
        let mut events = Vec::with_capacity(chunk.len());
        for (_, segment, range) in chunk {
            let (path, file, _) = &read[*segment];
            payload.resize((range.end - range.start) as usize, 0);
            std::os::unix::fs::FileExt::read_exact_at(file, &mut payload, range.start).map_err(|err| {
                DbError::Corrupt(format!("cannot read spool segment {}: {err}", path.display()))
            })?;
            // Checked when indexed; a file changed since would fail here, not replay garbage.
            let event = serde_json::from_slice::<Event>(&payload).map_err(|err| {
                DbError::Corrupt(format!("spool segment {} changed while replayed: {err}", path.display()))
            })?;
            events.push(event);
        }
        append_chunk(store, &events, &paths[0], &mut done).await?;
    }
    let read: Vec<(&PathBuf, Option<Damage>)> =
        read.into_iter().map(|(path, _, damage)| (path, damage)).collect();
    for (path, damage) in read {
        match damage {
            Some(damage) if damage.is_corruption() => {
                let target = path.with_extension(CORRUPT_EXTENSION);
                let _ = fs::rename(path, &target);
                crate::warn::warn(&format!(
                    "spool segment {} is damaged ({damage}); its readable events were replayed and the file was kept as {}",
                    path.display(),
                    target.display()
                ));
                done.corrupt.push(target);
            }
            _ => {
                if let Err(err) = fs::remove_file(path)
                    && err.kind() != io::ErrorKind::NotFound
                {
                    crate::warn::warn(&format!(
                        "replayed spool segment {} but cannot delete it ({err}); replaying it again is harmless",
                        path.display()
                    ));
                }
            }
        }
    }
    Ok(done)
}

async fn append_chunk(
    store: &Store,
    chunk: &[Event],
    path: &Path,
    done: &mut FileReplay,
) -> Result<(), DbError> {
    match store.append(chunk.to_vec()).await {
        Ok(outcome) => {
            done.inserted += outcome.inserted;
            done.duplicates += outcome.duplicates;
            Ok(())
        }
        Err(DbError::InvalidEvent { .. } | DbError::BatchOrder { .. }) => {
            // One bad record must not block the others: append one by one, set the bad ones aside.
            for event in chunk {
                match store.append(vec![event.clone()]).await {
                    Ok(outcome) => {
                        done.inserted += outcome.inserted;
                        done.duplicates += outcome.duplicates;
                    }
                    Err(err @ (DbError::InvalidEvent { .. } | DbError::BatchOrder { .. })) => {
                        save_rejected(path, event, &err);
                        done.rejected += 1;
                    }
                    Err(err) => return Err(err),
                }
            }
            Ok(())
        }
        Err(err) => Err(err),
    }
}

/// Keeps an event the store refused, with the reason, as a JSON line in
/// `rejected-<segment>.jsonl` beside the segment.
pub(crate) fn save_rejected(segment: &Path, event: &Event, err: &DbError) {
    let name = segment.file_stem().and_then(|s| s.to_str()).unwrap_or("events");
    let target = segment.with_file_name(format!("rejected-{name}.jsonl"));
    let line = serde_json::json!({ "reason": err.to_string(), "event": event });
    let written = OpenOptions::new()
        .create(true)
        .append(true)
        .open(&target)
        .and_then(|mut file| writeln!(file, "{line}"));
    crate::warn::warn(&format!(
        "the store refused event {} of stream {} of run {}: {err}; {}",
        event.seq,
        event.stream,
        event.run_id,
        match written {
            Ok(()) => format!("kept in {}", target.display()),
            Err(io) => format!("and it could not be kept ({io})"),
        }
    ));
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};
    use tracker_core::{EventKind, StreamId};

    use super::*;

    fn event(seq: u64) -> Event {
        Event {
            run_id: RunId::from_parts(1, [3; 10]),
            stream: StreamId::MAIN,
            seq,
            at: Utc.with_ymd_and_hms(2026, 3, 1, 6, 0, 0).unwrap(),
            kind: EventKind::TaskEntered { task: seq as u32, depth: 0, name: format!("task {seq}") },
        }
    }

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("pt-spool-unit-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn records_round_trip_and_the_writer_holds_the_lock() {
        let dir = temp_dir("roundtrip");
        let mut segment = Segment::create(&dir).unwrap();
        segment.append(&[event(1), event(2)]).unwrap();
        segment.append(&[event(3)]).unwrap();
        segment.sync().unwrap();
        let contents = read_segment(segment.path()).unwrap();
        assert_eq!(contents.events, vec![event(1), event(2), event(3)]);
        assert_eq!(contents.damage, None);
        let listed = list(&dir).unwrap();
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].state, SegmentState::InUse);
        assert_eq!(listed[0].records, 3);
        assert_eq!(listed[0].pid, Some(std::process::id()));
        drop(segment);
        assert_eq!(list(&dir).unwrap()[0].state, SegmentState::Ready);
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_torn_tail_keeps_every_complete_record() {
        let mut bytes = MAGIC.to_vec();
        encode_record(&event(1), &mut bytes).unwrap();
        let whole = bytes.len();
        encode_record(&event(2), &mut bytes).unwrap();
        bytes.truncate(bytes.len() - 5);
        let contents = decode_segment(&bytes);
        assert_eq!(contents.events, vec![event(1)]);
        assert_eq!(contents.damage, Some(Damage::TornTail { offset: whole as u64 }));
        assert!(!contents.damage.unwrap().is_corruption());
    }

    #[test]
    fn a_flipped_byte_is_a_checksum_mismatch_after_the_good_records() {
        let mut bytes = MAGIC.to_vec();
        encode_record(&event(1), &mut bytes).unwrap();
        let second = bytes.len();
        encode_record(&event(2), &mut bytes).unwrap();
        encode_record(&event(3), &mut bytes).unwrap();
        bytes[second + 20] ^= 0x55;
        let contents = decode_segment(&bytes);
        assert_eq!(contents.events, vec![event(1)]);
        assert_eq!(
            contents.damage,
            Some(Damage::BadRecord { offset: second as u64, reason: "checksum mismatch".into() })
        );
    }

    #[test]
    fn other_files_are_not_spools() {
        assert_eq!(decode_segment(b"hello world, not a spool").damage, Some(Damage::NotASpool));
        assert_eq!(decode_segment(b"PTSP").damage, None);
        let mut bytes = MAGIC.to_vec();
        bytes.extend_from_slice(&u32::MAX.to_le_bytes());
        bytes.extend_from_slice(&[0; 4]);
        assert!(matches!(decode_segment(&bytes).damage, Some(Damage::BadRecord { .. })));
    }
}
