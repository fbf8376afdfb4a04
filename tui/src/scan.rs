//! The timeline's search and filter: each reads every event's message (ten
//! million of them take seconds), so they run in the [`Background`] and the
//! view is updated when the answer comes.

use std::collections::HashMap;
use std::sync::Arc;

use regex::Regex;
use rustc_hash::FxHashMap;

use crate::background::Background;
use crate::events::Events;
use crate::text::Filter;

/// How many events a scan reads between two looks at whether it is still wanted.
const CHECK_EVERY: usize = 1 << 16;

/// What the scans read; fixed for the life of the app.
#[derive(Clone)]
pub(crate) struct Shared {
    pub events: Arc<Events>,
    pub images: Arc<HashMap<u32, String>>,
    /// `WAIT UserRequest` per (pid, tid), from the dump.
    pub states: Arc<HashMap<(u32, u32), String>>,
}

pub(crate) enum Job {
    Filter(Filter),
    /// From position `from` of `view` (None: every event), the next match in
    /// the direction given, wrapping around.
    Search {
        re: Regex,
        view: Option<Arc<Vec<u32>>>,
        from: usize,
        forward: bool,
    },
}

pub(crate) enum Outcome {
    /// The events passing the filter (None when the filter is empty).
    Filtered(Filter, Option<Arc<Vec<u32>>>),
    Found(Regex, Option<usize>),
}

pub(crate) type Scanner = Background<Job, Outcome>;

pub(crate) fn spawn(shared: Shared) -> Scanner {
    Background::spawn(move |job, stale| match job {
        Job::Filter(f) if f.is_empty() => Some(Outcome::Filtered(f, None)),
        Job::Filter(f) => {
            let v = filter(&shared, &f, stale)?;
            Some(Outcome::Filtered(f, Some(Arc::new(v))))
        }
        Job::Search {
            re,
            view,
            from,
            forward,
        } => {
            let at = search(
                &shared.events,
                &re,
                view.as_deref().map(Vec::as_slice),
                from,
                forward,
                stale,
            )?;
            Some(Outcome::Found(re, at))
        }
    })
}

fn filter(s: &Shared, f: &Filter, stale: &dyn Fn() -> bool) -> Option<Vec<u32>> {
    let ev = &s.events;
    // The terms about who logged are the same for all of a thread's events.
    let mut who: FxHashMap<(Option<u32>, Option<u32>), bool> = FxHashMap::default();
    let mut out = Vec::new();
    for i in 0..ev.len() {
        if i % CHECK_EVERY == 0 && stale() {
            return None;
        }
        let (pid, tid) = (ev.pid(i), ev.tid(i));
        let ok = *who.entry((pid, tid)).or_insert_with(|| {
            let state = match (pid, tid) {
                (Some(p), Some(t)) if f.wants_state() => {
                    s.states.get(&(p, t)).map_or("", String::as_str)
                }
                _ => "",
            };
            let image = pid.and_then(|p| s.images.get(&p)).map(String::as_str);
            f.matches_thread(image, pid, tid, state)
        });
        if ok && f.matches_text(ev.message(i)) {
            out.push(i as u32);
        }
    }
    Some(out)
}

/// The position of the next match after `from` (wrapping; `from` itself last).
pub(crate) fn search(
    ev: &Events,
    re: &Regex,
    view: Option<&[u32]>,
    from: usize,
    forward: bool,
    stale: &dyn Fn() -> bool,
) -> Option<Option<usize>> {
    let len = view.map_or(ev.len(), <[u32]>::len);
    for k in 1..=len {
        if k % CHECK_EVERY == 0 && stale() {
            return None;
        }
        let pos = if forward {
            (from + k) % len
        } else {
            (from + len - k % len) % len
        };
        let i = view.map_or(pos, |v| v[pos] as usize);
        if re.is_match(ev.message(i)) {
            return Some(Some(pos));
        }
    }
    Some(None)
}
