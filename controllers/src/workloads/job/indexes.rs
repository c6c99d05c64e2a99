//! Completion indexes of Indexed Jobs in upstream's compressed form (`0-2,4,7-9`).

use std::collections::BTreeSet;

/// `1,2,3,5` → `1-3,5`.
pub fn format(indexes: &BTreeSet<i32>) -> String {
    let mut parts = Vec::new();
    let mut run: Option<(i32, i32)> = None;
    for &i in indexes {
        run = match run {
            Some((start, end)) if i == end + 1 => Some((start, i)),
            Some(done) => {
                parts.push(span(done));
                Some((i, i))
            }
            None => Some((i, i)),
        };
    }
    parts.extend(run.map(span));
    parts.join(",")
}

fn span((start, end): (i32, i32)) -> String {
    if start == end {
        start.to_string()
    } else {
        format!("{start}-{end}")
    }
}

/// `1-3,5` → `{1, 2, 3, 5}`; what does not parse is skipped.
pub fn parse(text: &str) -> BTreeSet<i32> {
    text.split(',')
        .filter_map(|part| match part.split_once('-') {
            Some((a, b)) => Some((a.trim().parse().ok()?, b.trim().parse().ok()?)),
            None => part.trim().parse().ok().map(|i| (i, i)),
        })
        .flat_map(|(a, b): (i32, i32)| a..=b)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_upstreams_form() {
        let set: BTreeSet<i32> = [0, 1, 2, 4, 7, 8, 9].into();
        assert_eq!(format(&set), "0-2,4,7-9");
        assert_eq!(parse("0-2,4,7-9"), set);
        assert_eq!(format(&BTreeSet::new()), "");
        assert!(parse("").is_empty());
    }
}
