//! The sequential half of a read: every processor's buffers walked in sequence order and
//! their records merged by timestamp (formats.md §1.9) into windows of [`Slot`]s, which
//! the decoding threads then turn into rows.
//!
//! Everything that depends on the order of records happens here, once per record: the
//! timestamp of a record without one (its processor's last), the time range check, the
//! skip accounting (so skips are counted and listed in the order a sequential reader meets
//! them), the per-header-type counts, and the kernel thread/process state
//! ([`KernelState::apply`]). Decoding a slot needs nothing but its bytes and what the slot
//! carries.

use std::cmp::Reverse;
use std::collections::binary_heap::PeekMut;
use std::collections::BinaryHeap;
use std::sync::Arc;

use super::buffer::{self, BufferHeader, Bytes};
use super::header::Clock;
use super::kernel::{self, KernelState, Looked};
use super::record::{self, Fields, HeaderType, Parsed};
use super::{Skips, BAD_COMPRESSED, BAD_RECORD, TIME_RANGE};
use dumptrace_mapfile::Release;

/// The bytes of one buffer: in the file, or inflated from a compressed one (shared with
/// the windows whose records it holds).
#[derive(Clone)]
pub(crate) enum Data<'f> {
    File(&'f [u8]),
    Inflated(Arc<Vec<u8>>),
}

/// A buffer some records of a window are in.
#[derive(Clone)]
pub(crate) struct WinBuf<'f> {
    pub data: Data<'f>,
    pub header: BufferHeader,
    /// End of the records (SavedOffset, or the inflated size).
    pub end: usize,
}

impl WinBuf<'_> {
    pub(crate) fn bytes(&self) -> &[u8] {
        match &self.data {
            Data::File(b) => b,
            Data::Inflated(v) => v,
        }
    }

    /// File offset of buffer position `pos`: a record in a compressed buffer has no offset
    /// of its own, so it gets its buffer's.
    pub(crate) fn file_offset(&self, pos: usize) -> u64 {
        match self.data {
            Data::File(_) => self.header.offset + pos as u64,
            Data::Inflated(_) => self.header.offset,
        }
    }
}

/// One record in time order: where it is and what decoding it needs from the merge.
#[derive(Debug, Clone)]
pub(crate) struct Slot {
    /// Index in [`Window::bufs`].
    pub buf: u32,
    /// Position of the record in its buffer's bytes.
    pub pos: u32,
    /// Raw timestamp (the processor's last one for a message without a timestamp).
    pub raw_ts: i64,
    pub time_ns: i64,
    pub looked: Looked,
}

/// Consecutive records of the merged order, and the buffers they are in.
#[derive(Default)]
pub(crate) struct Window<'f> {
    pub bufs: Vec<WinBuf<'f>>,
    pub slots: Vec<Slot>,
}

/// The record a stream will hand out next, parsed once when it was peeked.
#[derive(Clone, Copy)]
struct Head {
    pos: usize,
    size: usize,
    timestamp: Option<i64>,
    header: HeaderType,
    /// A kernel record that reads or changes [`KernelState`] by its payload.
    stateful: bool,
    /// A kernel record whose header names a thread and its process: the state learns
    /// the pair without parsing the record again.
    names: Option<(u32, u32)>,
}

/// The buffer a stream is reading.
struct Current<'f> {
    buf: WinBuf<'f>,
    pos: usize,
    /// Its index in the window being filled, once a record of it is in that window.
    in_window: Option<u32>,
}

/// One processor's buffers, walked in sequence order.
struct Stream<'f> {
    buffers: Vec<BufferHeader>,
    /// The lowest file offset of `buffers[i..]`, by `i` (one more, `u64::MAX`, at the end):
    /// sequence order is file order except where a circular log wrapped.
    lowest_from: Vec<u64>,
    next: usize,
    current: Option<Current<'f>>,
    head: Option<Head>,
    last_ts: i64,
}

impl<'f> Stream<'f> {
    /// The lowest file offset this stream still reads: its current buffer (unless that was
    /// inflated into memory of its own) and the buffers after it.
    fn lowest(&self) -> u64 {
        let current = match &self.current {
            Some(Current {
                buf:
                    WinBuf {
                        data: Data::File(_),
                        header,
                        ..
                    },
                ..
            }) => header.offset,
            _ => u64::MAX,
        };
        let rest = self.lowest_from.get(self.next).copied().unwrap_or(u64::MAX);
        current.min(rest)
    }

    /// The timestamp of the next record, loading buffers as needed; None at the end.
    fn peek(&mut self, file: &'f [u8], compression: u32, skips: &mut Skips) -> Option<i64> {
        loop {
            if let Some(h) = &self.head {
                return Some(h.timestamp.unwrap_or(self.last_ts));
            }
            let Some(c) = &self.current else {
                let h = *self.buffers.get(self.next)?;
                self.next += 1;
                let mut scratch = Vec::new();
                match buffer::records(file, &h, compression, &mut scratch) {
                    Ok((bytes, start, end)) => {
                        let data = match bytes {
                            Bytes::File(b) => Data::File(b),
                            Bytes::Inflated => Data::Inflated(Arc::new(scratch)),
                        };
                        self.current = Some(Current {
                            buf: WinBuf {
                                data,
                                header: h,
                                end,
                            },
                            pos: start,
                            in_window: None,
                        });
                    }
                    Err((offset, detail)) => skips.add(offset, BAD_COMPRESSED, detail),
                }
                continue;
            };
            match record::parse(c.buf.bytes(), c.pos, c.buf.end) {
                Ok(Parsed::Record(r)) => {
                    let (stateful, names) = match r.fields {
                        Fields::Kernel { group, kind, .. } => (
                            kernel::stateful(group, kind),
                            kernel::names_thread(r.pid, r.tid),
                        ),
                        _ => (false, None),
                    };
                    self.head = Some(Head {
                        pos: c.pos,
                        size: r.size,
                        timestamp: r.timestamp,
                        header: r.header,
                        stateful,
                        names,
                    });
                }
                Ok(Parsed::End) => self.current = None,
                Err(reason) => {
                    let offset = c.buf.file_offset(c.pos);
                    skips.add(
                        offset,
                        BAD_RECORD,
                        format!("{reason}; rest of the buffer skipped"),
                    );
                    self.current = None;
                }
            }
        }
    }
}

/// The merge of every processor's records, handed out a window at a time.
pub(crate) struct Merger<'f> {
    file: &'f [u8],
    compression: u32,
    clock: Clock,
    streams: Vec<Stream<'f>>,
    /// (next timestamp, stream index) of every stream that has records left.
    heap: BinaryHeap<Reverse<(i64, usize)>>,
    pub skips: Skips,
    /// The lowest file offset of the buffers in the window filled last (which may still be
    /// decoding).
    last_lowest: u64,
    /// The end of the file already released.
    released: u64,
    /// Records per header type ([`record::ALL_TYPES`] order), time-range skips included.
    pub counts: [u64; 13],
    pub kernel: KernelState,
}

impl<'f> Merger<'f> {
    /// `by_cpu` holds each processor's buffers in sequence order; `skips` those the buffer
    /// scan already made. Peeks at every stream (in processor order) to start the merge.
    pub(crate) fn new(
        file: &'f [u8],
        compression: u32,
        clock: Clock,
        anchor: i64,
        by_cpu: Vec<Vec<BufferHeader>>,
        mut skips: Skips,
    ) -> Merger<'f> {
        let mut streams: Vec<Stream<'f>> = by_cpu
            .into_iter()
            .map(|buffers| {
                let mut lowest_from = vec![u64::MAX; buffers.len() + 1];
                for (i, h) in buffers.iter().enumerate().rev() {
                    lowest_from[i] = h.offset.min(lowest_from[i + 1]);
                }
                Stream {
                    buffers,
                    lowest_from,
                    next: 0,
                    current: None,
                    head: None,
                    last_ts: anchor,
                }
            })
            .collect();
        let mut heap = BinaryHeap::with_capacity(streams.len());
        for (i, s) in streams.iter_mut().enumerate() {
            if let Some(ts) = s.peek(file, compression, &mut skips) {
                heap.push(Reverse((ts, i)));
            }
        }
        Merger {
            file,
            compression,
            clock,
            streams,
            heap,
            skips,
            last_lowest: u64::MAX,
            released: 0,
            counts: [0; 13],
            kernel: KernelState::default(),
        }
    }

    /// Fills `w` with the next records in time order, at most `max` of them (records out of
    /// the clock's range are skipped and take no slot). An empty window means the end.
    ///
    /// The stream whose next record has the smallest (timestamp, processor index) goes
    /// first: a k-way merge that keeps each processor's own order.
    ///
    /// `w` comes back decoded, but the window filled last may still be decoding: the file
    /// before its lowest buffer and before what every stream has still to read is read for
    /// good, and goes to `release` first. (A compressed buffer's records were inflated into
    /// memory of their own, so its bytes in the file are done with once inflated.)
    pub(crate) fn fill(&mut self, w: &mut Window<'f>, max: usize, release: Release<'_>) {
        w.bufs.clear();
        w.slots.clear();
        let lowest = self
            .streams
            .iter()
            .map(Stream::lowest)
            .fold(self.last_lowest, u64::min)
            .min(self.file.len() as u64);
        if lowest > self.released {
            release(lowest as usize);
            self.released = lowest;
        }
        for s in &mut self.streams {
            if let Some(c) = s.current.as_mut() {
                c.in_window = None;
            }
        }
        while w.slots.len() < max {
            let Some(mut top) = self.heap.peek_mut() else {
                break;
            };
            let Reverse((_, i)) = *top;
            let Some(stream) = self.streams.get_mut(i) else {
                PeekMut::pop(top);
                continue;
            };
            if let (Some(head), Some(c)) = (stream.head.take(), stream.current.as_mut()) {
                let raw_ts = head.timestamp.unwrap_or(stream.last_ts);
                self.counts[head.header as usize] += 1;
                match self.clock.utc_ns(raw_ts) {
                    None => self.skips.add(
                        c.buf.file_offset(head.pos),
                        TIME_RANGE,
                        format!("timestamp {raw_ts} out of range"),
                    ),
                    Some(time_ns) => {
                        if let Some((pid, tid)) = head.names {
                            self.kernel.learn(pid, tid);
                        }
                        let looked = if head.stateful {
                            looked(&mut self.kernel, &c.buf, head.pos)
                        } else {
                            Looked::Nothing
                        };
                        let buf = match c.in_window {
                            Some(b) => b,
                            None => {
                                let b = w.bufs.len() as u32;
                                w.bufs.push(c.buf.clone());
                                c.in_window = Some(b);
                                b
                            }
                        };
                        w.slots.push(Slot {
                            buf,
                            pos: head.pos as u32,
                            raw_ts,
                            time_ns,
                            looked,
                        });
                    }
                }
                c.pos = record::next(head.pos, head.size);
                if let Some(ts) = head.timestamp {
                    stream.last_ts = ts;
                }
            }
            match stream.peek(self.file, self.compression, &mut self.skips) {
                Some(ts) => *top = Reverse((ts, i)),
                None => {
                    PeekMut::pop(top);
                }
            }
        }
        self.last_lowest = w
            .bufs
            .iter()
            .filter(|b| matches!(b.data, Data::File(_)))
            .map(|b| b.header.offset)
            .min()
            .unwrap_or(u64::MAX);
    }
}

/// Applies the kernel record at `pos` of `buf` to the state.
fn looked(state: &mut KernelState, buf: &WinBuf<'_>, pos: usize) -> Looked {
    match record::parse(buf.bytes(), pos, buf.end) {
        Ok(Parsed::Record(r)) => match r.fields {
            Fields::Kernel {
                group,
                kind,
                version,
            } => state.apply(group, kind, version, record::pointer64(&r), r.payload),
            _ => Looked::Nothing,
        },
        _ => Looked::Nothing,
    }
}
