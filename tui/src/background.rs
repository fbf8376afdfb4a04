//! Work that reads all the data runs here, off the UI thread, so keys keep
//! answering: re-correlation after `o`, and the timeline's search and filter.
//! Only the newest request counts: older ones still queued are dropped, and
//! one already running sees `stale()` turn true and gives up.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc};

/// One worker thread taking requests `Q` and answering `A`.
pub(crate) struct Background<Q, A> {
    tx: mpsc::Sender<(u64, Q)>,
    rx: mpsc::Receiver<(u64, A)>,
    latest: Arc<AtomicU64>,
    sent: u64,
    busy: bool,
}

impl<Q: Send + 'static, A: Send + 'static> Background<Q, A> {
    /// Starts the thread; `work(request, stale)` returns None when it gave up
    /// because `stale()` said a newer request came.
    pub(crate) fn spawn(work: impl Fn(Q, &dyn Fn() -> bool) -> Option<A> + Send + 'static) -> Self {
        let (tx, req) = mpsc::channel::<(u64, Q)>();
        let (res, rx) = mpsc::channel();
        let latest = Arc::new(AtomicU64::new(0));
        let seen = latest.clone();
        std::thread::spawn(move || {
            while let Ok(mut r) = req.recv() {
                while let Ok(newer) = req.try_recv() {
                    r = newer;
                }
                let n = r.0;
                let stale = || seen.load(Ordering::Relaxed) != n;
                if let Some(a) = work(r.1, &stale) {
                    if res.send((n, a)).is_err() {
                        break;
                    }
                }
            }
        });
        Background {
            tx,
            rx,
            latest,
            sent: 0,
            busy: false,
        }
    }

    pub(crate) fn request(&mut self, q: Q) {
        self.sent += 1;
        self.latest.store(self.sent, Ordering::Relaxed);
        self.busy = self.tx.send((self.sent, q)).is_ok();
    }

    pub(crate) fn busy(&self) -> bool {
        self.busy
    }

    /// The newest request's answer, if it arrived (waiting for it when `wait`).
    pub(crate) fn take(&mut self, wait: bool) -> Option<A> {
        while self.busy {
            let got = if wait {
                self.rx.recv().map_err(|_| mpsc::TryRecvError::Disconnected)
            } else {
                self.rx.try_recv()
            };
            match got {
                Ok((n, a)) if n == self.sent => {
                    self.busy = false;
                    return Some(a);
                }
                Ok(_) => {} // an older request's answer
                Err(mpsc::TryRecvError::Empty) => return None,
                Err(mpsc::TryRecvError::Disconnected) => self.busy = false,
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_newest_answer_is_kept() {
        let mut b: Background<u64, u64> = Background::spawn(|q, stale| {
            // A long job gives up once a newer one is asked for.
            for _ in 0..q {
                if stale() {
                    return None;
                }
                std::thread::sleep(std::time::Duration::from_millis(1));
            }
            Some(q)
        });
        b.request(5_000);
        b.request(3);
        assert!(b.busy());
        assert_eq!(b.take(true), Some(3));
        assert!(!b.busy());
        assert_eq!(b.take(true), None);
    }
}
