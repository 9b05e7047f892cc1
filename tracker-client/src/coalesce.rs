//! Coalescing: the only lossy-by-design step. Within one batch, a stream's
//! consecutive progress/message updates and heartbeats fold into one event that
//! carries the latest value of every field and the last sequence number. Task
//! boundaries, starts, finishes, errors and resource samples are never merged,
//! and an update never merges across one of them.

use std::collections::HashMap;

use tracker_core::{Event, EventKind, RunId, StreamId};

/// Folds consecutive coalescable events of each stream; keeps everything else as is.
pub(crate) fn coalesce(events: Vec<Event>) -> Vec<Event> {
    let mut out: Vec<Event> = Vec::with_capacity(events.len());
    // Index in `out` of each stream's latest event.
    let mut last: HashMap<(RunId, StreamId), usize> = HashMap::new();
    for event in events {
        let key = (event.run_id, event.stream);
        if event.is_coalescable()
            && let Some(&index) = last.get(&key)
            && out[index].is_coalescable()
        {
            merge_into(&mut out[index], event);
            continue;
        }
        last.insert(key, out.len());
        out.push(event);
    }
    out
}

fn merge_into(earlier: &mut Event, later: Event) {
    earlier.seq = later.seq;
    match (&mut earlier.kind, later.kind) {
        (EventKind::StatusUpdate(update), EventKind::StatusUpdate(next)) => {
            update.merge(next);
            earlier.at = later.at;
        }
        (kind @ EventKind::Heartbeat, next @ EventKind::StatusUpdate(_)) => {
            *kind = next;
            earlier.at = later.at;
        }
        // An update followed by a heartbeat: the update already says the run is alive.
        (EventKind::StatusUpdate(_), _) => {}
        (_, _) => earlier.at = later.at,
    }
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, Duration, TimeZone, Utc};
    use tracker_core::{StatusUpdate, TaskStatus};

    use super::*;

    fn at(ms: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 1, 6, 0, 0).unwrap() + Duration::milliseconds(ms)
    }

    fn ev(stream: i64, seq: u64, kind: EventKind) -> Event {
        Event {
            run_id: RunId::from_parts(1, [1; 10]),
            stream: StreamId::from_stored(stream),
            seq,
            at: at(seq as i64),
            kind,
        }
    }

    fn progress(done: u64) -> EventKind {
        EventKind::StatusUpdate(StatusUpdate {
            progress_done: Some(done),
            progress_total: Some(50),
            task: Some(1),
            ..StatusUpdate::default()
        })
    }

    fn message(text: &str) -> EventKind {
        EventKind::StatusUpdate(StatusUpdate {
            message: Some(text.into()),
            task: Some(1),
            ..StatusUpdate::default()
        })
    }

    #[test]
    fn consecutive_updates_fold_to_the_latest_values_and_last_seq() {
        let events = vec![
            ev(0, 2, progress(1)),
            ev(0, 3, message("Alabama")),
            ev(0, 4, progress(2)),
            ev(0, 5, EventKind::Heartbeat),
            ev(0, 6, progress(3)),
        ];
        let out = coalesce(events);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].seq, 6);
        assert_eq!(out[0].at, at(6));
        let EventKind::StatusUpdate(update) = &out[0].kind else { panic!("{:?}", out[0].kind) };
        assert_eq!(update.message.as_deref(), Some("Alabama"));
        assert_eq!((update.progress_done, update.progress_total), (Some(3), Some(50)));
    }

    #[test]
    fn task_boundaries_are_never_merged_or_crossed() {
        let events = vec![
            ev(0, 2, progress(1)),
            ev(0, 3, EventKind::TaskExited { task: 1, depth: 0, status: TaskStatus::Completed }),
            ev(0, 4, progress(2)),
            ev(0, 5, EventKind::TaskEntered { task: 2, depth: 0, name: "b".into() }),
            ev(0, 6, EventKind::TaskEntered { task: 3, depth: 1, name: "c".into() }),
        ];
        let out = coalesce(events.clone());
        assert_eq!(out, events);
    }

    #[test]
    fn streams_coalesce_independently_and_keep_their_order() {
        let events = vec![
            ev(0, 2, progress(1)),
            ev(7, 1, progress(10)),
            ev(0, 3, progress(2)),
            ev(7, 2, EventKind::TaskExited { task: 1, depth: 0, status: TaskStatus::Failed }),
            ev(7, 3, progress(11)),
        ];
        let out = coalesce(events);
        let keys: Vec<(i64, u64)> = out.iter().map(|e| (e.stream.get(), e.seq)).collect();
        assert_eq!(keys, vec![(0, 3), (7, 1), (7, 2), (7, 3)]);
    }

    #[test]
    fn heartbeats_alone_fold_into_the_last() {
        let out = coalesce(vec![ev(0, 2, EventKind::Heartbeat), ev(0, 3, EventKind::Heartbeat)]);
        assert_eq!(out, vec![ev(0, 3, EventKind::Heartbeat)]);
    }
}
