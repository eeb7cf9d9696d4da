//! The escaping that keeps state values from becoming markup or script.
//!
//! Every function appends to `out`. None of their outputs can end the element or attribute it is
//! written into: the script form contains no `<`, `>`, `&` or non-ASCII byte at all, text contains
//! no `<` or `>`, and an attribute value no quote, `<` or `>`; `&` only ever starts an entity that
//! these functions wrote.

/// HTML text content: `&`, `<`, `>` as entities; NUL (dropped or mangled by browsers) as U+FFFD.
pub fn text(value: &str, out: &mut String) {
    escape_with(value, out, |c| match c {
        '&' => Some("&amp;"),
        '<' => Some("&lt;"),
        '>' => Some("&gt;"),
        '\0' => Some("\u{FFFD}"),
        _ => None,
    });
}

/// A double-quoted attribute value: also both quotes, so the value is safe in either quoting.
pub fn attribute(value: &str, out: &mut String) {
    escape_with(value, out, |c| match c {
        '&' => Some("&amp;"),
        '<' => Some("&lt;"),
        '>' => Some("&gt;"),
        '"' => Some("&quot;"),
        '\'' => Some("&#39;"),
        '\0' => Some("\u{FFFD}"),
        _ => None,
    });
}

fn escape_with(value: &str, out: &mut String, replacement: impl Fn(char) -> Option<&'static str>) {
    let mut copied = 0;
    for (at, c) in value.char_indices() {
        if let Some(r) = replacement(c) {
            out.push_str(&value[copied..at]);
            out.push_str(r);
            copied = at + c.len_utf8();
        }
    }
    out.push_str(&value[copied..]);
}

/// Valid JSON text as a JavaScript expression for the inside of a `<script>` element.
///
/// `<`, `>` and `&` become `\u003c`, `\u003e`, `\u0026`, and every non-ASCII character its
/// `\uXXXX` escape (a surrogate pair above U+FFFF), which covers U+2028 and U+2029 and keeps the
/// script the same in any ASCII-compatible page encoding. In valid JSON all of these occur only
/// inside strings, where the escape stands for the same character, so the expression has the
/// value `JSON.parse` gives the text (but see [`js_string`] for `__proto__`).
pub fn script_json(json: &str, out: &mut String) {
    let mut copied = 0;
    for (at, c) in json.char_indices() {
        if c.is_ascii() && !matches!(c, '<' | '>' | '&') {
            continue;
        }
        out.push_str(&json[copied..at]);
        let mut units = [0u16; 2];
        for unit in c.encode_utf16(&mut units) {
            push_unicode_escape(*unit, out);
        }
        copied = at + c.len_utf8();
    }
    out.push_str(&json[copied..]);
}

fn push_unicode_escape(unit: u16, out: &mut String) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push_str("\\u");
    for shift in [12, 8, 4, 0] {
        out.push(char::from(HEX[usize::from(unit >> shift) & 0xf]));
    }
}

/// The output of [`script_json`] as a double-quoted JavaScript string literal, for
/// `JSON.parse("…")`: an object literal gives a `"__proto__"` key a meaning JSON does not.
pub fn js_string(script_json: &str, out: &mut String) {
    out.push('"');
    escape_with(script_json, out, |c| match c {
        '\\' => Some("\\\\"),
        '"' => Some("\\\""),
        '\n' => Some("\\n"),
        '\r' => Some("\\r"),
        _ => None,
    });
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(f: fn(&str, &mut String), value: &str) -> String {
        let mut out = String::new();
        f(value, &mut out);
        out
    }

    #[test]
    fn text_and_attribute_escape_markup() {
        assert_eq!(run(text, "a<b>&c\"'\0"), "a&lt;b&gt;&amp;c\"'\u{FFFD}");
        assert_eq!(
            run(attribute, "\"><svg onload=alert(1)>"),
            "&quot;&gt;&lt;svg onload=alert(1)&gt;"
        );
        assert_eq!(run(attribute, "it's &amp;"), "it&#39;s &amp;amp;");
        assert_eq!(run(text, "plain é"), "plain é");
    }

    #[test]
    fn script_json_is_ascii_without_markup_characters() {
        let json =
            "{\"a\":\"</script><img src=x onerror=alert(1)>\",\"b\":\"<!--\u{2028}\u{2029}é😀&\"}";
        assert_eq!(
            run(script_json, json),
            "{\"a\":\"\\u003c/script\\u003e\\u003cimg src=x onerror=alert(1)\\u003e\",\
             \"b\":\"\\u003c!--\\u2028\\u2029\\u00e9\\ud83d\\ude00\\u0026\"}"
        );
    }

    #[test]
    fn js_string_quotes_the_escaped_json() {
        assert_eq!(run(js_string, "{\"a\":\"x\\\"y\"}\n"), r#""{\"a\":\"x\\\"y\"}\n""#);
    }
}
