//! The robustness suite: seeded generators mutate the committed fixtures (truncations at many
//! lengths, flipped bits, forged headers and shapes, hostile pickles, non-regular files) and every
//! reader runs on them in process. Each case must end in success or a clean error that names its
//! input: no panic, no abort, no more than 512 MB allocated, no more than 10 s.
//!
//! One test function, so that no other test shares the process while allocations are counted.
//! `ROBUSTNESS_SEED=<n>` replays another seed; `ROBUSTNESS_SCALE=<k>` runs k times the cases.

mod cases;
#[path = "../common/mod.rs"]
mod common;
mod peak;

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::{Duration, Instant};

use cases::Case;

#[global_allocator]
static ALLOCATOR: peak::PeakAllocator = peak::PeakAllocator;

/// The most any case may allocate beyond what was live when it started.
const MAX_CASE_BYTES: usize = 512 << 20;
/// The longest any case may run (a hang shows as a case far beyond it).
const MAX_CASE_TIME: Duration = Duration::from_secs(10);
const DEFAULT_SEED: u64 = 20_261_202;

#[derive(Debug, Default)]
struct Tally {
    success: usize,
    clean_error: usize,
    failures: Vec<String>,
    worst_bytes: (usize, String),
    worst_time: (Duration, String),
}

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

#[test]
fn bad_inputs_end_in_success_or_a_clean_error_naming_the_input() {
    let seed = env_number("ROBUSTNESS_SEED", DEFAULT_SEED);
    let scale = env_number("ROBUSTNESS_SCALE", 1).max(1) as usize;
    let dir = tempfile::tempdir().unwrap();
    let start = Instant::now();
    let mut tally = Tally::default();
    let mut by_reader: Vec<(&'static str, usize, usize)> = Vec::new();
    for (reader, generate) in cases::READERS {
        let cases: Vec<Case> = generate(dir.path(), seed, scale);
        let (mut ok, mut err) = (0, 0);
        for case in cases {
            let before = peak::reset();
            let began = Instant::now();
            let outcome = catch_unwind(AssertUnwindSafe(|| (case.run)()));
            let elapsed = began.elapsed();
            let bytes = peak::peak().saturating_sub(before);
            let label = format!("{reader}: {}", case.name);
            if bytes > tally.worst_bytes.0 {
                tally.worst_bytes = (bytes, label.clone());
            }
            if elapsed > tally.worst_time.0 {
                tally.worst_time = (elapsed, label.clone());
            }
            match outcome {
                Err(_) => tally.failures.push(format!("{label}: panicked")),
                Ok(Ok(())) => ok += 1,
                Ok(Err(message)) if !message.contains(&case.names) => {
                    tally.failures.push(format!("{label}: the error does not name {}: {message}", case.names))
                }
                Ok(Err(_)) => err += 1,
            }
            if bytes > MAX_CASE_BYTES {
                tally.failures.push(format!("{label}: allocated {} MB", bytes >> 20));
            }
            if elapsed > MAX_CASE_TIME {
                tally.failures.push(format!("{label}: took {elapsed:?}"));
            }
        }
        tally.success += ok;
        tally.clean_error += err;
        by_reader.push((reader, ok, err));
    }
    let total = tally.success + tally.clean_error + tally.failures.len();
    eprintln!("robustness suite, seed {seed}: {total} cases in {:.1} s", start.elapsed().as_secs_f64());
    for (reader, ok, err) in &by_reader {
        eprintln!("  {reader:<22} {:>5} cases: {ok:>5} success, {err:>5} clean error", ok + err);
    }
    eprintln!("  worst memory: {:.1} MB ({})", tally.worst_bytes.0 as f64 / 1e6, tally.worst_bytes.1);
    eprintln!("  slowest case: {:.0} ms ({})", tally.worst_time.0.as_secs_f64() * 1e3, tally.worst_time.1);
    assert!(tally.failures.is_empty(), "{} failures:\n{}", tally.failures.len(), tally.failures.join("\n"));
    assert!(total >= 2000 * scale.min(1), "at least 2,000 cases, got {total}");
}
