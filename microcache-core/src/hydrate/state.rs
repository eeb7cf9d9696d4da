//! The per-request state: a JSON document, parsed defensively.

use std::borrow::Cow;
use std::fmt;

use serde_json::Value;

use crate::hydrate::escape;
use crate::hydrate::path::FieldPath;

/// `microcache_hydrate_max_size` when it is not set.
pub const DEFAULT_MAX_SIZE: usize = 64 * 1024;

/// Why a state response cannot be used; [`StateError::reason`] is the `REASON` of
/// `$microcache_hydrate_status` (`failed:REASON`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StateError {
    /// Longer than the configured maximum.
    TooLarge { size: usize, max: usize },
    /// Not JSON, or JSON beyond what it can hold: invalid UTF-8, a lone surrogate escape, a
    /// number too large for a double (`1e400`), nesting deeper than 128.
    Json(String),
}

impl StateError {
    pub fn reason(&self) -> &'static str {
        match self {
            StateError::TooLarge { .. } => "too_large",
            StateError::Json(_) => "invalid_json",
        }
    }
}

impl fmt::Display for StateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StateError::TooLarge { size, max } => {
                write!(f, "state of {size} bytes is larger than {max} bytes")
            }
            StateError::Json(e) => write!(f, "state is not valid JSON: {e}"),
        }
    }
}

/// A parsed state. serde_json bounds nesting at 128 levels, so neither parsing nor dropping can
/// exhaust the stack, and it rejects invalid UTF-8 and unpaired surrogate escapes, so every string
/// is valid Unicode.
#[derive(Debug)]
pub struct State {
    value: Value,
    /// The text as received, for the script: it keeps the key order and number spelling.
    json: Box<str>,
    /// Some object has a `"__proto__"` key, which a JavaScript object literal would turn into
    /// the object's prototype (and reject when repeated).
    proto_key: bool,
}

impl State {
    /// The state from the subrequest's body, refused when longer than `max_size`.
    pub fn parse(body: &[u8], max_size: usize) -> Result<State, StateError> {
        if body.len() > max_size {
            return Err(StateError::TooLarge { size: body.len(), max: max_size });
        }
        let value: Value =
            serde_json::from_slice(body).map_err(|e| StateError::Json(e.to_string()))?;
        // from_slice has checked the UTF-8.
        let json = String::from_utf8_lossy(body).into();
        let proto_key = has_proto_key(&value);
        Ok(State { value, json, proto_key })
    }

    /// `<script>window.NAME=…;</script>`, the state escaped by [`escape::script_json`].
    pub(crate) fn script_element(&self, name: &str) -> String {
        let mut out = String::with_capacity(self.json.len() + name.len() + 40);
        out.push_str("<script>window.");
        out.push_str(name);
        out.push('=');
        if self.proto_key {
            let mut json = String::with_capacity(self.json.len());
            escape::script_json(&self.json, &mut json);
            out.push_str("JSON.parse(");
            escape::js_string(&json, &mut out);
            out.push(')');
        } else {
            escape::script_json(&self.json, &mut out);
        }
        out.push_str(";</script>");
        out
    }

    /// The text a field renders as, unescaped; `None` leaves the page as it is.
    ///
    /// | field                     | renders as                                               |
    /// |---------------------------|----------------------------------------------------------|
    /// | string                    | the string                                               |
    /// | number                    | shortest form that reads back the same: `19.90` → `19.9`, `1e3` → `1000.0` (send a string for a formatted amount) |
    /// | `true`, `false`           | `true`, `false`                                          |
    /// | `null`                    | nothing (the element is emptied, the placeholder empty)  |
    /// | missing, object or array  | `None`: the element or attribute keeps the skeleton's content |
    pub fn field(&self, path: &FieldPath) -> Option<Cow<'_, str>> {
        match path.lookup(&self.value)? {
            Value::String(s) => Some(Cow::Borrowed(s)),
            Value::Number(n) => Some(Cow::Owned(n.to_string())),
            Value::Bool(b) => Some(Cow::Borrowed(if *b { "true" } else { "false" })),
            Value::Null => Some(Cow::Borrowed("")),
            Value::Object(_) | Value::Array(_) => None,
        }
    }
}

fn has_proto_key(value: &Value) -> bool {
    let mut pending = vec![value];
    while let Some(value) = pending.pop() {
        match value {
            Value::Object(map) => {
                if map.contains_key("__proto__") {
                    return true;
                }
                pending.extend(map.values());
            }
            Value::Array(items) => pending.extend(items),
            _ => {}
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(state: &State, path: &str) -> Option<String> {
        state.field(&FieldPath::parse(path.as_bytes()).unwrap()).map(Cow::into_owned)
    }

    #[test]
    fn fields_render_by_type() {
        let state = State::parse(
            br#"{"s":"x<y","n":19.90,"i":3,"e":1e3,"t":true,"f":false,"z":null,"o":{},"a":[]}"#,
            DEFAULT_MAX_SIZE,
        )
        .unwrap();
        assert_eq!(field(&state, "s").as_deref(), Some("x<y"));
        assert_eq!(field(&state, "n").as_deref(), Some("19.9"));
        assert_eq!(field(&state, "i").as_deref(), Some("3"));
        assert_eq!(field(&state, "e").as_deref(), Some("1000.0"));
        assert_eq!(field(&state, "t").as_deref(), Some("true"));
        assert_eq!(field(&state, "f").as_deref(), Some("false"));
        assert_eq!(field(&state, "z").as_deref(), Some(""));
        assert_eq!(field(&state, "o"), None);
        assert_eq!(field(&state, "a"), None);
        assert_eq!(field(&state, "missing"), None);
    }

    #[test]
    fn bad_state_is_refused_with_a_reason() {
        let too_large = State::parse(&[b' '; 11], 10).unwrap_err();
        assert_eq!(too_large.reason(), "too_large");
        for bad in [
            &b""[..],
            b"{",
            b"{\"a\":1}x",
            b"\xef\xbb\xbf{}",
            b"\"\xff\"",
            b"\"\\ud800\"",
            b"NaN",
            b"{'a':1}",
            b"[1e400]",
        ] {
            let err = State::parse(bad, DEFAULT_MAX_SIZE).unwrap_err();
            assert_eq!(err.reason(), "invalid_json", "{bad:?}");
        }
        let deep = [&[b'['; 60_000][..], &[b']'; 60_000][..]].concat();
        assert_eq!(State::parse(&deep, 1 << 20).unwrap_err().reason(), "invalid_json");
        let fine = [&[b'['; 100][..], &[b']'; 100][..]].concat();
        assert!(State::parse(&fine, 1 << 20).is_ok());
    }

    #[test]
    fn the_script_keeps_the_json_as_sent_except_for_proto_keys() {
        let state = State::parse(br#"{"b":1.50,"a":"</script>"}"#, 100).unwrap();
        assert_eq!(
            state.script_element("S"),
            r#"<script>window.S={"b":1.50,"a":"\u003c/script\u003e"};</script>"#
        );
        let state = State::parse(br#"{"x":[{"__proto__":{"y":"<"}}]}"#, 100).unwrap();
        assert_eq!(
            state.script_element("S"),
            r#"<script>window.S=JSON.parse("{\"x\":[{\"__proto__\":{\"y\":\"\\u003c\"}}]}");</script>"#
        );
    }
}
