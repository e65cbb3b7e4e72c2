//! TLS to PostgreSQL, with libpq's `sslmode` and `sslrootcert` URL options.
//!
//! Managed PostgreSQL services (RDS, Cloud SQL, Azure, Supabase, Neon…) hand out
//! URLs like `postgres://app@db.example/pt?sslmode=verify-full&sslrootcert=ca.pem`.
//! The driver understands only `disable`, `prefer` and `require`, so the two
//! options are taken out of the URL here and mapped as libpq defines them:
//!
//! | `sslmode` | encrypted | certificate checked |
//! |---|---|---|
//! | `disable` | no | — |
//! | `allow`, `prefer` (default) | if the server offers TLS | only with `sslrootcert` (chain) |
//! | `require` | yes | only with `sslrootcert` (chain) |
//! | `verify-ca` | yes | chain |
//! | `verify-full` | yes | chain and host name |
//!
//! The chain is checked against the certificates in `sslrootcert` (a PEM file),
//! or the Mozilla root store built into the binary when it is absent or `system`.

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::{ClientConfig, WebPkiServerVerifier};
use rustls::crypto::{CryptoProvider, ring};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, RootCertStore, SignatureScheme};
use std::path::PathBuf;
use std::sync::Arc;
use tokio_postgres::config::SslMode;
use tokio_postgres_rustls::MakeRustlsConnect;

/// libpq's `sslmode` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum TlsMode {
    Disable,
    Allow,
    #[default]
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
}

impl TlsMode {
    const ACCEPTED: &'static str = "disable, allow, prefer, require, verify-ca, verify-full";

    fn parse(raw: &str) -> Result<Self, String> {
        Ok(match raw {
            "disable" => Self::Disable,
            "allow" => Self::Allow,
            "prefer" => Self::Prefer,
            "require" => Self::Require,
            "verify-ca" => Self::VerifyCa,
            "verify-full" => Self::VerifyFull,
            other => {
                return Err(format!(
                    "sslmode {other:?} is not one of {}",
                    Self::ACCEPTED
                ));
            }
        })
    }

    /// What the driver is told: whether TLS may, must or must not be used.
    pub(crate) fn driver_mode(self) -> SslMode {
        match self {
            Self::Disable => SslMode::Disable,
            // The driver has no "plain first, TLS if refused"; trying TLS first
            // connects to every server `allow` connects to.
            Self::Allow | Self::Prefer => SslMode::Prefer,
            Self::Require | Self::VerifyCa | Self::VerifyFull => SslMode::Require,
        }
    }
}

/// Where the trusted certificates come from.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) enum RootCerts {
    /// The Mozilla root store compiled into the binary (`sslrootcert` absent or `system`).
    #[default]
    Builtin,
    /// The certificates of a PEM file.
    File(PathBuf),
}

/// The TLS options of a PostgreSQL URL.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct TlsOptions {
    pub mode: TlsMode,
    pub roots: RootCerts,
    /// `sslrootcert` was given: libpq then checks the chain even under `require`.
    pub root_cert_given: bool,
}

/// Splits `sslmode` and `sslrootcert` off a `postgres://` URL: the URL the
/// driver can parse, and the options. The error is a reason for the user.
pub(crate) fn split_url(url: &str) -> Result<(String, TlsOptions), String> {
    let Some((base, query)) = url.split_once('?') else {
        return Ok((url.to_owned(), TlsOptions::default()));
    };
    let mut options = TlsOptions::default();
    let mut kept = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let decoded = percent_encoding::percent_decode_str(value)
            .decode_utf8()
            .map_err(|_| format!("{key} is not UTF-8 after percent-decoding"))?;
        match key {
            "sslmode" => options.mode = TlsMode::parse(&decoded)?,
            "sslrootcert" => {
                options.root_cert_given = true;
                options.roots = match decoded.as_ref() {
                    "" => return Err("sslrootcert is empty: give a PEM file path".to_owned()),
                    "system" => RootCerts::Builtin,
                    path => RootCerts::File(PathBuf::from(path)),
                };
            }
            _ => kept.push(pair),
        }
    }
    let driver_url = if kept.is_empty() {
        base.to_owned()
    } else {
        format!("{base}?{}", kept.join("&"))
    };
    Ok((driver_url, options))
}

/// The driver's TLS connector for `options` (unused under `disable`).
pub(crate) fn connector(options: &TlsOptions) -> Result<MakeRustlsConnect, String> {
    let provider = Arc::new(ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS setup: {e}"))?;
    let check_chain = match options.mode {
        TlsMode::VerifyCa | TlsMode::VerifyFull => true,
        _ => options.root_cert_given,
    };
    let config = if check_chain {
        let roots = Arc::new(root_store(&options.roots)?);
        let webpki = WebPkiServerVerifier::builder_with_provider(roots, provider)
            .build()
            .map_err(|e| format!("TLS setup: {e}"))?;
        if options.mode == TlsMode::VerifyFull {
            builder.with_webpki_verifier(webpki)
        } else {
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(ChainOnly(webpki)))
        }
    } else {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(EncryptOnly(provider)))
    };
    Ok(MakeRustlsConnect::new(config.with_no_client_auth()))
}

fn root_store(roots: &RootCerts) -> Result<RootCertStore, String> {
    match roots {
        RootCerts::Builtin => Ok(RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        }),
        RootCerts::File(path) => {
            let shown = path.display();
            let certs = CertificateDer::pem_file_iter(path)
                .map_err(|e| format!("sslrootcert {shown}: {e}"))?
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| format!("sslrootcert {shown}: {e}"))?;
            let mut store = RootCertStore::empty();
            let (added, _) = store.add_parsable_certificates(certs);
            if added == 0 {
                return Err(format!(
                    "sslrootcert {shown}: no usable PEM certificate in the file"
                ));
            }
            Ok(store)
        }
    }
}

/// `verify-ca` (and `require` with `sslrootcert`): the chain must lead to a
/// trusted root; the host name is not compared.
#[derive(Debug)]
struct ChainOnly(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for ChainOnly {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp, now)
        {
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
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

/// `prefer` and `require` without `sslrootcert`, as libpq: the connection is
/// encrypted and the handshake signatures are checked, but the certificate
/// is not (use `verify-full` to be safe from an impostor server).
#[derive(Debug)]
struct EncryptOnly(Arc<CryptoProvider>);

impl ServerCertVerifier for EncryptOnly {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_tls_options_the_url_is_passed_through() {
        let (url, options) = split_url("postgres://u@h/db?connect_timeout=5").unwrap();
        assert_eq!(url, "postgres://u@h/db?connect_timeout=5");
        assert_eq!(options, TlsOptions::default());
        assert_eq!(options.mode.driver_mode(), SslMode::Prefer);
    }

    #[test]
    fn libpq_modes_are_taken_out_and_mapped() {
        for (raw, mode, driver) in [
            ("disable", TlsMode::Disable, SslMode::Disable),
            ("allow", TlsMode::Allow, SslMode::Prefer),
            ("prefer", TlsMode::Prefer, SslMode::Prefer),
            ("require", TlsMode::Require, SslMode::Require),
            ("verify-ca", TlsMode::VerifyCa, SslMode::Require),
            ("verify-full", TlsMode::VerifyFull, SslMode::Require),
        ] {
            let (url, options) = split_url(&format!(
                "postgres://u@h/db?sslmode={raw}&application_name=pt"
            ))
            .unwrap();
            assert_eq!(url, "postgres://u@h/db?application_name=pt", "{raw}");
            assert_eq!(options.mode, mode);
            assert_eq!(mode.driver_mode(), driver);
            url.parse::<tokio_postgres::Config>()
                .expect("the driver parses what is left");
        }
    }

    #[test]
    fn sslrootcert_is_percent_decoded_and_system_means_the_builtin_roots() {
        let (url, options) =
            split_url("postgres://u@h/db?sslrootcert=%2Fetc%2Fpg%20ca.pem&sslmode=verify-full")
                .unwrap();
        assert_eq!(url, "postgres://u@h/db");
        assert_eq!(
            options.roots,
            RootCerts::File(PathBuf::from("/etc/pg ca.pem"))
        );
        assert!(options.root_cert_given);
        let (_, options) = split_url("postgres://u@h/db?sslrootcert=system").unwrap();
        assert_eq!(options.roots, RootCerts::Builtin);
    }

    #[test]
    fn an_unknown_sslmode_names_the_accepted_ones() {
        let err = split_url("postgres://u@h/db?sslmode=required").unwrap_err();
        assert!(err.contains("\"required\""), "{err}");
        assert!(err.contains("verify-full"), "{err}");
    }

    #[test]
    fn a_missing_or_empty_root_certificate_file_is_named() {
        let options = TlsOptions {
            mode: TlsMode::VerifyFull,
            roots: RootCerts::File(PathBuf::from("/nonexistent/ca.pem")),
            root_cert_given: true,
        };
        let err = connector(&options).err().expect("missing file");
        assert!(err.contains("/nonexistent/ca.pem"), "{err}");

        let empty = tempfile::NamedTempFile::new().unwrap();
        let options = TlsOptions {
            roots: RootCerts::File(empty.path().to_owned()),
            ..options
        };
        let err = connector(&options).err().expect("empty file");
        assert!(err.contains("no usable PEM certificate"), "{err}");
    }

    #[test]
    fn every_mode_builds_a_connector_with_the_builtin_roots() {
        for mode in [
            TlsMode::Allow,
            TlsMode::Prefer,
            TlsMode::Require,
            TlsMode::VerifyCa,
            TlsMode::VerifyFull,
        ] {
            let options = TlsOptions {
                mode,
                ..TlsOptions::default()
            };
            assert!(connector(&options).is_ok(), "{mode:?}");
        }
    }
}

/// Against the PostgreSQL of `PRICETRACK_TEST_POSTGRES`, when it offers TLS.
#[cfg(test)]
mod live_tests {
    use crate::DatabaseTarget;
    use crate::postgres::PgStore;
    use crate::testing::{TestDatabase, fresh_postgres};

    /// The test database's URL with `params` appended.
    fn url_with(db: &TestDatabase, params: &str) -> String {
        let DatabaseTarget::Postgres(url) = &db.target else {
            panic!("a PostgreSQL test database");
        };
        let sep = if url.contains('?') { '&' } else { '?' };
        format!("{url}{sep}{params}")
    }

    async fn encrypted(store: &PgStore) -> bool {
        let client = store.pool().get().await.expect("connection");
        let row = client
            .query_one(
                "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
                &[],
            )
            .await
            .expect("pg_stat_ssl");
        row.get(0)
    }

    /// The server's certificate file when it has TLS on and the file is
    /// readable here; `None` (with a notice) otherwise.
    async fn server_certificate(db: &TestDatabase) -> Option<String> {
        let plain = PgStore::connect(&url_with(db, "sslmode=disable"))
            .await
            .expect("plain connection");
        let client = plain.pool().get().await.expect("connection");
        let ssl: String = client.query_one("SHOW ssl", &[]).await.ok()?.get(0);
        let file: String = client
            .query_one("SHOW ssl_cert_file", &[])
            .await
            .ok()?
            .get(0);
        if ssl != "on" || std::fs::metadata(&file).is_err() {
            eprintln!("skipping a TLS test: the test server has ssl={ssl}, certificate {file}");
            return None;
        }
        Some(file)
    }

    #[tokio::test]
    async fn require_encrypts_and_disable_does_not() {
        let Some(db) = fresh_postgres().await else {
            return;
        };
        if server_certificate(&db).await.is_none() {
            return;
        }
        let tls = PgStore::connect(&url_with(&db, "sslmode=require"))
            .await
            .expect("sslmode=require connects");
        assert!(encrypted(&tls).await);
        let plain = PgStore::connect(&url_with(&db, "sslmode=disable"))
            .await
            .expect("sslmode=disable connects");
        assert!(!encrypted(&plain).await);
    }

    #[tokio::test]
    async fn verify_full_refuses_a_certificate_no_trusted_root_signed() {
        let Some(db) = fresh_postgres().await else {
            return;
        };
        if server_certificate(&db).await.is_none() {
            return;
        }
        // The test server's certificate is self-signed: not in the built-in roots.
        let err = PgStore::connect(&url_with(&db, "sslmode=verify-full"))
            .await
            .err()
            .expect("an untrusted certificate is refused");
        let chain = format!("{err}: {:?}", std::error::Error::source(&err));
        assert!(chain.to_lowercase().contains("certificate"), "{chain}");
    }

    #[tokio::test]
    async fn sslrootcert_trusts_the_servers_own_certificate() {
        let Some(db) = fresh_postgres().await else {
            return;
        };
        let Some(cert) = server_certificate(&db).await else {
            return;
        };
        let root = format!("sslrootcert={cert}");
        let ca = PgStore::connect(&url_with(&db, &format!("sslmode=verify-ca&{root}")))
            .await
            .expect("verify-ca: the chain leads to the given root");
        assert!(encrypted(&ca).await);
        let require = PgStore::connect(&url_with(&db, &format!("sslmode=require&{root}")))
            .await
            .expect("require with sslrootcert checks the chain, as libpq does");
        assert!(encrypted(&require).await);
    }
}
