//! Typed identifiers, so a portfolio id cannot be passed where a user id is expected.

use serde::{Deserialize, Serialize};
use std::fmt;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub i64);

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

id_type!(
    /// Identifies a portfolio.
    PortfolioId
);
id_type!(
    /// Identifies a transaction inside a portfolio.
    TransactionId
);
id_type!(
    /// Identifies a user of the instance.
    UserId
);
