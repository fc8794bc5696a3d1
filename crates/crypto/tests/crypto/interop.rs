//! Interop with Go `age` (Debian's `age` package: `/usr/bin/age`, `/usr/bin/age-keygen`),
//! an implementation independent of the Rust `age` crate this crate builds on. Without the
//! tool installed the tests print why and pass.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use porchlight_crypto::keys::age_public_from_str;
use porchlight_crypto::{DevicePublic, DeviceSecret, open, open_file, read_header, rewrap, seal};

use crate::pseudo_random;

fn tool(name: &str) -> Option<PathBuf> {
    let path = Path::new("/usr/bin").join(name);
    if path.exists() {
        Some(path)
    } else {
        println!(
            "age interop skipped: {} is not installed (apt-get install -y age)",
            path.display()
        );
        None
    }
}

fn write_identity(dir: &Path, file: &str, device: &DeviceSecret) -> PathBuf {
    let path = dir.join(file);
    let mut f = std::fs::File::create(&path).unwrap();
    writeln!(f, "# porchlight test device").unwrap();
    writeln!(f, "{}", device.export_age_identity().as_str()).unwrap();
    path
}

fn age_decrypt(age: &Path, identity: &Path, file: &Path) -> Vec<u8> {
    let out = Command::new(age)
        .arg("-d")
        .arg("-i")
        .arg(identity)
        .arg(file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "age -d failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

#[test]
fn go_age_opens_sealed_and_rewrapped_clips() {
    let Some(age) = tool("age") else { return };
    let dir = tempfile::tempdir().unwrap();
    let phone = DeviceSecret::generate();
    let laptop = DeviceSecret::generate();
    let plaintext = pseudo_random(3 * 65536 + 4321, 11);

    let mut header = Vec::new();
    let mut payload = Vec::new();
    seal(&plaintext[..], &mut header, &mut payload, &[phone.public()]).unwrap();
    let sealed = dir.path().join("clip.age");
    std::fs::write(&sealed, [header.as_slice(), payload.as_slice()].concat()).unwrap();
    let phone_id = write_identity(dir.path(), "phone.txt", &phone);
    assert_eq!(age_decrypt(&age, &phone_id, &sealed), plaintext);

    // Re-wrapped to add the laptop: Go age opens the same payload with the laptop's key.
    let added = rewrap(&header, &phone, &[phone.public(), laptop.public()]).unwrap();
    let rewrapped = dir.path().join("rewrapped.age");
    std::fs::write(&rewrapped, [added.as_slice(), payload.as_slice()].concat()).unwrap();
    let laptop_id = write_identity(dir.path(), "laptop.txt", &laptop);
    assert_eq!(age_decrypt(&age, &laptop_id, &rewrapped), plaintext);
    assert_eq!(age_decrypt(&age, &phone_id, &rewrapped), plaintext);

    // And refuses the laptop once it is dropped again.
    let dropped = rewrap(&added, &laptop, &[phone.public()]).unwrap();
    let dropped_path = dir.path().join("dropped.age");
    std::fs::write(
        &dropped_path,
        [dropped.as_slice(), payload.as_slice()].concat(),
    )
    .unwrap();
    let status = Command::new(&age)
        .arg("-d")
        .arg("-i")
        .arg(&laptop_id)
        .arg(&dropped_path)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(!status.success());
    println!("age interop: Go age opened a sealed and a re-wrapped clip");
}

#[test]
fn porchlight_opens_and_rewraps_go_age_files() {
    let Some(age) = tool("age") else { return };
    let dir = tempfile::tempdir().unwrap();
    let phone = DeviceSecret::generate();
    let laptop = DeviceSecret::generate();
    let plaintext = pseudo_random(2 * 65536 + 17, 12);
    let input = dir.path().join("clip.mp4");
    std::fs::write(&input, &plaintext).unwrap();
    let output = dir.path().join("clip.mp4.age");
    let status = Command::new(&age)
        .arg("-r")
        .arg(phone.public().age_string())
        .arg("-o")
        .arg(&output)
        .arg(&input)
        .status()
        .unwrap();
    assert!(status.success());

    let file = std::fs::read(&output).unwrap();
    let mut opened = Vec::new();
    open_file(&file[..], &phone)
        .unwrap()
        .read_to_end(&mut opened)
        .unwrap();
    assert_eq!(opened, plaintext);

    // Split as the server stores it, re-wrap the Go-made header, open with the new key.
    let mut rest = &file[..];
    let header = read_header(&mut rest).unwrap();
    let added = rewrap(&header, &phone, &[phone.public(), laptop.public()]).unwrap();
    let mut opened = Vec::new();
    open(&added, rest, &laptop)
        .unwrap()
        .read_to_end(&mut opened)
        .unwrap();
    assert_eq!(opened, plaintext);
    println!("age interop: Porchlight opened and re-wrapped a Go age file");
}

#[test]
fn age_keygen_recipients_are_understood() {
    let (Some(age), Some(keygen)) = (tool("age"), tool("age-keygen")) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let key_file = dir.path().join("key.txt");
    let status = Command::new(&keygen)
        .arg("-o")
        .arg(&key_file)
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    let text = std::fs::read_to_string(&key_file).unwrap();
    let recipient = text
        .lines()
        .find_map(|l| l.strip_prefix("# public key: "))
        .unwrap();
    let secret_line = text
        .lines()
        .find(|l| l.starts_with("AGE-SECRET-KEY-1"))
        .unwrap();
    assert!(porchlight_crypto::keys::age_secret_from_str(secret_line).is_ok());

    let device = DevicePublic::from_bytes(
        *DeviceSecret::generate().public().sign(),
        age_public_from_str(recipient).unwrap(),
    )
    .unwrap();
    assert_eq!(device.age_string(), recipient);
    let mut header = Vec::new();
    let mut payload = Vec::new();
    seal(&b"hello, porch"[..], &mut header, &mut payload, &[device]).unwrap();
    let sealed = dir.path().join("hello.age");
    std::fs::write(&sealed, [header, payload].concat()).unwrap();
    assert_eq!(age_decrypt(&age, &key_file, &sealed), b"hello, porch");
}
