//! jsonwebtoken's [`CryptoProvider`] backed by `ring`, which rustls already
//! links in for the JWKS and Secrets Manager clients.
//!
//! Verification only needs what `JWT_ALGORITHMS` can name: HMAC (HS256/384/512,
//! constant-time comparison by `ring::hmac::verify`), RSA PKCS#1 v1.5
//! (RS256/384/512) and PSS (PS256/384/512) with 2048- to 8192-bit moduli, and
//! ECDSA over P-256 (ES256) and P-384 (ES384) with the JWS fixed-width `r‖s`
//! signature. EdDSA is refused by the configuration and refused here too.
//!
//! The function never signs a token, so signing answers an error, as do the
//! JWK utilities that would derive public keys from private ones; nothing
//! here panics.
//!
//! [`crate::identity::jwt::verify`] verifies tokens with jsonwebtoken's
//! `decode`, which reaches ring through this provider.
//! jsonwebtoken picks its provider once per process: a `decode` before
//! [`install`] would fix a panicking placeholder for good. [`install`] is
//! therefore called where the token path starts ([`crate::identity::jwt::keys_from_jwks`],
//! the `jwt` validator's constructor and [`crate::identity::jwt::verify`] itself), so no
//! caller (tests and benches skip `main`) can reach jsonwebtoken first.

use std::sync::Once;

use jsonwebtoken::crypto::{CryptoProvider, JwtVerifier, KeyUtils};
use jsonwebtoken::errors::{Error, ErrorKind};
use jsonwebtoken::jwk::{EllipticCurve, ThumbprintHash};
use jsonwebtoken::signature::{self, Verifier};
use jsonwebtoken::{Algorithm, DecodingKey, DecodingKeyKind};
use ring::signature::{
    EcdsaVerificationAlgorithm, RsaParameters, RsaPublicKeyComponents, UnparsedPublicKey, ECDSA_P256_SHA256_FIXED,
    ECDSA_P384_SHA384_FIXED, RSA_PKCS1_2048_8192_SHA256, RSA_PKCS1_2048_8192_SHA384, RSA_PKCS1_2048_8192_SHA512,
    RSA_PSS_2048_8192_SHA256, RSA_PSS_2048_8192_SHA384, RSA_PSS_2048_8192_SHA512,
};

/// Smallest RSA modulus ring verifies, in bits.
pub(crate) const RSA_MIN_BITS: usize = 2048;
/// Largest RSA modulus ring verifies, in bits.
pub(crate) const RSA_MAX_BITS: usize = 8192;

/// The provider.
pub(crate) static PROVIDER: CryptoProvider = CryptoProvider {
    signer_factory: |_, _| Err(ErrorKind::InvalidAlgorithm.into()),
    verifier_factory: verifier,
    key_utils: KeyUtils {
        rsa_pub_components_from_private_key: |_| Err(ErrorKind::InvalidAlgorithm.into()),
        rsa_pub_components_from_public_key: |_| Err(ErrorKind::InvalidAlgorithm.into()),
        ec_pub_components_from_private_key: |_, _| Err(ErrorKind::InvalidAlgorithm.into()),
        ed_pub_components_from_private_key: |_, _: &EllipticCurve| Err(ErrorKind::InvalidAlgorithm.into()),
        compute_digest: |_, _: ThumbprintHash| Err(ErrorKind::InvalidAlgorithm.into()),
    },
};

/// Makes [`PROVIDER`] jsonwebtoken's process-wide provider, once. Cheap after
/// the first call (one atomic load).
pub(crate) fn install() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        if PROVIDER.install_default().is_err() {
            // Only code outside this crate installing its own provider first
            // can get here; jsonwebtoken then uses that one.
            tracing::warn!("another jsonwebtoken CryptoProvider was installed first; ring provider not in use");
        }
    });
}

/// Whether ring accepts `(n, e)` as an RSA verification key: a modulus of
/// 2048 to 8192 bits and an odd exponent from 3 to 2^33 − 1, both big-endian
/// (leading zero bytes are allowed here and stripped by [`rsa_key`]).
pub(crate) fn rsa_key_usable(n: &[u8], e: &[u8]) -> bool {
    let (n, e) = (strip_zeros(n), strip_zeros(e));
    let bits = |b: &[u8]| b.first().map_or(0, |top| (b.len() - 1) * 8 + (8 - top.leading_zeros() as usize));
    let (n_bits, e_bits) = (bits(n), bits(e));
    let e_value = e.iter().fold(0u64, |acc, b| acc.checked_shl(8).unwrap_or(u64::MAX) | u64::from(*b));
    (RSA_MIN_BITS..=RSA_MAX_BITS).contains(&n_bits)
        && e_bits <= 33
        && e_value >= 3
        && e_value % 2 == 1
        && n.last().is_some_and(|low| low % 2 == 1)
}

/// The same key with leading zero bytes stripped from `n` and `e` (ring wants none).
pub(crate) fn rsa_key(n: &[u8], e: &[u8]) -> DecodingKey {
    DecodingKey::from_rsa_raw_components(strip_zeros(n), strip_zeros(e))
}

fn strip_zeros(b: &[u8]) -> &[u8] {
    let first = b.iter().position(|x| *x != 0).unwrap_or(b.len());
    &b[first..]
}

fn hmac_algorithm(alg: Algorithm) -> Option<ring::hmac::Algorithm> {
    match alg {
        Algorithm::HS256 => Some(ring::hmac::HMAC_SHA256),
        Algorithm::HS384 => Some(ring::hmac::HMAC_SHA384),
        Algorithm::HS512 => Some(ring::hmac::HMAC_SHA512),
        _ => None,
    }
}

fn rsa_parameters(alg: Algorithm) -> Option<&'static RsaParameters> {
    Some(match alg {
        Algorithm::RS256 => &RSA_PKCS1_2048_8192_SHA256,
        Algorithm::RS384 => &RSA_PKCS1_2048_8192_SHA384,
        Algorithm::RS512 => &RSA_PKCS1_2048_8192_SHA512,
        Algorithm::PS256 => &RSA_PSS_2048_8192_SHA256,
        Algorithm::PS384 => &RSA_PSS_2048_8192_SHA384,
        Algorithm::PS512 => &RSA_PSS_2048_8192_SHA512,
        _ => return None,
    })
}

fn ecdsa_algorithm(alg: Algorithm) -> Option<&'static EcdsaVerificationAlgorithm> {
    match alg {
        Algorithm::ES256 => Some(&ECDSA_P256_SHA256_FIXED),
        Algorithm::ES384 => Some(&ECDSA_P384_SHA384_FIXED),
        _ => None,
    }
}

/// Checks `signature` over `message` with `key` for `alg`, borrowing the key
/// (no copy per token): `Some(true)` when it holds, `Some(false)` when it does
/// not, `None` when the key cannot verify `alg` (another family or key form;
/// RSA keys as DER are never built here; EdDSA is not offered).
fn verify_signature(alg: Algorithm, key: &DecodingKey, message: &[u8], signature: &[u8]) -> Option<bool> {
    if key.family() != alg.family() {
        return None;
    }
    let verified = match (key.kind(), hmac_algorithm(alg), rsa_parameters(alg), ecdsa_algorithm(alg)) {
        (DecodingKeyKind::SecretOrDer(secret), Some(hmac), _, _) => {
            ring::hmac::verify(&ring::hmac::Key::new(hmac, secret), message, signature)
        }
        (DecodingKeyKind::RsaModulusExponent { n, e }, _, Some(params), _) => {
            RsaPublicKeyComponents { n, e }.verify(params, message, signature)
        }
        (DecodingKeyKind::SecretOrDer(point), _, _, Some(ecdsa)) => {
            UnparsedPublicKey::new(ecdsa, point).verify(message, signature)
        }
        _ => return None,
    };
    Some(verified.is_ok())
}

/// jsonwebtoken's verifier: [`verify_signature`] for one algorithm and key
/// of its family (a key that cannot verify it fails every signature).
struct RingVerifier {
    alg: Algorithm,
    key: DecodingKey,
}

fn verifier(alg: &Algorithm, key: &DecodingKey) -> Result<Box<dyn JwtVerifier>, Error> {
    if key.family() != alg.family() {
        return Err(ErrorKind::InvalidAlgorithm.into());
    }
    Ok(Box::new(RingVerifier { alg: *alg, key: key.clone() }))
}

impl Verifier<Vec<u8>> for RingVerifier {
    fn verify(&self, message: &[u8], signature: &Vec<u8>) -> Result<(), signature::Error> {
        let ok = verify_signature(self.alg, &self.key, message, signature) == Some(true);
        ok.then_some(()).ok_or_else(signature::Error::new)
    }
}

impl JwtVerifier for RingVerifier {
    fn algorithm(&self) -> Algorithm {
        self.alg
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rsa_key_sizes_and_exponents() {
        let n2048 = [&[0xc1u8][..], &[0x55; 254], &[0x01]].concat();
        assert_eq!(n2048.len(), 256);
        assert!(rsa_key_usable(&n2048, &[1, 0, 1]));
        assert!(rsa_key_usable(&[&[0u8][..], &n2048].concat(), &[0, 1, 0, 1]), "leading zeros are stripped");
        let n1024 = &n2048[128..];
        assert!(!rsa_key_usable(&[&[0xc1u8][..], n1024].concat(), &[1, 0, 1]));
        let n2047 = [&[0x41u8][..], &n2048[1..]].concat();
        assert!(!rsa_key_usable(&n2047, &[1, 0, 1]), "2047 bits");
        assert!(!rsa_key_usable(&n2048, &[1, 0, 0]), "even exponent");
        assert!(!rsa_key_usable(&n2048, &[1]), "exponent 1");
        assert!(!rsa_key_usable(&n2048, &[2, 0, 0, 0, 1]), "exponent of 34 bits");
        assert!(!rsa_key_usable(&n2048[..255], &[1, 0, 1]), "even modulus");
        assert!(!rsa_key_usable(&[0u8; 300], &[1, 0, 1]));
    }

    #[test]
    fn hmac_sign_and_verify_round_trip_and_family_mismatch_is_refused() {
        let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA384, b"0123456789abcdef0123456789abcdef");
        let sig = ring::hmac::sign(&key, b"a.b").as_ref().to_vec();
        assert_eq!(sig.len(), 48);
        let dkey = DecodingKey::from_secret(b"0123456789abcdef0123456789abcdef");
        let v = verifier(&Algorithm::HS384, &dkey).unwrap();
        assert!(v.verify(b"a.b", &sig).is_ok());
        assert!(v.verify(b"a.c", &sig).is_err());
        assert!(verifier(&Algorithm::HS256, &dkey).unwrap().verify(b"a.b", &sig).is_err());
        assert!(verifier(&Algorithm::RS256, &dkey).is_err(), "an HMAC secret is never an RSA key");
        assert!(verifier(&Algorithm::EdDSA, &dkey).is_err());
        let key = jsonwebtoken::EncodingKey::from_secret(b"0123456789abcdef0123456789abcdef");
        assert!((PROVIDER.signer_factory)(&Algorithm::HS256, &key).is_err(), "nothing is signed");
    }
}
