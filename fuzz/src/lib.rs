//! Fixed keys and a fixed device chain shared by the fuzz targets and the seed writer, so
//! that seeds signed or sealed here are accepted by the targets that check them (the keys
//! are fixed test keys, never used outside fuzzing).

use std::sync::LazyLock;

use porchlight_crypto::{
    ChainBuilder, ChainOp, DeviceSecret, HubSecret, Link, Name, VerifiedChain,
};
use sha2::{Digest, Sha256};

/// A key file (`magic ‖ 0x01 ‖ secrets ‖ checksum`) as `porchlight_crypto::keys` writes it.
fn key_file(magic: &[u8; 4], domain: &[u8], secrets: &[[u8; 32]]) -> Vec<u8> {
    let mut bytes = magic.to_vec();
    bytes.push(1);
    for s in secrets {
        bytes.extend_from_slice(s);
    }
    let check = Sha256::new()
        .chain_update(domain)
        .chain_update(&bytes)
        .finalize();
    bytes.extend_from_slice(&check[..4]);
    bytes
}

/// A device secret from one fixed byte (seed and X25519 secret filled with it).
pub fn device(n: u8) -> DeviceSecret {
    let file = key_file(
        b"PLDS",
        b"porchlight device secret v1\0",
        &[[n; 32], [n.wrapping_add(0x40); 32]],
    );
    match DeviceSecret::from_bytes(&file) {
        Ok(d) => d,
        Err(e) => panic!("fixture device key {n}: {e}"),
    }
}

/// The Ed25519 seed of fixture hub `n` (apart from every device's).
fn hub_seed(n: u8) -> [u8; 32] {
    [0x80 | n; 32]
}

/// A hub secret from one fixed byte.
pub fn hub(n: u8) -> HubSecret {
    let file = key_file(b"PLHS", b"porchlight hub secret v1\0", &[hub_seed(n)]);
    match HubSecret::from_bytes(&file) {
        Ok(h) => h,
        Err(e) => panic!("fixture hub key {n}: {e}"),
    }
}

fn name(s: &str) -> Name {
    match Name::new(s) {
        Ok(n) => n,
        Err(e) => panic!("fixture name {s:?}: {e}"),
    }
}

/// The fixture account: device 1 ("phone") with recovery key device 9, then device 2
/// ("laptop") and hub 1 ("porch") added by device 1.
pub struct Account {
    pub phone: DeviceSecret,
    pub laptop: DeviceSecret,
    pub hub: HubSecret,
    pub links: Vec<Link>,
    pub chain: VerifiedChain,
}

pub static ACCOUNT: LazyLock<Account> = LazyLock::new(|| {
    let phone = device(1);
    let laptop = device(2);
    let recovery = device(9);
    let hub = hub(1);
    let built = (|| {
        let mut builder = ChainBuilder::genesis(&phone, name("phone"), recovery.public())?;
        builder.append(
            ChainOp::AddDevice {
                name: name("laptop"),
                device: laptop.public(),
            },
            &phone,
        )?;
        builder.append(
            ChainOp::AddHub {
                name: name("porch"),
                hub: hub.public(),
            },
            &phone,
        )?;
        Ok::<_, porchlight_crypto::ChainError>(builder)
    })();
    let builder = match built {
        Ok(b) => b,
        Err(e) => panic!("fixture chain: {e}"),
    };
    let links = builder.links().to_vec();
    let chain = builder.chain().clone();
    Account {
        phone,
        laptop,
        hub,
        links,
        chain,
    }
});

/// Splits `data` into pieces each prefixed by a 2-byte big-endian length (a short final piece
/// takes what is left): how targets that take several messages read their input.
pub fn split_u16_prefixed(mut data: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    while data.len() >= 2 {
        let len = usize::from(u16::from_be_bytes([data[0], data[1]]));
        let rest = &data[2..];
        let take = len.min(rest.len());
        out.push(&rest[..take]);
        data = &rest[take..];
    }
    out
}

/// The inverse of [`split_u16_prefixed`], for writing seeds.
pub fn join_u16_prefixed(pieces: &[&[u8]]) -> Vec<u8> {
    let mut out = Vec::new();
    for p in pieces {
        let len = u16::try_from(p.len()).unwrap_or(u16::MAX);
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(&p[..usize::from(len)]);
    }
    out
}

/// Devices 0 to 9 and hubs 0 to 3, made once.
pub static DEVICES: LazyLock<Vec<DeviceSecret>> = LazyLock::new(|| (0..10).map(device).collect());
pub static HUBS: LazyLock<Vec<HubSecret>> = LazyLock::new(|| (0..4).map(hub).collect());

/// Signs `message` with fixture hub `n`'s Ed25519 key directly, as a hub holding its own
/// key could sign anything: targets use it to get fuzzed content past a signature check.
pub fn hub_sign(n: u8, message: &[u8]) -> [u8; 64] {
    use ed25519_dalek::Signer;
    ed25519_dalek::SigningKey::from_bytes(&hub_seed(n))
        .sign(message)
        .to_bytes()
}
