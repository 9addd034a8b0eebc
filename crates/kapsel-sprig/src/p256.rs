//! NIST P-256 key generation for `genPrivateKey "ecdsa"`: a random private
//! scalar, its public point, and Go's `x509.MarshalECPrivateKey` DER (SEC 1
//! `ECPrivateKey` with the named curve and the public key) in an
//! `EC PRIVATE KEY` PEM block. Plain Montgomery arithmetic over 4×64-bit limbs;
//! not hardened against timing attacks.

type Fe = [u64; 4];

/// The field prime p = 2^256 - 2^224 + 2^192 + 2^96 - 1 (little-endian limbs).
const P: Fe = [
    0xFFFF_FFFF_FFFF_FFFF,
    0x0000_0000_FFFF_FFFF,
    0x0000_0000_0000_0000,
    0xFFFF_FFFF_0000_0001,
];
/// The group order n.
const N: Fe = [
    0xF3B9_CAC2_FC63_2551,
    0xBCE6_FAAD_A717_9E84,
    0xFFFF_FFFF_FFFF_FFFF,
    0xFFFF_FFFF_0000_0000,
];
/// The curve coefficient b.
#[cfg(test)]
const B: Fe = [
    0x3BCE_3C3E_27D2_604B,
    0x651D_06B0_CC53_B0F6,
    0xB3EB_BD55_7698_86BC,
    0x5AC6_35D8_AA3A_93E7,
];
const GX: Fe = [
    0xF4A1_3945_D898_C296,
    0x7703_7D81_2DEB_33A0,
    0xF8BC_E6E5_63A4_40F2,
    0x6B17_D1F2_E12C_4247,
];
const GY: Fe = [
    0xCBB6_4068_37BF_51F5,
    0x2BCE_3357_6B31_5ECE,
    0x8EE7_EB4A_7C0F_9E16,
    0x4FE3_42E2_FE1A_7F9B,
];

fn geq(a: &Fe, b: &Fe) -> bool {
    for i in (0..4).rev() {
        if a[i] != b[i] {
            return a[i] > b[i];
        }
    }
    true
}

fn sub_raw(a: &Fe, b: &Fe) -> (Fe, bool) {
    let mut out = [0u64; 4];
    let mut borrow = false;
    for i in 0..4 {
        let (d1, b1) = a[i].overflowing_sub(b[i]);
        let (d2, b2) = d1.overflowing_sub(u64::from(borrow));
        out[i] = d2;
        borrow = b1 || b2;
    }
    (out, borrow)
}

fn add_mod(a: &Fe, b: &Fe) -> Fe {
    let mut out = [0u64; 4];
    let mut carry = false;
    for i in 0..4 {
        let (s1, c1) = a[i].overflowing_add(b[i]);
        let (s2, c2) = s1.overflowing_add(u64::from(carry));
        out[i] = s2;
        carry = c1 || c2;
    }
    if carry || geq(&out, &P) {
        sub_raw(&out, &P).0
    } else {
        out
    }
}

fn sub_mod(a: &Fe, b: &Fe) -> Fe {
    let (d, borrow) = sub_raw(a, b);
    if borrow {
        let mut out = [0u64; 4];
        let mut carry = false;
        for i in 0..4 {
            let (s1, c1) = d[i].overflowing_add(P[i]);
            let (s2, c2) = s1.overflowing_add(u64::from(carry));
            out[i] = s2;
            carry = c1 || c2;
        }
        out
    } else {
        d
    }
}

/// -p^-1 mod 2^64.
fn m0inv() -> u64 {
    let mut inv: u64 = 1;
    for _ in 0..6 {
        inv = inv.wrapping_mul(2u64.wrapping_sub(P[0].wrapping_mul(inv)));
    }
    inv.wrapping_neg()
}

/// Montgomery product a·b·2^-256 mod p (CIOS).
fn mont_mul(a: &Fe, b: &Fe) -> Fe {
    let k = m0inv();
    let mut t = [0u64; 6];
    for &bi in b {
        let mut c: u128 = 0;
        for j in 0..4 {
            let s = u128::from(t[j]) + u128::from(a[j]) * u128::from(bi) + c;
            t[j] = s as u64;
            c = s >> 64;
        }
        let s = u128::from(t[4]) + c;
        t[4] = s as u64;
        t[5] = (s >> 64) as u64;
        let m = t[0].wrapping_mul(k);
        let s = u128::from(t[0]) + u128::from(m) * u128::from(P[0]);
        let mut c = s >> 64;
        for j in 1..4 {
            let s = u128::from(t[j]) + u128::from(m) * u128::from(P[j]) + c;
            t[j - 1] = s as u64;
            c = s >> 64;
        }
        let s = u128::from(t[4]) + c;
        t[3] = s as u64;
        t[4] = t[5] + (s >> 64) as u64;
        t[5] = 0;
    }
    let r = [t[0], t[1], t[2], t[3]];
    if t[4] != 0 || geq(&r, &P) {
        sub_raw(&r, &P).0
    } else {
        r
    }
}

/// 2^512 mod p, to enter the Montgomery domain.
fn r2() -> Fe {
    let mut x: Fe = [1, 0, 0, 0];
    for _ in 0..512 {
        x = add_mod(&x, &x);
    }
    x
}

fn to_mont(a: &Fe) -> Fe {
    mont_mul(a, &r2())
}

fn from_mont(a: &Fe) -> Fe {
    mont_mul(a, &[1, 0, 0, 0])
}

/// a^(p-2): the inverse of a (Montgomery form in and out).
fn inv(a: &Fe) -> Fe {
    let e = sub_raw(&P, &[2, 0, 0, 0]).0;
    let mut result = to_mont(&[1, 0, 0, 0]);
    for i in (0..256).rev() {
        result = mont_mul(&result, &result);
        if (e[i / 64] >> (i % 64)) & 1 == 1 {
            result = mont_mul(&result, a);
        }
    }
    result
}

fn is_zero(a: &Fe) -> bool {
    a.iter().all(|x| *x == 0)
}

/// A point in Jacobian coordinates (Montgomery form); z = 0 is infinity.
#[derive(Clone, Copy)]
struct Jac {
    x: Fe,
    y: Fe,
    z: Fe,
}

fn double(p: &Jac) -> Jac {
    if is_zero(&p.z) {
        return *p;
    }
    // dbl-2001-b (a = -3)
    let delta = mont_mul(&p.z, &p.z);
    let gamma = mont_mul(&p.y, &p.y);
    let beta = mont_mul(&p.x, &gamma);
    let t1 = sub_mod(&p.x, &delta);
    let t2 = add_mod(&p.x, &delta);
    let t3 = mont_mul(&t1, &t2);
    let alpha = add_mod(&add_mod(&t3, &t3), &t3);
    let beta4 = add_mod(&add_mod(&beta, &beta), &add_mod(&beta, &beta));
    let beta8 = add_mod(&beta4, &beta4);
    let x3 = sub_mod(&mont_mul(&alpha, &alpha), &beta8);
    let yz = add_mod(&p.y, &p.z);
    let z3 = sub_mod(&sub_mod(&mont_mul(&yz, &yz), &gamma), &delta);
    let g2 = mont_mul(&gamma, &gamma);
    let g8 = {
        let g2x2 = add_mod(&g2, &g2);
        let g2x4 = add_mod(&g2x2, &g2x2);
        add_mod(&g2x4, &g2x4)
    };
    let y3 = sub_mod(&mont_mul(&alpha, &sub_mod(&beta4, &x3)), &g8);
    Jac {
        x: x3,
        y: y3,
        z: z3,
    }
}

fn add(p: &Jac, q: &Jac) -> Jac {
    if is_zero(&p.z) {
        return *q;
    }
    if is_zero(&q.z) {
        return *p;
    }
    let z1z1 = mont_mul(&p.z, &p.z);
    let z2z2 = mont_mul(&q.z, &q.z);
    let u1 = mont_mul(&p.x, &z2z2);
    let u2 = mont_mul(&q.x, &z1z1);
    let s1 = mont_mul(&mont_mul(&p.y, &q.z), &z2z2);
    let s2 = mont_mul(&mont_mul(&q.y, &p.z), &z1z1);
    let h = sub_mod(&u2, &u1);
    let r = sub_mod(&s2, &s1);
    if is_zero(&h) {
        if is_zero(&r) {
            return double(p);
        }
        return Jac {
            x: to_mont(&[1, 0, 0, 0]),
            y: to_mont(&[1, 0, 0, 0]),
            z: [0; 4],
        };
    }
    let hh = mont_mul(&h, &h);
    let hhh = mont_mul(&h, &hh);
    let v = mont_mul(&u1, &hh);
    let x3 = sub_mod(&sub_mod(&mont_mul(&r, &r), &hhh), &add_mod(&v, &v));
    let y3 = sub_mod(&mont_mul(&r, &sub_mod(&v, &x3)), &mont_mul(&s1, &hhh));
    let z3 = mont_mul(&mont_mul(&p.z, &q.z), &h);
    Jac {
        x: x3,
        y: y3,
        z: z3,
    }
}

/// d·G in affine coordinates (big-endian bytes), for 0 < d < n.
fn public_point(d: &Fe) -> ([u8; 32], [u8; 32]) {
    let one = to_mont(&[1, 0, 0, 0]);
    let g = Jac {
        x: to_mont(&GX),
        y: to_mont(&GY),
        z: one,
    };
    let mut acc = Jac {
        x: one,
        y: one,
        z: [0; 4],
    };
    for i in (0..256).rev() {
        acc = double(&acc);
        if (d[i / 64] >> (i % 64)) & 1 == 1 {
            acc = add(&acc, &g);
        }
    }
    let zi = inv(&acc.z);
    let zi2 = mont_mul(&zi, &zi);
    let x = from_mont(&mont_mul(&acc.x, &zi2));
    let y = from_mont(&mont_mul(&acc.y, &mont_mul(&zi2, &zi)));
    (to_be(&x), to_be(&y))
}

fn to_be(a: &Fe) -> [u8; 32] {
    let mut out = [0u8; 32];
    for (i, limb) in a.iter().enumerate() {
        out[32 - 8 * (i + 1)..32 - 8 * i].copy_from_slice(&limb.to_be_bytes());
    }
    out
}

fn from_be(b: &[u8; 32]) -> Fe {
    let mut out = [0u64; 4];
    for (i, limb) in out.iter_mut().enumerate() {
        let mut w = [0u8; 8];
        w.copy_from_slice(&b[32 - 8 * (i + 1)..32 - 8 * i]);
        *limb = u64::from_be_bytes(w);
    }
    out
}

/// Is (x, y) on the curve y² = x³ - 3x + b?
#[cfg(test)]
fn on_curve(x: &[u8; 32], y: &[u8; 32]) -> bool {
    let (x, y) = (to_mont(&from_be(x)), to_mont(&from_be(y)));
    let x3 = mont_mul(&mont_mul(&x, &x), &x);
    let three_x = add_mod(&add_mod(&x, &x), &x);
    let rhs = add_mod(&sub_mod(&x3, &three_x), &to_mont(&B));
    mont_mul(&y, &y) == rhs
}

/// A new key: the DER of Go's `x509.MarshalECPrivateKey`.
pub(crate) fn generate_der() -> Vec<u8> {
    use rand::RngCore;
    let mut rng = rand::rng();
    let d = loop {
        let mut bytes = [0u8; 32];
        rng.fill_bytes(&mut bytes);
        let d = from_be(&bytes);
        if !is_zero(&d) && !geq(&d, &N) {
            break bytes;
        }
    };
    der_for(&d)
}

/// The `ECPrivateKey` DER for the private scalar `d` (big-endian).
pub(crate) fn der_for(d: &[u8; 32]) -> Vec<u8> {
    let (x, y) = public_point(&from_be(d));
    let mut der = vec![0x30, 0x77, 0x02, 0x01, 0x01, 0x04, 0x20];
    der.extend_from_slice(d);
    // [0] namedCurve prime256v1 (1.2.840.10045.3.1.7)
    der.extend_from_slice(&[
        0xa0, 0x0a, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07,
    ]);
    // [1] publicKey BIT STRING, uncompressed point
    der.extend_from_slice(&[0xa1, 0x44, 0x03, 0x42, 0x00, 0x04]);
    der.extend_from_slice(&x);
    der.extend_from_slice(&y);
    der
}

/// Go's `pem.EncodeToMemory` of a block without headers.
pub(crate) fn pem(kind: &str, der: &[u8]) -> String {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = format!("-----BEGIN {kind}-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(chunk));
        out.push('\n');
    }
    out.push_str(&format!("-----END {kind}-----\n"));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex32(s: &str) -> [u8; 32] {
        let v = hex::decode(s).unwrap();
        let mut out = [0u8; 32];
        out.copy_from_slice(&v);
        out
    }

    #[test]
    fn generator_multiples_match_known_points() {
        let one = hex32("0000000000000000000000000000000000000000000000000000000000000001");
        let (x, y) = public_point(&from_be(&one));
        assert_eq!(x, to_be(&GX));
        assert_eq!(y, to_be(&GY));
        let two = hex32("0000000000000000000000000000000000000000000000000000000000000002");
        let (x, y) = public_point(&from_be(&two));
        assert_eq!(
            hex::encode(x),
            "7cf27b188d034f7e8a52380304b51ac3c08969e277f21b35a60b48fc47669978"
        );
        assert_eq!(
            hex::encode(y),
            "07775510db8ed040293d9ac69f7430dbba7dade63ce982299e04b79d227873d1"
        );
        // n-1 gives -G: same x, y = p - Gy
        let nm1 = to_be(&sub_raw(&N, &[1, 0, 0, 0]).0);
        let (x, y) = public_point(&from_be(&nm1));
        assert_eq!(x, to_be(&GX));
        assert_eq!(y, to_be(&sub_raw(&P, &GY).0));
    }

    #[test]
    fn generated_keys_are_on_the_curve() {
        for _ in 0..4 {
            let der = generate_der();
            assert_eq!(der.len(), 121);
            let x: [u8; 32] = der[57..89].try_into().unwrap();
            let y: [u8; 32] = der[89..121].try_into().unwrap();
            assert!(on_curve(&x, &y));
        }
        assert!(!on_curve(&to_be(&GX), &to_be(&GX)));
    }
}
