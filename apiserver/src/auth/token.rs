//! Static bearer tokens: upstream's `--token-auth-file` CSV and the `Authorization: Bearer` header.

use std::collections::HashMap;
use std::path::Path;

use anyhow::{bail, Context};

use super::UserInfo;

/// Users by token, read once from a CSV file of `token,user,uid[,"group1,group2"]` records.
#[derive(Debug, Clone, Default)]
pub struct TokenFile {
    tokens: HashMap<String, UserInfo>,
}

impl TokenFile {
    /// Reads a token file; like upstream, records with an empty token are skipped, a later duplicate token
    /// wins, and records with fewer than three columns are an error.
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let contents = std::fs::read(path).with_context(|| format!("reading token file '{}'", path.display()))?;
        Self::parse(&contents).with_context(|| format!("token file '{}'", path.display()))
    }

    fn parse(contents: &[u8]) -> anyhow::Result<Self> {
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(contents);
        let mut tokens = HashMap::new();
        for (number, record) in reader.records().enumerate() {
            let record = record.context("reading CSV")?;
            if record.len() < 3 {
                bail!(
                    "must have at least 3 columns (token, user name, user uid), found {}",
                    record.len()
                );
            }
            let token = &record[0];
            if token.is_empty() {
                tracing::warn!(record = number + 1, "empty token in token file");
                continue;
            }
            let groups = record.get(3).map_or_else(Vec::new, |groups| {
                groups
                    .split(',')
                    .filter(|g| !g.is_empty())
                    .map(str::to_string)
                    .collect()
            });
            let user = UserInfo {
                name: record[1].to_string(),
                uid: record[2].to_string(),
                groups,
                ..UserInfo::default()
            };
            if tokens.insert(token.to_string(), user).is_some() {
                tracing::warn!(record = number + 1, "duplicate token in token file");
            }
        }
        Ok(Self { tokens })
    }

    /// The user a token belongs to.
    pub fn lookup(&self, token: &str) -> Option<&UserInfo> {
        self.tokens.get(token)
    }
}

/// The token of an `Authorization: Bearer <token>` header (scheme case-insensitive), as upstream parses it:
/// surrounding whitespace trimmed, split on single spaces, empty tokens ignored.
pub(crate) fn bearer_token(headers: &http::HeaderMap) -> Option<&str> {
    let value = headers.get(http::header::AUTHORIZATION)?.to_str().ok()?.trim();
    let mut parts = value.splitn(3, ' ');
    let scheme = parts.next()?;
    let token = parts.next()?;
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_upstream_format() {
        let file = TokenFile::parse(
            b"t1,alice,uid-1,\"system:masters,dev\"\nt2,bob,uid-2\n\n,nobody,uid-3\nt1,carol,uid-4,ops\n",
        )
        .unwrap();
        let carol = file.lookup("t1").unwrap();
        assert_eq!((carol.name.as_str(), carol.uid.as_str()), ("carol", "uid-4"));
        assert_eq!(carol.groups, ["ops"]);
        let bob = file.lookup("t2").unwrap();
        assert_eq!((bob.name.as_str(), bob.groups.len()), ("bob", 0));
        assert!(file.lookup("").is_none());
        let multi = TokenFile::parse(b"t,alice,uid,\"system:masters,dev\"\n").unwrap();
        assert_eq!(multi.lookup("t").unwrap().groups, ["system:masters", "dev"]);
    }

    #[test]
    fn short_records_are_rejected() {
        let err = TokenFile::parse(b"t1,alice\n").unwrap_err();
        assert!(err
            .to_string()
            .contains("must have at least 3 columns (token, user name, user uid), found 2"));
    }

    #[test]
    fn load_names_the_file() {
        let err = TokenFile::load(Path::new("/nonexistent/tokens.csv")).unwrap_err();
        assert!(format!("{err:#}").contains("/nonexistent/tokens.csv"));
    }

    #[test]
    fn bearer_header_parsing() {
        let header = |value: &str| {
            let mut headers = http::HeaderMap::new();
            headers.insert(http::header::AUTHORIZATION, value.parse().unwrap());
            bearer_token(&headers).map(str::to_string)
        };
        assert_eq!(header("Bearer abc").as_deref(), Some("abc"));
        assert_eq!(header("bearer abc extra").as_deref(), Some("abc"));
        assert_eq!(header("  BEARER abc  ").as_deref(), Some("abc"));
        assert_eq!(header("Bearer  abc"), None);
        assert_eq!(header("Basic abc"), None);
        assert_eq!(header("Bearer"), None);
        assert_eq!(bearer_token(&http::HeaderMap::new()), None);
    }
}
