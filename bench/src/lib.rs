//! What the benchmark binaries share: describing the machine a run happened on, and the
//! small arithmetic every results table uses.

use std::fs;
use std::path::Path;

pub mod household;
pub mod process;

/// A megabyte as the results tables count it: 10⁶ bytes.
pub const BYTES_PER_MB: f64 = 1e6;

/// The type and device of the mount holding `dir`, from `/proc/mounts` (longest prefix).
pub fn filesystem_of(dir: &Path) -> Option<String> {
    let dir = dir.canonicalize().ok()?;
    let mounts = fs::read_to_string("/proc/mounts").ok()?;
    mounts
        .lines()
        .filter_map(|line| {
            let mut fields = line.split_whitespace();
            let (device, mount_point, kind) = (fields.next()?, fields.next()?, fields.next()?);
            dir.starts_with(mount_point)
                .then(|| (mount_point.len(), format!("{kind} ({device})")))
        })
        .max_by_key(|(len, _)| *len)
        .map(|(_, fs)| fs)
}

/// The 1, 5 and 15 minute load averages, to show whether anything else ran.
pub fn load_average() -> String {
    fs::read_to_string("/proc/loadavg").map_or_else(
        |_| "unknown".into(),
        |l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "),
    )
}

/// MB (10⁶ bytes) per second.
pub fn mb_per_s(bytes: u64, seconds: f64) -> f64 {
    bytes as f64 / BYTES_PER_MB / seconds
}

/// Nearest-rank percentile of sorted values (`q` in 0..=1); NaN when there are none.
pub fn nearest_rank(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let v = [1.0, 2.0, 3.0, 4.0];
        assert_eq!(nearest_rank(&v, 0.5), 2.0);
        assert_eq!(nearest_rank(&v, 0.99), 4.0);
        assert_eq!(nearest_rank(&v, 0.0), 1.0);
        assert!(nearest_rank(&[], 0.5).is_nan());
    }
}
