//! Dot paths into the state: `cart.count`, `items.0.name`.

use serde_json::Value;

use crate::config::ConfError;

/// The most segments a path may have: deeper than any state worth sending.
pub const MAX_SEGMENTS: usize = 32;

/// A field of the state, written as keys joined by dots.
///
/// A segment is a key of an object. A segment written as a plain decimal number (`0`, `12`, not
/// `012`) is also an index into an array, so `items.0.name` reaches the first item's name, while
/// `{"0": …}` objects still work.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldPath {
    segments: Box<[Box<str>]>,
}

impl FieldPath {
    /// A path as written in a directive: non-empty UTF-8 segments without spaces, control
    /// characters or braces.
    pub fn parse(path: &[u8]) -> Result<FieldPath, ConfError> {
        let error = |reason: &str| ConfError {
            kind: "field",
            value: path.to_vec(),
            reason: reason.to_owned(),
        };
        let text = std::str::from_utf8(path).map_err(|_| error("a field must be UTF-8"))?;
        if text.chars().any(|c| c.is_control() || c.is_whitespace() || matches!(c, '{' | '}')) {
            return Err(error("a field cannot contain spaces, control characters or braces"));
        }
        let segments: Box<[Box<str>]> = text.split('.').map(Box::from).collect();
        if segments.iter().any(|s| s.is_empty()) {
            return Err(error("a field is keys joined by single dots, none of them empty"));
        }
        if segments.len() > MAX_SEGMENTS {
            return Err(error("a field can have at most 32 keys"));
        }
        Ok(FieldPath { segments })
    }

    /// The value at this path, if every step exists.
    pub fn lookup<'v>(&self, root: &'v Value) -> Option<&'v Value> {
        self.segments.iter().try_fold(root, |value, segment| match value {
            Value::Object(map) => map.get(&**segment),
            Value::Array(items) => array_index(segment).and_then(|i| items.get(i)),
            _ => None,
        })
    }
}

fn array_index(segment: &str) -> Option<usize> {
    let canonical = segment == "0" || !segment.starts_with('0');
    match canonical && segment.bytes().all(|b| b.is_ascii_digit()) {
        true => segment.parse().ok(),
        false => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn path(p: &str) -> FieldPath {
        FieldPath::parse(p.as_bytes()).unwrap()
    }

    #[test]
    fn paths_reach_object_keys_and_array_items() {
        let state = json!({"cart": {"count": 3, "items": [{"name": "Hat"}], "0": "zero"}});
        assert_eq!(path("cart.count").lookup(&state), Some(&json!(3)));
        assert_eq!(path("cart.items.0.name").lookup(&state), Some(&json!("Hat")));
        assert_eq!(path("cart.0").lookup(&state), Some(&json!("zero")));
        assert_eq!(path("cart.items.1").lookup(&state), None);
        assert_eq!(path("cart.items.00").lookup(&state), None);
        assert_eq!(path("cart.items.+0").lookup(&state), None);
        assert_eq!(path("cart.count.x").lookup(&state), None);
        assert_eq!(path("nope").lookup(&state), None);
        assert_eq!(path("x").lookup(&json!([1])), None);
        assert_eq!(path("99999999999999999999999").lookup(&json!([1])), None);
    }

    #[test]
    fn bad_paths_are_named() {
        for bad in ["", ".a", "a.", "a..b", "a b", "a{b}", "a\tb"] {
            let err = FieldPath::parse(bad.as_bytes()).unwrap_err();
            assert_eq!(err.value, bad.as_bytes(), "{bad:?}");
            assert!(err.message("microcache_hydrate_text").starts_with("invalid field \""));
        }
        assert!(FieldPath::parse(b"a\xff").is_err());
        assert!(FieldPath::parse("a.".repeat(32).trim_end_matches('.').as_bytes()).is_ok());
        assert!(FieldPath::parse("a.".repeat(33).trim_end_matches('.').as_bytes()).is_err());
        assert!(FieldPath::parse("prix_€.total-ttc".as_bytes()).is_ok());
    }
}
