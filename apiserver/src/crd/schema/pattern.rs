//! Schema `pattern`s compiled once and shared across requests (a big CRD has hundreds).

use regex::Regex;
use std::collections::HashMap;
use std::sync::{LazyLock, Mutex};

/// Patterns kept at most; the cache starts over when it is full.
const CAPACITY: usize = 4096;

static COMPILED: LazyLock<Mutex<HashMap<String, Option<Regex>>>> = LazyLock::new(Default::default);

/// Whether `s` matches `pattern`; `None` if the pattern does not compile (CRD validation's concern).
pub fn matches(pattern: &str, s: &str) -> Option<bool> {
    let regex = {
        let mut cache = COMPILED.lock().ok()?;
        if let Some(found) = cache.get(pattern) {
            found.clone()
        } else {
            if cache.len() >= CAPACITY {
                cache.clear();
            }
            let compiled = Regex::new(pattern).ok();
            cache.insert(pattern.to_string(), compiled.clone());
            compiled
        }
    };
    regex.map(|r| r.is_match(s))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_match_and_bad_ones_are_skipped() {
        assert_eq!(matches("^[a-z]+$", "abc"), Some(true));
        assert_eq!(matches("^[a-z]+$", "abc"), Some(true));
        assert_eq!(matches("^[a-z]+$", "ABC"), Some(false));
        assert_eq!(matches("(", "x"), None);
    }
}
