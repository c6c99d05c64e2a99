//! Kubernetes' URL library: `url()`, `isURL()` and the getters, over Go's request-URI rules (an
//! absolute URL, or an absolute path).

use super::{opaque, opaque_type, opaque_val, take, text, Args, Ret};
use cel::common::types::{CelBool, CelList, CelMap, CelMapKey, CelString, Type, STRING_TYPE};
use cel::common::value::{CowVal, Val};
use cel::{DeclarationError, Env, ExecutionError};
use std::collections::HashMap;
use std::sync::LazyLock;

static URL_TYPE: LazyLock<Type> = LazyLock::new(url_t);

#[derive(Clone, Debug, PartialEq)]
pub struct Url {
    scheme: String,
    host: String,
    path: String,
    query: String,
}
opaque_val!(Url, *URL_TYPE);

impl Url {
    /// Parses like Go's url.ParseRequestURI.
    pub fn parse(s: &str) -> Option<Url> {
        if s.is_empty() || s.chars().any(|c| c.is_control() || c == ' ') {
            return None;
        }
        let (rest, query) = match s.split_once('?') {
            Some((r, q)) => (r, q.to_string()),
            None => (s, String::new()),
        };
        if rest.starts_with('/') {
            return Some(Url {
                scheme: String::new(),
                host: String::new(),
                path: rest.into(),
                query,
            });
        }
        let (scheme, after) = rest.split_once(':')?;
        let mut chars = scheme.chars();
        let valid = chars.next().is_some_and(|c| c.is_ascii_alphabetic())
            && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
        if !valid {
            return None;
        }
        let after = after.strip_prefix("//")?;
        let (host, path) = match after.find('/') {
            Some(i) => (&after[..i], &after[i..]),
            None => (after, ""),
        };
        let host = host.rsplit_once('@').map_or(host, |(_, h)| h);
        Some(Url {
            scheme: scheme.to_string(),
            host: host.to_string(),
            path: path.to_string(),
            query,
        })
    }

    fn hostname(&self) -> &str {
        let host = &self.host;
        if let Some(inner) = host.strip_prefix('[') {
            return inner.split(']').next().unwrap_or("");
        }
        host.rsplit_once(':').map_or(host, |(h, _)| h)
    }

    fn port(&self) -> &str {
        if let Some(i) = self.host.rfind(']') {
            return self.host[i + 1..].strip_prefix(':').unwrap_or("");
        }
        self.host.rsplit_once(':').map_or("", |(_, p)| p)
    }
}

fn url_t() -> Type {
    opaque_type("kubernetes.URL")
}

pub fn register(env: &mut Env) -> Result<(), DeclarationError> {
    env.add_overload("url", "string_to_url", vec![STRING_TYPE], to_url)?;
    env.add_overload("isURL", "is_url_string", vec![STRING_TYPE], is_url)?;
    env.add_member_overload("getScheme", "url_get_scheme", url_t(), vec![], |a| {
        get(a, |u| u.scheme.clone())
    })?;
    env.add_member_overload("getHost", "url_get_host", url_t(), vec![], |a| {
        get(a, |u| u.host.clone())
    })?;
    env.add_member_overload("getHostname", "url_get_hostname", url_t(), vec![], |a| {
        get(a, |u| u.hostname().into())
    })?;
    env.add_member_overload("getPort", "url_get_port", url_t(), vec![], |a| {
        get(a, |u| u.port().into())
    })?;
    env.add_member_overload("getEscapedPath", "url_get_escaped_path", url_t(), vec![], |a| {
        get(a, |u| u.path.clone())
    })?;
    env.add_member_overload("getQuery", "url_get_query", url_t(), vec![], get_query)?;
    Ok(())
}

fn to_url<'b, 'v>(args: Args<'b, 'v>) -> Ret<'b, 'v> {
    let [s] = take(args)?;
    let s = text(s.as_ref())?;
    Url::parse(s).map(CowVal::owned).ok_or_else(|| {
        ExecutionError::function_error(
            "url",
            format!("URL parse error during conversion from string: parse {s:?}: invalid URI for request"),
        )
    })
}

fn is_url<'b, 'v>(args: Args<'b, 'v>) -> Ret<'b, 'v> {
    let [s] = take(args)?;
    Ok(CowVal::owned(CelBool::from(Url::parse(text(s.as_ref())?).is_some())))
}

fn get<'b, 'v>(args: Args<'b, 'v>, part: fn(&Url) -> String) -> Ret<'b, 'v> {
    let [u] = take(args)?;
    let u = opaque::<Url>(u.as_ref())?;
    Ok(CowVal::owned(CelString::from(part(u))))
}

fn get_query<'b, 'v>(args: Args<'b, 'v>) -> Ret<'b, 'v> {
    let [u] = take(args)?;
    let u = opaque::<Url>(u.as_ref())?;
    let mut grouped: Vec<(String, Vec<String>)> = Vec::new();
    for (k, v) in form_urlencoded::parse(u.query.as_bytes()) {
        match grouped.iter_mut().find(|(key, _)| key == &k) {
            Some((_, values)) => values.push(v.into_owned()),
            None => grouped.push((k.into_owned(), vec![v.into_owned()])),
        }
    }
    let map: HashMap<CelMapKey<'v>, Box<dyn Val + 'v>> = grouped
        .into_iter()
        .map(|(k, values)| {
            let list: Vec<Box<dyn Val + 'v>> = values
                .into_iter()
                .map(|v| Box::new(CelString::from(v)) as Box<dyn Val + 'v>)
                .collect();
            (CelMapKey::from(k), Box::new(CelList::from(list)) as Box<dyn Val + 'v>)
        })
        .collect();
    Ok(CowVal::owned(CelMap::from(map)))
}

#[cfg(test)]
mod tests {
    use super::super::tests::all_true;

    #[test]
    fn urls() {
        all_true(&[
            "isURL('https://example.com:8080/a/b?x=1&x=2')",
            "!isURL('not a url')",
            "isURL('/absolute/path')",
            "url('https://example.com:8080/a').getScheme() == 'https'",
            "url('https://example.com:8080/a').getHost() == 'example.com:8080'",
            "url('https://example.com:8080/a').getHostname() == 'example.com'",
            "url('https://[::1]:80/').getHostname() == '::1'",
            "url('https://example.com:8080/a').getPort() == '8080'",
            "url('https://example.com/a%20b').getEscapedPath() == '/a%20b'",
            "url('https://example.com/?x=1&x=2&y=3').getQuery() == {'x': ['1', '2'], 'y': ['3']}",
        ]);
    }
}
