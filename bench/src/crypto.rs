//! `porchlight-crypto-bench`: how fast Porchlight seals and opens a clip, against Go age
//! (`/usr/bin/age`) on the same bytes and against a plain file copy, the ceiling of this
//! disk path.
//!
//! One run writes a file of random bytes (`--mib`, default 100 MiB) to a temporary folder
//! on disk, then repeats five legs `--runs` times (default 3), each leg reading that file
//! and writing a new one beside it:
//!
//! 1. **copy** — read and write the bytes through 1 MiB buffers: no cryptography, the
//!    ceiling of this read-from-page-cache, write-to-file path.
//! 2. **Porchlight seal** — [`porchlight_crypto::seal`] to two recipients (a device and a
//!    recovery key, like a real account), header and payload to two files.
//! 3. **Porchlight open** — [`porchlight_crypto::open`] with the device's identity, the
//!    plaintext copied to a file.
//! 4. **Go age encrypt** — `age -e -r DEVICE -r RECOVERY -o out.age in.bin`, timed
//!    wall-clock as a subprocess (so process start-up counts; a few ms).
//! 5. **Go age decrypt** — `age -d -i DEVICE-IDENTITY -o out.bin out.age`.
//!
//! Every reader and writer in the Porchlight and copy legs is a `BufReader`/`BufWriter`
//! with a 1 MiB buffer. No timed leg waits for the disk: the input sits in the page cache
//! and the outputs land there, so the figures are the CPU cost of each path, not the
//! disk's speed. Each output is removed before its leg and synced to disk after it,
//! outside the timing, so every leg creates a fresh file and none pays for another's
//! writeback. A first, untimed round warms everything up.
//!
//! Correctness is checked in the same run, outside the timings: every decrypted output's
//! SHA-256 must equal the input's; Go age must decrypt Porchlight's `header ‖ payload`
//! (with the recovery key's identity), and [`porchlight_crypto::open_file`] must open the
//! file Go age made (with the device's).
//!
//! Throughput is plaintext bytes over wall-clock time, in MB/s with MB = 10⁶ bytes; the
//! tables give the median over the runs and the range. Results and their reading:
//! `bench/RESULTS.md`.
//!
//! ```text
//! cargo run --release -p porchlight-bench --bin porchlight-crypto-bench -- --runs 5
//! ```

use porchlight_bench::{BYTES_PER_MB, filesystem_of, mb_per_s};
use std::ffi::OsStr;
use std::fs::{self, File};
use std::io::{self, BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{Context as _, bail, ensure};
use clap::Parser;
use porchlight_crypto::{DevicePublic, DeviceSecret, RecoveryKey};
use rand::RngCore as _;

/// Every buffered reader and writer in the copy and Porchlight legs.
const BUFFER_BYTES: usize = 1 << 20;
const BYTES_PER_MIB: u64 = 1 << 20;

#[derive(Debug, Parser)]
#[command(
    name = "porchlight-crypto-bench",
    about = "Time Porchlight's clip sealing and opening against Go age and a plain copy"
)]
struct Cli {
    /// Size of the random input file, in MiB.
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u64).range(1..))]
    mib: u64,
    /// Repetitions of every leg; the tables show the median.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..))]
    runs: u32,
    /// Folder to make the temporary working folder in (default: the system's temp folder).
    #[arg(long)]
    dir: Option<PathBuf>,
    /// The Go age binary; its legs are skipped when it is absent.
    #[arg(long, default_value = "/usr/bin/age")]
    age: PathBuf,
}

/// The timed legs, in the order each run does them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Leg {
    Copy,
    PorchlightSeal,
    PorchlightOpen,
    AgeEncrypt,
    AgeDecrypt,
}

impl Leg {
    const ALL: [Leg; 5] = [
        Leg::Copy,
        Leg::PorchlightSeal,
        Leg::PorchlightOpen,
        Leg::AgeEncrypt,
        Leg::AgeDecrypt,
    ];

    fn name(self) -> &'static str {
        match self {
            Leg::Copy => "copy (ceiling)",
            Leg::PorchlightSeal => "Porchlight seal",
            Leg::PorchlightOpen => "Porchlight open",
            Leg::AgeEncrypt => "Go age encrypt",
            Leg::AgeDecrypt => "Go age decrypt",
        }
    }

    fn what(self) -> &'static str {
        match self {
            Leg::Copy => "`BufReader` → `BufWriter`, 1 MiB each, no crypto",
            Leg::PorchlightSeal => {
                "`porchlight_crypto::seal`, 2 recipients → header + payload files"
            }
            Leg::PorchlightOpen => "`porchlight_crypto::open` → plaintext file",
            Leg::AgeEncrypt => "`age -e -r … -r … -o`, subprocess",
            Leg::AgeDecrypt => "`age -d -i … -o`, subprocess",
        }
    }

    fn is_age(self) -> bool {
        matches!(self, Leg::AgeEncrypt | Leg::AgeDecrypt)
    }
}

/// The files of one benchmark run, all in one temporary folder.
#[derive(Debug)]
struct Paths {
    plaintext: PathBuf,
    copy: PathBuf,
    header: PathBuf,
    payload: PathBuf,
    opened: PathBuf,
    device_identity: PathBuf,
    recovery_identity: PathBuf,
    age_file: PathBuf,
    age_decrypted: PathBuf,
    joined: PathBuf,
    joined_by_age: PathBuf,
}

impl Paths {
    fn in_folder(dir: &Path) -> Self {
        Self {
            plaintext: dir.join("plaintext.bin"),
            copy: dir.join("copy.bin"),
            header: dir.join("clip.header"),
            payload: dir.join("clip.payload"),
            opened: dir.join("opened.bin"),
            device_identity: dir.join("device-identity.txt"),
            recovery_identity: dir.join("recovery-identity.txt"),
            age_file: dir.join("go.age"),
            age_decrypted: dir.join("go-decrypted.bin"),
            joined: dir.join("porchlight-joined.age"),
            joined_by_age: dir.join("porchlight-joined-by-go-age.bin"),
        }
    }
}

/// The account's keys: one device and the recovery key, both recipients of every clip.
struct Keys {
    device: DeviceSecret,
    recovery: RecoveryKey,
    recipients: [DevicePublic; 2],
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keys")
            .field("recipients", &self.recipients)
            .finish_non_exhaustive()
    }
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let size_bytes = cli
        .mib
        .checked_mul(BYTES_PER_MIB)
        .context("--mib is too large")?;
    let age = cli.age.is_file().then_some(cli.age.as_path());
    if age.is_none() {
        eprintln!(
            "{} not found: skipping the Go age legs and cross-checks (`apt-get install age`)",
            cli.age.display()
        );
    }

    let mut builder = tempfile::Builder::new();
    builder.prefix("porchlight-crypto-bench");
    let work = match &cli.dir {
        Some(dir) => builder.tempdir_in(dir),
        None => builder.tempdir(),
    }
    .context("making the temporary working folder")?;
    let paths = Paths::in_folder(work.path());

    let (device, recovery) = (DeviceSecret::generate(), RecoveryKey::generate().0);
    let keys = Keys {
        recipients: [device.public(), recovery.public()],
        device,
        recovery,
    };
    write_secret_file(&paths.device_identity, &keys.device.export_age_identity())?;
    write_secret_file(
        &paths.recovery_identity,
        &keys.recovery.as_device().export_age_identity(),
    )?;

    eprintln!(
        "… writing {} MiB of random bytes to {}",
        cli.mib,
        paths.plaintext.display()
    );
    write_random_file(&paths.plaintext, size_bytes)?;
    let input_sha256 = sha256_file(&paths.plaintext)?;

    let mut seconds: Vec<(Leg, Vec<f64>)> = Leg::ALL.iter().map(|l| (*l, Vec::new())).collect();
    // Run 0 is a warm-up (binaries, page cache, file-system allocation): checked, not kept.
    for run in 0..=cli.runs {
        for (leg, times) in &mut seconds {
            if leg.is_age() && age.is_none() {
                continue;
            }
            let elapsed = time_leg(*leg, &paths, &keys, age, size_bytes)?;
            check_output(*leg, &paths, &input_sha256)?;
            eprintln!(
                "  {}: {:<16} {:>8.1} MB/s ({elapsed:.3} s)",
                if run == 0 {
                    "warm-up".to_owned()
                } else {
                    format!("run {run}/{}", cli.runs)
                },
                leg.name(),
                mb_per_s(size_bytes, elapsed)
            );
            if run > 0 {
                times.push(elapsed);
            }
        }
    }

    let cross_checks = match age {
        Some(age) => Some(cross_check(&paths, &keys, age, &input_sha256)?),
        None => None,
    };
    let sealed = (file_len(&paths.header)?, file_len(&paths.payload)?);

    print_report(&Report {
        cli: &cli,
        age,
        work_dir: work.path(),
        size_bytes,
        sealed,
        input_sha256,
        seconds: &seconds,
        cross_checks,
    });
    work.close()
        .context("removing the temporary working folder")?;
    Ok(())
}

// ---- the legs ----

/// Runs one leg on fresh output files and returns its wall-clock seconds.
fn time_leg(
    leg: Leg,
    paths: &Paths,
    keys: &Keys,
    age: Option<&Path>,
    size_bytes: u64,
) -> anyhow::Result<f64> {
    let outputs: &[&Path] = match leg {
        Leg::Copy => &[&paths.copy],
        Leg::PorchlightSeal => &[&paths.header, &paths.payload],
        Leg::PorchlightOpen => &[&paths.opened],
        Leg::AgeEncrypt => &[&paths.age_file],
        Leg::AgeDecrypt => &[&paths.age_decrypted],
    };
    for path in outputs {
        remove_if_present(path)?;
    }
    let start = Instant::now();
    run_leg(leg, paths, keys, age, size_bytes)?;
    let elapsed = start.elapsed().as_secs_f64();
    // Untimed: write this leg's dirty pages back now, so the next leg is not throttled by
    // (or charged for) writeback of this one's output.
    for path in outputs {
        open(path)?
            .sync_all()
            .with_context(|| format!("syncing {}", path.display()))?;
    }
    Ok(elapsed)
}

fn run_leg(
    leg: Leg,
    paths: &Paths,
    keys: &Keys,
    age: Option<&Path>,
    size_bytes: u64,
) -> anyhow::Result<()> {
    let age = || age.context("no Go age binary");
    match leg {
        Leg::Copy => copy_file(&paths.plaintext, &paths.copy)?,
        Leg::PorchlightSeal => {
            let plaintext_bytes = seal_file(paths, &keys.recipients)?;
            ensure!(
                plaintext_bytes == size_bytes,
                "seal read {plaintext_bytes} bytes of a {size_bytes}-byte file"
            );
        }
        Leg::PorchlightOpen => open_to_file(paths, &keys.device)?,
        Leg::AgeEncrypt => {
            let [device, recovery] = &keys.recipients;
            let (device, recovery) = (device.age_string(), recovery.age_string());
            run_age(
                age()?,
                &[
                    OsStr::new("-e"),
                    OsStr::new("-r"),
                    OsStr::new(&device),
                    OsStr::new("-r"),
                    OsStr::new(&recovery),
                    OsStr::new("-o"),
                    paths.age_file.as_os_str(),
                    paths.plaintext.as_os_str(),
                ],
            )?;
        }
        Leg::AgeDecrypt => age_decrypt(
            age()?,
            &paths.device_identity,
            &paths.age_file,
            &paths.age_decrypted,
        )?,
    }
    Ok(())
}

/// Plain read-and-write copy. Not `io::copy`: on Linux it hands `File` to `File` copies to
/// `copy_file_range`, which would skip the very reads and writes this leg is meant to time.
fn copy_file(from: &Path, to: &Path) -> anyhow::Result<()> {
    let mut reader = BufReader::with_capacity(BUFFER_BYTES, open(from)?);
    let mut writer = BufWriter::with_capacity(BUFFER_BYTES, create(to)?);
    loop {
        let chunk = reader
            .fill_buf()
            .with_context(|| format!("reading {}", from.display()))?;
        if chunk.is_empty() {
            break;
        }
        let n = chunk.len();
        writer
            .write_all(chunk)
            .with_context(|| format!("writing {}", to.display()))?;
        reader.consume(n);
    }
    finish_writer(writer, to)
}

/// Seals the plaintext file to header and payload files; returns the plaintext bytes read.
fn seal_file(paths: &Paths, recipients: &[DevicePublic]) -> anyhow::Result<u64> {
    let plaintext = BufReader::with_capacity(BUFFER_BYTES, open(&paths.plaintext)?);
    let header = BufWriter::with_capacity(BUFFER_BYTES, create(&paths.header)?);
    let payload = BufWriter::with_capacity(BUFFER_BYTES, create(&paths.payload)?);
    // `seal` flushes both writers before it returns, so write errors surface here.
    let sizes =
        porchlight_crypto::seal(plaintext, header, payload, recipients).context("sealing")?;
    Ok(sizes.plaintext_bytes)
}

fn open_to_file(paths: &Paths, identity: &DeviceSecret) -> anyhow::Result<()> {
    let header =
        fs::read(&paths.header).with_context(|| format!("reading {}", paths.header.display()))?;
    let payload = BufReader::with_capacity(BUFFER_BYTES, open(&paths.payload)?);
    let mut clip = porchlight_crypto::open(&header, payload, identity).context("opening")?;
    let mut out = BufWriter::with_capacity(BUFFER_BYTES, create(&paths.opened)?);
    io::copy(&mut clip, &mut out).context("decrypting the payload")?;
    finish_writer(out, &paths.opened)
}

fn age_decrypt(age: &Path, identity: &Path, input: &Path, output: &Path) -> anyhow::Result<()> {
    run_age(
        age,
        &[
            OsStr::new("-d"),
            OsStr::new("-i"),
            identity.as_os_str(),
            OsStr::new("-o"),
            output.as_os_str(),
            input.as_os_str(),
        ],
    )
}

fn run_age(age: &Path, args: &[&OsStr]) -> anyhow::Result<()> {
    let output = Command::new(age)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("running {}", age.display()))?;
    if !output.status.success() {
        bail!(
            "{} {} failed ({}): {}",
            age.display(),
            args.first().map_or("", |a| a.to_str().unwrap_or("")),
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(())
}

// ---- correctness ----

/// After a decrypting leg, its output must be the input, byte for byte.
fn check_output(leg: Leg, paths: &Paths, input_sha256: &[u8; 32]) -> anyhow::Result<()> {
    let output = match leg {
        Leg::Copy => &paths.copy,
        Leg::PorchlightOpen => &paths.opened,
        Leg::AgeDecrypt => &paths.age_decrypted,
        Leg::PorchlightSeal | Leg::AgeEncrypt => return Ok(()),
    };
    ensure!(
        sha256_file(output)? == *input_sha256,
        "{}: the output's SHA-256 differs from the input's",
        leg.name()
    );
    Ok(())
}

/// What the two untimed interoperability checks found (both must pass for a report).
#[derive(Debug, Clone, Copy)]
struct CrossChecks {
    age_opens_porchlight: bool,
    porchlight_opens_age: bool,
}

/// Go age decrypts Porchlight's `header ‖ payload` (as the recovery key), and Porchlight's
/// `open_file` opens the file Go age made (as the device).
fn cross_check(
    paths: &Paths,
    keys: &Keys,
    age: &Path,
    input_sha256: &[u8; 32],
) -> anyhow::Result<CrossChecks> {
    let mut joined = BufWriter::with_capacity(BUFFER_BYTES, create(&paths.joined)?);
    for part in [&paths.header, &paths.payload] {
        io::copy(&mut open(part)?, &mut joined)
            .with_context(|| format!("appending {}", part.display()))?;
    }
    finish_writer(joined, &paths.joined)?;
    age_decrypt(
        age,
        &paths.recovery_identity,
        &paths.joined,
        &paths.joined_by_age,
    )
    .context("Go age decrypting Porchlight's header ‖ payload")?;
    let age_opens_porchlight = sha256_file(&paths.joined_by_age)? == *input_sha256;

    let age_file = BufReader::with_capacity(BUFFER_BYTES, open(&paths.age_file)?);
    let clip = porchlight_crypto::open_file(age_file, &keys.device)
        .context("Porchlight opening Go age's file")?;
    let (digest, _) =
        porchlight_crypto::sha256_reader(clip).context("Porchlight decrypting Go age's file")?;
    let porchlight_opens_age = digest == *input_sha256;

    ensure!(
        age_opens_porchlight && porchlight_opens_age,
        "cross-check failed: Go age opens Porchlight's clip: {age_opens_porchlight}, \
         Porchlight opens Go age's file: {porchlight_opens_age}"
    );
    Ok(CrossChecks {
        age_opens_porchlight,
        porchlight_opens_age,
    })
}

// ---- files ----

fn open(path: &Path) -> anyhow::Result<File> {
    File::open(path).with_context(|| format!("opening {}", path.display()))
}

fn create(path: &Path) -> anyhow::Result<File> {
    File::create(path).with_context(|| format!("creating {}", path.display()))
}

/// Flushes and closes, so a failed write is an error rather than lost in `Drop`.
fn finish_writer(writer: BufWriter<File>, path: &Path) -> anyhow::Result<()> {
    writer
        .into_inner()
        .map_err(io::IntoInnerError::into_error)
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

fn remove_if_present(path: &Path) -> anyhow::Result<()> {
    match fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => {
            Err(e).with_context(|| format!("removing {}", path.display()))
        }
        _ => Ok(()),
    }
}

fn file_len(path: &Path) -> anyhow::Result<u64> {
    Ok(fs::metadata(path)
        .with_context(|| format!("reading the size of {}", path.display()))?
        .len())
}

fn write_random_file(path: &Path, size_bytes: u64) -> anyhow::Result<()> {
    let mut rng = rand::rng();
    let mut chunk = vec![0u8; BUFFER_BYTES];
    let mut out = BufWriter::with_capacity(BUFFER_BYTES, create(path)?);
    let mut left = size_bytes;
    while left > 0 {
        let n = usize::try_from(left).map_or(BUFFER_BYTES, |l| l.min(BUFFER_BYTES));
        let chunk = &mut chunk[..n];
        rng.fill_bytes(chunk);
        out.write_all(chunk)
            .with_context(|| format!("writing {}", path.display()))?;
        left -= n as u64;
    }
    finish_writer(out, path)
}

/// An age identity file, readable by its owner only (Go age reads it with `-i`).
fn write_secret_file(path: &Path, contents: &str) -> anyhow::Result<()> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    writeln!(file, "{contents}").with_context(|| format!("writing {}", path.display()))
}

fn sha256_file(path: &Path) -> anyhow::Result<[u8; 32]> {
    let reader = BufReader::with_capacity(BUFFER_BYTES, open(path)?);
    let (digest, _) = porchlight_crypto::sha256_reader(reader)
        .with_context(|| format!("hashing {}", path.display()))?;
    Ok(digest)
}

// ---- the report ----

#[derive(Debug)]
struct Report<'a> {
    cli: &'a Cli,
    age: Option<&'a Path>,
    work_dir: &'a Path,
    size_bytes: u64,
    /// Header and payload bytes of the last Porchlight seal.
    sealed: (u64, u64),
    input_sha256: [u8; 32],
    seconds: &'a [(Leg, Vec<f64>)],
    cross_checks: Option<CrossChecks>,
}

impl Report<'_> {
    /// Median, minimum and maximum MB/s of a leg, if it ran.
    fn rates(&self, leg: Leg) -> Option<(f64, f64, f64)> {
        let (_, times) = self.seconds.iter().find(|(l, _)| *l == leg)?;
        let mut rates: Vec<f64> = times
            .iter()
            .map(|s| mb_per_s(self.size_bytes, *s))
            .collect();
        rates.sort_by(f64::total_cmp);
        let (min, max) = (*rates.first()?, *rates.last()?);
        let mid = rates.len() / 2;
        let median = if rates.len() % 2 == 1 {
            rates[mid]
        } else {
            (rates[mid - 1] + rates[mid]) / 2.0
        };
        Some((median, min, max))
    }

    fn median_seconds(&self, leg: Leg) -> Option<f64> {
        self.rates(leg)
            .map(|(median, _, _)| self.size_bytes as f64 / BYTES_PER_MB / median)
    }
}

fn print_report(report: &Report<'_>) {
    let machine = Machine::read(report.work_dir, report.age);
    println!("## Sealing and opening clips: Porchlight vs Go age\n");
    println!("| | |\n|---|---|");
    println!("| CPUs (`nproc`) | {} |", machine.cpus);
    println!(
        "| CPU (`/proc/cpuinfo` model name) | {} |",
        machine.cpu_model
    );
    println!("| CPU flags that matter | {} |", machine.cpu_flags);
    println!("| kernel | {} |", machine.kernel);
    println!(
        "| working folder | `{}` on {} |",
        report.work_dir.display(),
        machine.filesystem
    );
    println!("| Go age | {} |", machine.age_version);
    println!(
        "| input | {} MiB ({} bytes) of random bytes, SHA-256 {}… |",
        report.cli.mib,
        report.size_bytes,
        hex_prefix(&report.input_sha256)
    );
    let (header, payload) = report.sealed;
    println!(
        "| sealed (2 recipients) | header {header} bytes, payload {payload} bytes (+{} over the plaintext) |",
        payload.saturating_sub(report.size_bytes)
    );
    println!(
        "| runs | {} of every leg, interleaved (median and min – max shown) |\n",
        report.cli.runs
    );

    println!("MB/s = plaintext bytes / 10⁶ / wall-clock seconds.\n");
    println!("| leg | what | MB/s (median) | range MB/s | median s |");
    println!("|---|---|---|---|---|");
    for leg in Leg::ALL {
        match (report.rates(leg), report.median_seconds(leg)) {
            (Some((median, min, max)), Some(seconds)) => println!(
                "| {} | {} | **{median:.0}** | {min:.0} – {max:.0} | {seconds:.3} |",
                leg.name(),
                leg.what()
            ),
            _ => println!("| {} | {} | skipped | | |", leg.name(), leg.what()),
        }
    }

    println!("\n| ratio (of medians) | |\n|---|---|");
    let ratios = [
        (Leg::PorchlightSeal, Leg::AgeEncrypt),
        (Leg::PorchlightOpen, Leg::AgeDecrypt),
        (Leg::PorchlightSeal, Leg::Copy),
        (Leg::PorchlightOpen, Leg::Copy),
        (Leg::AgeEncrypt, Leg::Copy),
        (Leg::AgeDecrypt, Leg::Copy),
    ];
    for (top, bottom) in ratios {
        if let (Some((a, _, _)), Some((b, _, _))) = (report.rates(top), report.rates(bottom)) {
            println!("| {} / {} | {:.2} |", top.name(), bottom.name(), a / b);
        }
    }

    println!("\nCorrectness (untimed):\n");
    println!(
        "- every Porchlight open, Go age decrypt and copy output has the input's SHA-256 (every run: {})",
        report.cli.runs
    );
    match report.cross_checks {
        Some(c) => {
            println!(
                "- Go age decrypts Porchlight's header ‖ payload with the recovery key's identity: {}",
                pass(c.age_opens_porchlight)
            );
            println!(
                "- Porchlight's `open_file` opens Go age's file with the device's identity: {}",
                pass(c.porchlight_opens_age)
            );
        }
        None => println!("- interoperability with Go age: skipped (no age binary)"),
    }
}

fn pass(ok: bool) -> &'static str {
    if ok {
        "same SHA-256 ✓"
    } else {
        "MISMATCH ✗"
    }
}

fn hex_prefix(digest: &[u8; 32]) -> String {
    digest.iter().take(8).map(|b| format!("{b:02x}")).collect()
}

/// Best-effort facts about the machine; "unknown" where `/proc` does not say.
#[derive(Debug)]
struct Machine {
    cpus: String,
    cpu_model: String,
    cpu_flags: String,
    kernel: String,
    filesystem: String,
    age_version: String,
}

impl Machine {
    fn read(work_dir: &Path, age: Option<&Path>) -> Self {
        let unknown = || "unknown".to_owned();
        let cpuinfo = fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let field = |name: &str| {
            cpuinfo.lines().find_map(|line| {
                let (key, value) = line.split_once(':')?;
                (key.trim() == name).then(|| value.trim().to_owned())
            })
        };
        let cpu_flags = field("flags").map(|flags| {
            let wanted = ["aes", "avx2", "avx512f", "avx512vl", "sha_ni"];
            let present: Vec<&str> = flags
                .split_whitespace()
                .filter(|f| wanted.contains(f))
                .collect();
            let absent: Vec<&str> = wanted
                .iter()
                .filter(|w| !present.contains(w))
                .copied()
                .collect();
            format!("has {}; lacks {}", present.join(" "), absent.join(" "))
        });
        Self {
            cpus: std::thread::available_parallelism()
                .map_or_else(|_| unknown(), |n| n.to_string()),
            cpu_model: field("model name").unwrap_or_else(unknown),
            cpu_flags: cpu_flags.unwrap_or_else(unknown),
            kernel: fs::read_to_string("/proc/sys/kernel/osrelease")
                .map_or_else(|_| unknown(), |k| k.trim().to_owned()),
            filesystem: filesystem_of(work_dir).unwrap_or_else(unknown),
            age_version: age.map_or_else(
                || "absent: legs skipped".to_owned(),
                |age| {
                    Command::new(age)
                        .arg("--version")
                        .output()
                        .ok()
                        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
                        .filter(|v| !v.is_empty())
                        .map_or_else(unknown, |v| format!("{} {v}", age.display()))
                },
            ),
        }
    }
}
