use super::*;
use polars::prelude::{Column, Int64Chunked, IntoColumn, TimeZone};

const S: i64 = 1_000_000_000;

/// A frame with just the columns `recurring` reads, rows in the given (unsorted) order.
fn frame<M: AsRef<str>>(events: &[(i64, u32, u32, M)]) -> DataFrame {
    let time: Vec<i64> = events.iter().map(|e| e.0).collect();
    let time = Int64Chunked::from_vec(TIME.into(), time)
        .into_datetime(TimeUnit::Nanoseconds, Some(TimeZone::UTC))
        .into_column();
    let pid: Vec<u32> = events.iter().map(|e| e.1).collect();
    let tid: Vec<u32> = events.iter().map(|e| e.2).collect();
    let msg: Vec<&str> = events.iter().map(|e| e.3.as_ref()).collect();
    let cols = vec![
        time,
        Column::new(PID.into(), pid),
        Column::new(TID.into(), tid),
        Column::new(MESSAGE.into(), msg),
    ];
    DataFrame::new(events.len(), cols).expect("frame")
}

#[test]
fn period_and_jitter_of_a_known_loop() {
    // Occurrence starts: intervals 5.0, 5.2, 4.9, 5.0, 5.1, 4.8 s.
    // median = (5.0 + 5.0) / 2 = 5.0; |deviations| = 0, .2, .1, 0, .1, .2 → median 0.1.
    let base = 1_700_000_000 * S;
    let gaps_ms = [5000, 5200, 4900, 5000, 5100, 4800];
    let mut starts = vec![base];
    for g in gaps_ms {
        let last = *starts.last().expect("start");
        starts.push(last + g * 1_000_000);
    }
    let mut events = Vec::new();
    for (i, &t) in starts.iter().enumerate().rev() {
        // each occurrence: thread 8 then thread 7 0.3 ms later (one burst)
        let msg = format!("Execute DB command sleeps (retry {i})");
        events.push((t, 100, 8, msg.clone()));
        events.push((t + 300_000, 100, 7, msg));
    }
    // irregular noise in the same process: intervals 1, 9, 0.5, 19.5 s
    for off_ms in [0, 1000, 10_000, 10_500, 30_000] {
        events.push((
            base + off_ms * 1_000_000,
            100,
            9,
            "Unrelated thing".to_owned(),
        ));
    }
    // same template in another process every 2 s, exactly
    for k in 0..3 {
        let msg = "Execute DB command sleeps (retry 1)".to_owned();
        events.push((base + k * 2 * S, 200, 1, msg));
    }
    let f = frame(&events);
    let found = recurring(&f, 3).expect("recurring");
    assert_eq!(found.len(), 2, "{found:#?}");

    let r = &found[0];
    assert_eq!((r.pid, r.count, r.tids.clone()), (100, 7, vec![7, 8]));
    assert_eq!(r.template, "Execute DB command sleeps (retry #)");
    assert!((r.period_s - 5.0).abs() < 1e-9, "{}", r.period_s);
    assert!((r.jitter_s - 0.1).abs() < 1e-9, "{}", r.jitter_s);
    assert_eq!(r.first.timestamp_nanos_opt(), Some(base));
    assert_eq!(r.last.timestamp_nanos_opt(), Some(starts[6] + 300_000));
    assert_eq!(r.rows.len(), 14);
    // rows are in time order: the frame was built newest first
    let times: Vec<i64> = r.rows.iter().map(|&i| events[i].0).collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]));
    assert_eq!(r.example, events[r.rows[0]].3);
    assert_eq!(r.example, "Execute DB command sleeps (retry 0)");

    let r = &found[1];
    assert_eq!((r.pid, r.count, r.period_s, r.jitter_s), (200, 3, 2.0, 0.0));

    // more occurrences required than the loops have
    assert_eq!(recurring(&f, 8).expect("recurring").len(), 0);
}

#[test]
fn bursts_do_not_chain_and_irregular_is_rejected() {
    // 0, 0.9 ms, 1.8 ms: the third is 1.8 ms after the burst start, so a new occurrence
    let ms = 1_000_000;
    let f = frame(&[
        (0, 1, 1, "tick"),
        (9 * ms / 10, 1, 1, "tick"),
        (18 * ms / 10, 1, 1, "tick"),
    ]);
    let r = recurring(&f, 2).expect("recurring");
    assert_eq!(r.len(), 1);
    assert_eq!(r[0].count, 2);
    assert!((r[0].period_s - 0.0018).abs() < 1e-12);

    // jitter just above 10 % of the period: intervals 1.0, 1.0, 1.25, 0.75
    // → period 1.0, deviations 0, 0, .25, .25 → jitter 0.125 > 0.1
    let f = frame(&[
        (0, 1, 1, "a"),
        (S, 1, 1, "a"),
        (2 * S, 1, 1, "a"),
        (2 * S + 5 * S / 4, 1, 1, "a"),
        (4 * S, 1, 1, "a"),
    ]);
    assert!(recurring(&f, 2).expect("recurring").is_empty());
}

#[test]
fn column_problems_are_errors() {
    let f = frame(&[(0, 1, 1, "a")]);
    let no_tid = f.drop(TID).expect("drop");
    let e = recurring(&no_tid, 2).expect_err("missing tid");
    assert!(e.to_string().starts_with("frame column `tid`"), "{e}");

    let mut wrong = f.clone();
    wrong
        .with_column(Column::new(PID.into(), vec![1i64]))
        .expect("replace");
    let e = recurring(&wrong, 2).expect_err("pid type");
    assert_eq!(
        e.to_string(),
        "frame column `pid`: expected UInt32, found i64"
    );
    assert!(recurring(&f.head(Some(0)), 2).expect("empty").is_empty());
}

/// The one-pass template counts equal masking each message on its own, and the
/// recurrences are those `recurring` reports.
#[test]
fn template_counts_match_masking_each_message() {
    let mut events = Vec::new();
    for i in 0..40i64 {
        events.push((
            i * 6 * S,
            2780,
            3292 + (i % 3) as u32,
            format!("Error: retry {i} on disk"),
        ));
        events.push((i * S + 7, 2780, 77, format!("handle 0x{i:08x} opened")));
    }
    let df = frame(&events);
    let found = templates(&df, 3).expect("templates");
    let mut oracle = std::collections::BTreeMap::new();
    for e in &events {
        *oracle.entry(crate::template_of(&e.3)).or_insert(0u64) += 1;
    }
    let got: std::collections::BTreeMap<String, u64> = found.counts.into_iter().collect();
    assert_eq!(got, oracle);
    assert_eq!(got.get("Error: retry # on disk"), Some(&40));
    assert_eq!(found.recurring, recurring(&df, 3).expect("recurring"));
    assert_eq!(found.recurring[0].template, "Error: retry # on disk");
}

/// Masking in stretches on several threads gives what one pass gives: the same counts in
/// the same order of first appearance, the same recurrences with the same rows.
#[test]
fn stretches_join_into_one_pass() {
    let mut events = Vec::new();
    for i in 0..500i64 {
        // Templates first seen late, in several processes, periodic and not.
        let pid = 100 + (i % 7) as u32;
        let msg = match i % 5 {
            0 => format!("Error: retry {i} on disk"),
            1 => format!("poll {} of queue {}", i, i % 3),
            2 if i > 300 => format!("late template {}", i % 4),
            _ => format!("handle 0x{i:08x} opened by {pid}"),
        };
        events.push(((i % 50) * 2 * S + i, pid, (i % 11) as u32, msg));
    }
    let df = frame(&events);
    let one = templates_in(&df, 3, 1).expect("one pass");
    assert!(!one.recurring.is_empty());
    for n in [2, 3, 7, 64, 1000] {
        assert_eq!(
            templates_in(&df, 3, n).expect("stretches"),
            one,
            "{n} stretches"
        );
    }
}

#[test]
fn median_by_selection_is_the_sorted_median() {
    // Oracle: sort, then the middle value or the mean of the two middle values.
    let mut next = crate::test_util::xorshift(0x51_7cc1_b727_220a);
    for n in 0..200usize {
        let v: Vec<f64> = (0..n)
            .map(|_| match next() % 4 {
                0 => (next() % 5) as f64,             // many equal values
                1 => -((next() % 1000) as f64) / 7.0, // negative
                2 => 0.0,
                _ => (next() % 1_000_000) as f64 / 1e3,
            })
            .collect();
        let mut sorted = v.clone();
        sorted.sort_by(f64::total_cmp);
        let want = match n {
            0 => None,
            n if n % 2 == 1 => Some(sorted[n / 2]),
            n => Some((sorted[n / 2 - 1] + sorted[n / 2]) / 2.0),
        };
        assert_eq!(
            median(v).map(f64::to_bits),
            want.map(f64::to_bits),
            "n = {n}"
        );
    }
}
