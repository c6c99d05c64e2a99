//! ServiceAccount identities and the JWTs that carry them, shared by the apiserver (which issues
//! and checks them) and the legacy token controller (which signs Secret tokens): user names and
//! groups, the RS256 signing key ([`key`]), and the bound and legacy claim sets ([`claims`]) —
//! upstream's pkg/serviceaccount and apiserver's authentication/serviceaccount.

pub mod claims;
pub mod key;

pub use key::{KeyError, SigningKey, VerifyError};

/// The issuer of legacy (Secret-held) tokens.
pub const LEGACY_ISSUER: &str = "kubernetes/serviceaccount";
/// The Secret type whose data the token controller fills.
pub const TOKEN_SECRET_TYPE: &str = "kubernetes.io/service-account-token";
/// The annotation naming a token Secret's ServiceAccount.
pub const NAME_ANNOTATION: &str = "kubernetes.io/service-account.name";
/// The annotation holding a token Secret's ServiceAccount UID.
pub const UID_ANNOTATION: &str = "kubernetes.io/service-account.uid";
/// A token Secret's data keys: the JWT, the cluster CA bundle and the namespace.
pub const TOKEN_KEY: &str = "token";
pub const CA_KEY: &str = "ca.crt";
pub const NAMESPACE_KEY: &str = "namespace";
/// The group of every ServiceAccount.
pub const ALL_SERVICE_ACCOUNTS: &str = "system:serviceaccounts";

const USER_PREFIX: &str = "system:serviceaccount:";

/// The user name of a ServiceAccount: `system:serviceaccount:NS:NAME`.
pub fn username(namespace: &str, name: &str) -> String {
    format!("{USER_PREFIX}{namespace}:{name}")
}

/// The namespace and name a ServiceAccount user name names, if it is one.
pub fn split_username(username: &str) -> Option<(&str, &str)> {
    let (namespace, name) = username.strip_prefix(USER_PREFIX)?.split_once(':')?;
    (!namespace.is_empty() && !name.is_empty() && !name.contains(':')).then_some((namespace, name))
}

/// The groups of a ServiceAccount in `namespace`.
pub fn groups(namespace: &str) -> Vec<String> {
    vec![
        ALL_SERVICE_ACCOUNTS.to_string(),
        format!("{ALL_SERVICE_ACCOUNTS}:{namespace}"),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_names_round_trip_and_reject_others() {
        let user = username("default", "builder");
        assert_eq!(user, "system:serviceaccount:default:builder");
        assert_eq!(split_username(&user), Some(("default", "builder")));
        assert_eq!(split_username("system:serviceaccount:default"), None);
        assert_eq!(split_username("system:serviceaccount:a:b:c"), None);
        assert_eq!(split_username("jane"), None);
        assert_eq!(groups("dev"), ["system:serviceaccounts", "system:serviceaccounts:dev"]);
    }
}
