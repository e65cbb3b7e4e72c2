//! The dependency rule: the domain knows nothing of I/O, and the use cases know
//! no database driver, web framework or HTTP client. Checked on the resolved
//! dependency graph, so a transitive dependency counts too.

use cargo_metadata::{DependencyKind, Metadata, MetadataCommand, PackageId};
use std::collections::{HashMap, HashSet};

const DRIVERS_AND_FRAMEWORKS: [&str; 10] = [
    "rusqlite",
    "libsqlite3-sys",
    "tokio-postgres",
    "postgres",
    "sqlx",
    "diesel",
    "axum",
    "hyper",
    "reqwest",
    "deadpool-postgres",
];

fn metadata() -> Metadata {
    MetadataCommand::new()
        .manifest_path(concat!(env!("CARGO_MANIFEST_DIR"), "/../../Cargo.toml"))
        .exec()
        .expect("cargo metadata runs")
}

/// Every crate `package` pulls in through normal (non-dev, non-build) dependencies.
fn normal_closure(meta: &Metadata, package: &str) -> HashSet<String> {
    let resolve = meta.resolve.as_ref().expect("resolved graph");
    let nodes: HashMap<&PackageId, _> = resolve.nodes.iter().map(|n| (&n.id, n)).collect();
    let names: HashMap<&PackageId, &str> = meta
        .packages
        .iter()
        .map(|p| (&p.id, p.name.as_str()))
        .collect();
    let root = meta
        .packages
        .iter()
        .find(|p| p.name.as_str() == package)
        .expect("package exists");
    let mut seen = HashSet::new();
    let mut stack = vec![&root.id];
    while let Some(id) = stack.pop() {
        for dep in &nodes[id].deps {
            let normal = dep
                .dep_kinds
                .iter()
                .any(|k| k.kind == DependencyKind::Normal);
            if normal && seen.insert(names[&dep.pkg].to_owned()) {
                stack.push(&dep.pkg);
            }
        }
    }
    seen
}

fn assert_free_of(package: &str, forbidden: &[&str]) {
    let closure = normal_closure(&metadata(), package);
    let found: Vec<&&str> = forbidden.iter().filter(|f| closure.contains(**f)).collect();
    assert!(found.is_empty(), "{package} must not depend on {found:?}");
}

#[test]
fn domain_has_no_io_dependencies() {
    let mut forbidden = DRIVERS_AND_FRAMEWORKS.to_vec();
    forbidden.extend(["tokio", "async-std", "mio"]);
    assert_free_of("pricetrack-domain", &forbidden);
}

#[test]
fn app_depends_on_no_database_driver_web_framework_or_http_client() {
    assert_free_of("pricetrack-app", &DRIVERS_AND_FRAMEWORKS);
}

#[test]
fn providers_depend_on_no_database_driver_or_web_framework() {
    assert_free_of(
        "pricetrack-providers",
        &[
            "rusqlite",
            "libsqlite3-sys",
            "tokio-postgres",
            "sqlx",
            "diesel",
            "axum",
        ],
    );
}

#[test]
fn storage_depends_on_no_web_framework_or_http_client() {
    assert_free_of("pricetrack-storage", &["axum", "reqwest"]);
}

#[test]
fn the_check_sees_transitive_dependencies() {
    // Guards the guard: the server does use axum and, through storage, rusqlite.
    let closure = normal_closure(&metadata(), "pricetrack-server");
    assert!(closure.contains("axum") && closure.contains("libsqlite3-sys"));
}
