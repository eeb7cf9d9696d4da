//! Attribute templates: `/cart?items={cart.count}`.

use crate::config::ConfError;
use crate::hydrate::escape;
use crate::hydrate::path::FieldPath;
use crate::hydrate::state::State;

/// Literal text and `{field}` placeholders; `{{` and `}}` stand for literal braces.
///
/// The template is the value the browser sees: literal text is attribute-escaped like the
/// fields, so write `&`, not `&amp;`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Template {
    parts: Box<[Part]>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Part {
    /// Already attribute-escaped.
    Literal(Box<str>),
    Field(FieldPath),
}

impl Template {
    pub fn parse(template: &[u8]) -> Result<Template, ConfError> {
        let error = |reason: &str| ConfError {
            kind: "template",
            value: template.to_vec(),
            reason: reason.to_owned(),
        };
        let text = std::str::from_utf8(template).map_err(|_| error("a template must be UTF-8"))?;
        let mut parts = Vec::new();
        let mut literal = String::new();
        let mut rest = text;
        while let Some(at) = rest.find(['{', '}']) {
            literal.push_str(&rest[..at]);
            let brace = &rest[at..at + 1];
            let after = &rest[at + 1..];
            if let Some(next) = after.strip_prefix(brace) {
                literal.push_str(brace);
                rest = next;
                continue;
            }
            if brace == "}" {
                return Err(error("a literal \"}\" is written \"}}\""));
            }
            let end = after.find('}').ok_or_else(|| {
                error(
                    "a \"{\" opens a field that is never closed; a literal \"{\" is written \"{{\"",
                )
            })?;
            let (name, after_field) = after.split_at(end);
            let field = FieldPath::parse(name.as_bytes())
                .map_err(|e| error(&format!("\"{{{name}}}\": {}", e.reason)))?;
            push_literal(&mut parts, &mut literal);
            parts.push(Part::Field(field));
            rest = &after_field[1..];
        }
        literal.push_str(rest);
        push_literal(&mut parts, &mut literal);
        Ok(Template { parts: parts.into() })
    }

    /// The literal text before the first field, attribute-escaped.
    pub(crate) fn leading_literal(&self) -> Option<&str> {
        match self.parts.first() {
            Some(Part::Literal(l)) => Some(l),
            _ => None,
        }
    }

    pub(crate) fn has_fields(&self) -> bool {
        self.parts.iter().any(|p| matches!(p, Part::Field(_)))
    }

    /// The attribute-escaped value, or `None` when a field does not render (see
    /// [`State::field`]): then the attribute is left as it is.
    pub fn render(&self, state: &State) -> Option<String> {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Literal(l) => out.push_str(l),
                Part::Field(f) => escape::attribute(&state.field(f)?, &mut out),
            }
        }
        Some(out)
    }
}

fn push_literal(parts: &mut Vec<Part>, literal: &mut String) {
    if !literal.is_empty() {
        let mut escaped = String::with_capacity(literal.len());
        escape::attribute(literal, &mut escaped);
        parts.push(Part::Literal(escaped.into()));
        literal.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hydrate::state::DEFAULT_MAX_SIZE;

    fn render(template: &str, state: &str) -> Option<String> {
        let state = State::parse(state.as_bytes(), DEFAULT_MAX_SIZE).unwrap();
        Template::parse(template.as_bytes()).unwrap().render(&state)
    }

    #[test]
    fn templates_fill_escaped_fields() {
        let state = r#"{"cart":{"count":2,"name":"\"><svg onload=alert(1)>"},"z":null}"#;
        assert_eq!(render("/cart?n={cart.count}&x=1", state).as_deref(), Some("/cart?n=2&amp;x=1"));
        assert_eq!(
            render("{cart.name}", state).as_deref(),
            Some("&quot;&gt;&lt;svg onload=alert(1)&gt;")
        );
        assert_eq!(render("{{{cart.count}}} }}{{", state).as_deref(), Some("{2} }{"));
        assert_eq!(render("[{z}]", state).as_deref(), Some("[]"));
        assert_eq!(render("{cart.count} {missing}", state), None);
        assert_eq!(render("{cart}", state), None);
        assert_eq!(render("", state).as_deref(), Some(""));
    }

    #[test]
    fn bad_templates_are_named() {
        for bad in ["{", "a{b", "}", "a}b", "{}", "{a..b}", "{a b}", "{{a}"] {
            let err = Template::parse(bad.as_bytes()).unwrap_err();
            assert_eq!((err.kind, &err.value[..]), ("template", bad.as_bytes()), "{bad:?}");
        }
        let err = Template::parse(b"x{a..b}").unwrap_err();
        assert!(err.message("microcache_hydrate_attr").contains("\"{a..b}\": a field is keys"));
    }
}
