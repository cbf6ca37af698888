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
    RsaPublicKeyComponents, UnparsedPublicKey, ECDSA_P256_SHA256_FIXED, ECDSA_P384_SHA384_FIXED,
    RSA_PKCS1_2048_8192_SHA256, RSA_PKCS1_2048_8192_SHA384, RSA_PKCS1_2048_8192_SHA512, RSA_PSS_2048_8192_SHA256,
    RSA_PSS_2048_8192_SHA384, RSA_PSS_2048_8192_SHA512,
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

/// `(n, e)` as a key ring verifies with, leading zero bytes stripped (ring
/// wants none): a modulus of 2048 to 8192 bits and an odd exponent from 3 to
/// 2^33 − 1, both big-endian. `None` when ring would refuse it.
pub(crate) fn rsa_key<'a>(n: &'a [u8], e: &'a [u8]) -> Option<DecodingKey> {
    let strip_zeros = |b: &'a [u8]| &b[b.iter().take_while(|x| **x == 0).count()..];
    let (n, e) = (strip_zeros(n), strip_zeros(e));
    let n_bits = n.first().map_or(0, |top| n.len() * 8 - top.leading_zeros() as usize);
    let e_value = e.iter().fold(0u64, |acc, b| acc.saturating_mul(256).saturating_add(u64::from(*b)));
    let usable = (RSA_MIN_BITS..=RSA_MAX_BITS).contains(&n_bits)
        && (3..1 << 33).contains(&e_value)
        && e_value % 2 == 1
        && n.last().is_some_and(|low| low % 2 == 1);
    usable.then(|| DecodingKey::from_rsa_raw_components(n, e))
}

/// jsonwebtoken's verifier for one algorithm and a key of its family.
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
    /// Checks `signature` over `message`, borrowing the key (no copy per
    /// token). A key of another form than the algorithm needs (RSA keys as
    /// DER are never built here; EdDSA is not offered) fails every signature.
    fn verify(&self, message: &[u8], signature: &Vec<u8>) -> Result<(), signature::Error> {
        use ring::hmac::{self, HMAC_SHA256, HMAC_SHA384, HMAC_SHA512};
        use Algorithm::*;
        use DecodingKeyKind::{RsaModulusExponent as Rsa, SecretOrDer};
        let hmac = |alg, secret: &[u8]| hmac::verify(&hmac::Key::new(alg, secret), message, signature);
        let rsa = |params, n, e| RsaPublicKeyComponents::<&[u8]> { n, e }.verify(params, message, signature);
        let ecdsa = |alg, point: &[u8]| UnparsedPublicKey::new(alg, point).verify(message, signature);
        let verified = match (self.alg, self.key.kind()) {
            (HS256, SecretOrDer(secret)) => hmac(HMAC_SHA256, secret),
            (HS384, SecretOrDer(secret)) => hmac(HMAC_SHA384, secret),
            (HS512, SecretOrDer(secret)) => hmac(HMAC_SHA512, secret),
            (RS256, Rsa { n, e }) => rsa(&RSA_PKCS1_2048_8192_SHA256, n, e),
            (RS384, Rsa { n, e }) => rsa(&RSA_PKCS1_2048_8192_SHA384, n, e),
            (RS512, Rsa { n, e }) => rsa(&RSA_PKCS1_2048_8192_SHA512, n, e),
            (PS256, Rsa { n, e }) => rsa(&RSA_PSS_2048_8192_SHA256, n, e),
            (PS384, Rsa { n, e }) => rsa(&RSA_PSS_2048_8192_SHA384, n, e),
            (PS512, Rsa { n, e }) => rsa(&RSA_PSS_2048_8192_SHA512, n, e),
            (ES256, SecretOrDer(point)) => ecdsa(&ECDSA_P256_SHA256_FIXED, point),
            (ES384, SecretOrDer(point)) => ecdsa(&ECDSA_P384_SHA384_FIXED, point),
            _ => return Err(signature::Error::new()),
        };
        verified.map_err(|_| signature::Error::new())
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
        let usable = |n: &[u8], e: &[u8]| rsa_key(n, e).is_some();
        let n2048 = [&[0xc1u8][..], &[0x55; 254], &[0x01]].concat();
        assert_eq!(n2048.len(), 256);
        assert!(usable(&n2048, &[1, 0, 1]));
        assert!(usable(&[&[0u8][..], &n2048].concat(), &[0, 1, 0, 1]), "leading zeros are stripped");
        let n1024 = &n2048[128..];
        assert!(!usable(&[&[0xc1u8][..], n1024].concat(), &[1, 0, 1]));
        let n2047 = [&[0x41u8][..], &n2048[1..]].concat();
        assert!(!usable(&n2047, &[1, 0, 1]), "2047 bits");
        assert!(!usable(&n2048, &[1, 0, 0]), "even exponent");
        assert!(!usable(&n2048, &[1]), "exponent 1");
        assert!(!usable(&n2048, &[2, 0, 0, 0, 1]), "exponent of 34 bits");
        assert!(usable(&n2048, &[1, 255, 255, 255, 255]), "exponent 2^33 - 1");
        assert!(!usable(&n2048, &[1, 0, 0, 0, 0, 0, 0, 0, 1]), "exponent of 65 bits");
        assert!(!usable(&n2048[..255], &[1, 0, 1]), "even modulus");
        assert!(!usable(&[0u8; 300], &[1, 0, 1]));
    }

    /// Each algorithm checks a signature made for it with its own key, and
    /// refuses the same signature over another message.
    #[test]
    fn every_algorithm_checks_its_own_signatures() {
        use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
        use base64::Engine;
        use ring::signature::{self as sig, EcdsaKeyPair, KeyPair, RsaKeyPair};
        let rng = ring::rand::SystemRandom::new();
        let message = b"header.claims";
        let check = |alg: Algorithm, key: &DecodingKey, signature: &[u8]| {
            let verifier = verifier(&alg, key).unwrap();
            assert!(verifier.verify(message, &signature.to_vec()).is_ok(), "{alg:?}");
            assert!(verifier.verify(b"header.claimz", &signature.to_vec()).is_err(), "{alg:?}");
        };
        let secret = b"0123456789abcdef0123456789abcdef";
        let hmac = [(Algorithm::HS256, ring::hmac::HMAC_SHA256), (Algorithm::HS384, ring::hmac::HMAC_SHA384)];
        for (alg, hmac) in hmac.into_iter().chain([(Algorithm::HS512, ring::hmac::HMAC_SHA512)]) {
            let signature = ring::hmac::sign(&ring::hmac::Key::new(hmac, secret), message);
            check(alg, &DecodingKey::from_secret(secret), signature.as_ref());
        }
        let fixture: serde_json::Value =
            serde_json::from_str(include_str!("../../tests/fixtures/rsa-test-key.json")).unwrap();
        let der = STANDARD.decode(fixture["der"].as_str().unwrap()).unwrap();
        let pair = RsaKeyPair::from_der(&der).unwrap();
        let public = RsaPublicKeyComponents::<Vec<u8>>::from(pair.public());
        let key = rsa_key(&public.n, &public.e).unwrap();
        let rsa: [(Algorithm, &'static dyn sig::RsaEncoding); 6] = [
            (Algorithm::RS256, &sig::RSA_PKCS1_SHA256),
            (Algorithm::RS384, &sig::RSA_PKCS1_SHA384),
            (Algorithm::RS512, &sig::RSA_PKCS1_SHA512),
            (Algorithm::PS256, &sig::RSA_PSS_SHA256),
            (Algorithm::PS384, &sig::RSA_PSS_SHA384),
            (Algorithm::PS512, &sig::RSA_PSS_SHA512),
        ];
        for (alg, encoding) in rsa {
            let mut signature = vec![0; pair.public().modulus_len()];
            pair.sign(encoding, &rng, message, &mut signature).unwrap();
            check(alg, &key, &signature);
        }
        let ec = [
            (Algorithm::ES256, &sig::ECDSA_P256_SHA256_FIXED_SIGNING),
            (Algorithm::ES384, &sig::ECDSA_P384_SHA384_FIXED_SIGNING),
        ];
        for (alg, signing) in ec {
            let pkcs8 = EcdsaKeyPair::generate_pkcs8(signing, &rng).unwrap();
            let pair = EcdsaKeyPair::from_pkcs8(signing, pkcs8.as_ref(), &rng).unwrap();
            let point = pair.public_key().as_ref();
            let (x, y) = point[1..].split_at(point.len() / 2);
            let key = DecodingKey::from_ec_components(&URL_SAFE_NO_PAD.encode(x), &URL_SAFE_NO_PAD.encode(y)).unwrap();
            check(alg, &key, pair.sign(&rng, message).unwrap().as_ref());
        }
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
