//! Encodings, hashes, UUIDs and the crypto functions (sprig's `crypto.go` and the
//! encoding part of `strings.go`), with Kanister's FIPS replacements.

use base64::Engine;
use kapsel_govalue::{FuncError, Value};
use sha1::Digest;

use crate::conv::{arg_bytes, arg_str, bytes_to_string};

type R = Result<Value, FuncError>;

fn s(v: impl Into<String>) -> R {
    Ok(Value::string(v.into()))
}

/// Kanister's `UnsupportedSprigUsageErr` message.
pub(crate) fn fips_error(usage: &str) -> FuncError {
    FuncError::new(format!(
        "sprig usage of '{usage}' is not allowed by kanister as it is not FIPS compatible"
    ))
}

/// The error for functions whose Go implementation needs RSA, ECDSA, X.509 or AES.
pub(crate) fn not_supported(name: &str) -> FuncError {
    FuncError::new(format!(
        "kapsel: sprig function '{name}' is not supported by Kapsel yet"
    ))
}

pub(crate) fn b64enc(a: &[Value]) -> R {
    s(base64::engine::general_purpose::STANDARD.encode(arg_bytes(a, 0)?))
}

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

fn b64_val(c: u8) -> Option<u8> {
    B64.iter().position(|x| *x == c).map(|p| p as u8)
}

/// Go's `base64.StdEncoding.DecodeString`, with Go's error offsets.
pub(crate) fn go_b64_decode(src: &[u8]) -> Result<Vec<u8>, usize> {
    let mut out = Vec::with_capacity(src.len() / 4 * 3);
    let mut si = 0usize;
    while si < src.len() {
        let mut dbuf = [0u8; 4];
        let mut dlen = 4;
        let mut j = 0usize;
        let mut err: Option<usize> = None;
        while j < 4 {
            if si == src.len() {
                if j == 0 {
                    return Ok(out);
                }
                return Err(si - j);
            }
            let c = src[si];
            si += 1;
            if let Some(v) = b64_val(c) {
                dbuf[j] = v;
                j += 1;
                continue;
            }
            if c == b'\n' || c == b'\r' {
                continue;
            }
            if c != b'=' {
                return Err(si - 1);
            }
            match j {
                0 | 1 => return Err(si - 1),
                2 => {
                    while si < src.len() && (src[si] == b'\n' || src[si] == b'\r') {
                        si += 1;
                    }
                    if si == src.len() {
                        return Err(src.len());
                    }
                    if src[si] != b'=' {
                        return Err(si - 1);
                    }
                    si += 1;
                }
                _ => {}
            }
            while si < src.len() && (src[si] == b'\n' || src[si] == b'\r') {
                si += 1;
            }
            if si < src.len() {
                err = Some(si);
            }
            dlen = j;
            break;
        }
        let val = u32::from(dbuf[0]) << 18
            | u32::from(dbuf[1]) << 12
            | u32::from(dbuf[2]) << 6
            | u32::from(dbuf[3]);
        let bytes = [(val >> 16) as u8, (val >> 8) as u8, val as u8];
        out.extend_from_slice(&bytes[..dlen - 1]);
        if let Some(e) = err {
            return Err(e);
        }
    }
    Ok(out)
}

pub(crate) fn b64dec(a: &[Value]) -> R {
    match go_b64_decode(arg_bytes(a, 0)?) {
        Ok(b) => Ok(Value::string(b)),
        Err(at) => s(format!("illegal base64 data at input byte {at}")),
    }
}

const B32: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

pub(crate) fn b32enc(a: &[Value]) -> R {
    let src = arg_bytes(a, 0)?;
    let mut out = String::new();
    for chunk in src.chunks(5) {
        let mut buf = [0u8; 5];
        buf[..chunk.len()].copy_from_slice(chunk);
        let n = u64::from(buf[0]) << 32
            | u64::from(buf[1]) << 24
            | u64::from(buf[2]) << 16
            | u64::from(buf[3]) << 8
            | u64::from(buf[4]);
        let chars = match chunk.len() {
            1 => 2,
            2 => 4,
            3 => 5,
            4 => 7,
            _ => 8,
        };
        for i in 0..8 {
            if i < chars {
                out.push(char::from(B32[((n >> (35 - 5 * i)) & 31) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    s(out)
}

/// Go's `base32.StdEncoding.DecodeString`, with Go's error offsets.
pub(crate) fn go_b32_decode(input: &[u8]) -> Result<Vec<u8>, usize> {
    let stripped: Vec<u8> = input
        .iter()
        .copied()
        .filter(|c| *c != b'\n' && *c != b'\r')
        .collect();
    let olen = stripped.len();
    let mut src: &[u8] = &stripped;
    let mut out = Vec::new();
    let mut end = false;
    while !src.is_empty() && !end {
        let mut dbuf = [0u8; 8];
        let mut dlen = 8;
        let mut j = 0usize;
        while j < 8 {
            if src.is_empty() {
                return Err(olen - j);
            }
            let c = src[0];
            src = &src[1..];
            if c == b'=' && j >= 2 && src.len() < 8 {
                if src.len() + j < 7 {
                    return Err(olen);
                }
                for k in 0..(7 - j) {
                    if src.len() > k && src[k] != b'=' {
                        return Err(olen - src.len() + k - 1);
                    }
                }
                dlen = j;
                end = true;
                if matches!(dlen, 1 | 3 | 6) {
                    return Err(olen - src.len() - 1);
                }
                break;
            }
            match B32.iter().position(|x| *x == c) {
                Some(v) => dbuf[j] = v as u8,
                None => return Err(olen - src.len() - 1),
            }
            j += 1;
        }
        let d = dbuf;
        let bytes = [
            d[0] << 3 | d[1] >> 2,
            d[1] << 6 | d[2] << 1 | d[3] >> 4,
            d[3] << 4 | d[4] >> 1,
            d[4] << 7 | d[5] << 2 | d[6] >> 3,
            d[6] << 5 | d[7],
        ];
        let n = match dlen {
            8 => 5,
            7 => 4,
            5 => 3,
            4 => 2,
            2 => 1,
            _ => 0,
        };
        out.extend_from_slice(&bytes[..n]);
    }
    Ok(out)
}

pub(crate) fn b32dec(a: &[Value]) -> R {
    match go_b32_decode(arg_bytes(a, 0)?) {
        Ok(b) => Ok(Value::string(b)),
        Err(at) => s(format!("illegal base32 data at input byte {at}")),
    }
}

pub(crate) fn sha1sum(a: &[Value]) -> R {
    s(hex::encode(sha1::Sha1::digest(arg_bytes(a, 0)?)))
}

pub(crate) fn sha256sum(a: &[Value]) -> R {
    s(hex::encode(sha2::Sha256::digest(arg_bytes(a, 0)?)))
}

/// Adler-32 as Go's `hash/adler32` computes it.
pub(crate) fn adler32(data: &[u8]) -> u32 {
    let (mut a, mut b) = (1u32, 0u32);
    for chunk in data.chunks(5552) {
        for x in chunk {
            a += u32::from(*x);
            b += a;
        }
        a %= 65521;
        b %= 65521;
    }
    b << 16 | a
}

pub(crate) fn adler32sum(a: &[Value]) -> R {
    s(adler32(arg_bytes(a, 0)?).to_string())
}

pub(crate) fn uuidv4(_: &[Value]) -> R {
    s(uuid::Uuid::new_v4().to_string())
}

/// Kanister's `genPrivateKey`: rsa and ecdsa go to sprig (Kapsel does ecdsa,
/// P-256 as sprig; not rsa yet), other types are refused as not FIPS
/// compatible; sprig v2.22 itself answers `Unknown type ed25519`.
pub(crate) fn gen_private_key(a: &[Value]) -> R {
    match &*arg_str(a, 0)? {
        "rsa" => Err(not_supported("genPrivateKey")),
        "ecdsa" => s(crate::p256::pem(
            "EC PRIVATE KEY",
            &crate::p256::generate_der(),
        )),
        "ed25519" => s("Unknown type ed25519"),
        other => Err(fips_error(&format!("genPrivateKey for {other}"))),
    }
}

pub(crate) fn derive_password(_: &[Value]) -> R {
    Err(fips_error("derivePassword"))
}

pub(crate) fn build_custom_cert(a: &[Value]) -> R {
    if go_b64_decode(arg_bytes(a, 0)?).is_err() {
        return Err(FuncError::new("unable to decode base64 certificate"));
    }
    if go_b64_decode(arg_str(a, 1)?.as_bytes()).is_err() {
        return Err(FuncError::new("unable to decode base64 private key"));
    }
    Err(not_supported("buildCustomCert"))
}

pub(crate) fn gen_ca(_: &[Value]) -> R {
    Err(not_supported("genCA"))
}

pub(crate) fn gen_self_signed_cert(_: &[Value]) -> R {
    Err(not_supported("genSelfSignedCert"))
}

pub(crate) fn gen_signed_cert(_: &[Value]) -> R {
    Err(not_supported("genSignedCert"))
}

/// The AES key sprig derives from a password: its bytes, cut or zero-padded
/// to 32.
fn aes_key(password: &str) -> crate::aes::Aes256 {
    let mut key = [0u8; 32];
    let p = password.as_bytes();
    let n = p.len().min(32);
    key[..n].copy_from_slice(&p[..n]);
    crate::aes::Aes256::new(&key)
}

/// Sprig's `encryptAES`: AES-256-CBC with a random IV in front, padded with
/// N bytes of value N, base64.
pub(crate) fn encrypt_aes(a: &[Value]) -> R {
    use rand::RngCore;
    let password = &*arg_str(a, 0)?;
    let plaintext = &*arg_str(a, 1)?;
    if plaintext.is_empty() {
        return s("");
    }
    let aes = aes_key(password);
    let mut content = plaintext.as_bytes().to_vec();
    let padding = 16 - content.len() % 16;
    content.extend(std::iter::repeat_n(padding as u8, padding));
    let mut out = vec![0u8; 16];
    rand::rng().fill_bytes(&mut out);
    let mut prev = [0u8; 16];
    prev.copy_from_slice(&out);
    for chunk in content.chunks(16) {
        let mut block = [0u8; 16];
        for (i, b) in block.iter_mut().enumerate() {
            *b = chunk[i] ^ prev[i];
        }
        aes.encrypt_block(&mut block);
        out.extend_from_slice(&block);
        prev = block;
    }
    s(base64::engine::general_purpose::STANDARD.encode(out))
}

/// Sprig's `decryptAES`, with Go's panics for malformed input as errors.
pub(crate) fn decrypt_aes(a: &[Value]) -> R {
    let password = &*arg_str(a, 0)?;
    let crypt64 = &*arg_str(a, 1)?;
    if crypt64.is_empty() {
        return s("");
    }
    let crypt = go_b64_decode(crypt64.as_bytes())
        .map_err(|at| FuncError::new(format!("illegal base64 data at input byte {at}")))?;
    if crypt.len() < 16 {
        // Go slices the decode buffer, whose capacity is DecodedLen(len(s)).
        return Err(FuncError::new(format!(
            "runtime error: slice bounds out of range [:16] with capacity {}",
            crypt64.len() / 4 * 3
        )));
    }
    let (iv, body) = crypt.split_at(16);
    if body.len() % 16 != 0 {
        return Err(FuncError::new("crypto/cipher: input not full blocks"));
    }
    let aes = aes_key(password);
    let mut prev = [0u8; 16];
    prev.copy_from_slice(iv);
    let mut plain = Vec::with_capacity(body.len());
    for chunk in body.chunks(16) {
        let mut block = [0u8; 16];
        block.copy_from_slice(chunk);
        aes.decrypt_block(&mut block);
        for (b, p) in block.iter_mut().zip(prev) {
            *b ^= p;
        }
        plain.extend_from_slice(&block);
        prev.copy_from_slice(chunk);
    }
    let Some(last) = plain.last() else {
        return Err(FuncError::new("runtime error: index out of range [-1]"));
    };
    let end = plain.len() as i64 - i64::from(*last);
    if end < 0 {
        return Err(FuncError::new(format!(
            "runtime error: slice bounds out of range [:{end}]"
        )));
    }
    s(bytes_to_string(&plain[..end as usize]))
}
