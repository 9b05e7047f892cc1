//! TLS for Postgres connections, with rustls, following libpq's `sslmode`:
//!
//! | `sslmode` | encrypted | server certificate checked |
//! | --- | --- | --- |
//! | `disable`, `allow`, `prefer` (default) | no | — |
//! | `require` | yes | no (as libpq without a root certificate) |
//! | `verify-ca` | yes | signed by a trusted CA |
//! | `verify-full` | yes | signed by a trusted CA and issued for the host |
//!
//! Trusted CAs are those of `sslrootcert=/path/ca.pem` when given, else the
//! system's. Unlike libpq, `prefer` does not try TLS: pipetrack encrypts when
//! the URL asks for it, so the default stays as fast as before on a local or
//! trusted network.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use tokio_postgres_rustls::MakeRustlsConnect;

/// How a Postgres connection uses TLS (`sslmode` of the URL).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum TlsMode {
    /// No TLS (`disable`, `allow`, `prefer`, or no `sslmode`).
    #[default]
    Off,
    /// Encrypted; the certificate is not checked (`require`).
    Require,
    /// Encrypted; the certificate must be signed by a trusted CA (`verify-ca`).
    VerifyCa,
    /// As `VerifyCa`, and issued for the host connected to (`verify-full`).
    VerifyFull,
}

impl TlsMode {
    /// Parses an `sslmode` value; `None` for an unknown one.
    pub fn parse(value: &str) -> Option<TlsMode> {
        match value {
            "disable" | "allow" | "prefer" => Some(TlsMode::Off),
            "require" => Some(TlsMode::Require),
            "verify-ca" => Some(TlsMode::VerifyCa),
            "verify-full" => Some(TlsMode::VerifyFull),
            _ => None,
        }
    }
}

/// TLS settings of a Postgres store.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TlsSettings {
    /// The `sslmode`.
    pub mode: TlsMode,
    /// PEM file of the CA certificates to trust (`sslrootcert`); the system's when `None`.
    pub root_cert: Option<PathBuf>,
}

/// The connector for `settings`, or `None` when TLS is off. The error says
/// what is wrong with the root certificates.
pub(crate) fn connector(settings: &TlsSettings) -> Result<Option<MakeRustlsConnect>, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier: Arc<dyn ServerCertVerifier> = match settings.mode {
        TlsMode::Off => return Ok(None),
        TlsMode::Require => Arc::new(PartialCheck { chain: None, provider: provider.clone() }),
        TlsMode::VerifyCa | TlsMode::VerifyFull => {
            let roots = Arc::new(roots(settings.root_cert.as_deref())?);
            let webpki = WebPkiServerVerifier::builder_with_provider(roots, provider.clone())
                .build()
                .map_err(|err| format!("cannot set up certificate checks: {err}"))?;
            if settings.mode == TlsMode::VerifyCa {
                Arc::new(PartialCheck { chain: Some(webpki), provider: provider.clone() })
            } else {
                webpki
            }
        }
    };
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|err| format!("cannot set up TLS: {err}"))?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    Ok(Some(MakeRustlsConnect::new(config)))
}

fn roots(root_cert: Option<&Path>) -> Result<RootCertStore, String> {
    let mut roots = RootCertStore::empty();
    if let Some(path) = root_cert {
        let certs = CertificateDer::pem_file_iter(path)
            .and_then(Iterator::collect::<Result<Vec<_>, _>>)
            .map_err(|err| format!("sslrootcert {}: cannot read PEM certificates ({err})", path.display()))?;
        let (added, _) = roots.add_parsable_certificates(certs);
        if added == 0 {
            return Err(format!("sslrootcert {}: holds no usable CA certificate", path.display()));
        }
    } else {
        let found = rustls_native_certs::load_native_certs();
        roots.add_parsable_certificates(found.certs);
        if roots.is_empty() {
            return Err("no system CA certificates found (install ca-certificates, or give \
                        ?sslrootcert=/path/ca.pem)"
                .into());
        }
    }
    Ok(roots)
}

/// libpq's two partial checks: `require` accepts any certificate (`chain:
/// None`); `verify-ca` wants its chain to lead to a trusted CA but does not
/// check the host name. The handshake signatures are always checked, so the
/// connection is encrypted with the key of the certificate presented.
#[derive(Debug)]
struct PartialCheck {
    chain: Option<Arc<WebPkiServerVerifier>>,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for PartialCheck {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let Some(chain) = &self.chain else { return Ok(ServerCertVerified::assertion()) };
        match chain.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now) {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sslmode_values_are_libpq_s() {
        assert_eq!(TlsMode::parse("prefer"), Some(TlsMode::Off));
        assert_eq!(TlsMode::parse("require"), Some(TlsMode::Require));
        assert_eq!(TlsMode::parse("verify-full"), Some(TlsMode::VerifyFull));
        assert_eq!(TlsMode::parse("always"), None);
    }

    #[test]
    fn root_certificates_must_be_readable_and_hold_a_ca() {
        let missing = TlsSettings { mode: TlsMode::VerifyCa, root_cert: Some("/nonexistent/ca.pem".into()) };
        let err = connector(&missing).err().unwrap();
        assert!(err.starts_with("sslrootcert /nonexistent/ca.pem: cannot read PEM certificates"), "{err}");
        let empty = std::env::temp_dir().join(format!("pt_empty_{}.pem", std::process::id()));
        std::fs::write(&empty, "not a certificate\n").unwrap();
        let err = connector(&TlsSettings { mode: TlsMode::VerifyFull, root_cert: Some(empty.clone()) })
            .err()
            .unwrap();
        assert!(err.contains("holds no usable CA certificate"), "{err}");
        let _ = std::fs::remove_file(empty);
        assert!(connector(&TlsSettings::default()).unwrap().is_none());
        assert!(connector(&TlsSettings { mode: TlsMode::Require, root_cert: None }).unwrap().is_some());
    }
}
