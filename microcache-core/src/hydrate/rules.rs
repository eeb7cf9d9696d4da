//! The hydration directives, compiled once when the configuration is read.

use lol_html::Selector;

use crate::config::ConfError;
use crate::hydrate::path::FieldPath;
use crate::hydrate::template::Template;

/// What `microcache_hydrate_script`, `microcache_hydrate_text` and `microcache_hydrate_attr`
/// ask for in one location. Cloning shares the compiled selectors.
#[derive(Clone, Debug, Default)]
pub struct Rules {
    pub(crate) script: Option<ScriptRule>,
    pub(crate) texts: Vec<TextRule>,
    pub(crate) attrs: Vec<AttrRule>,
}

#[derive(Clone, Debug)]
pub(crate) struct ScriptRule {
    pub name: Box<str>,
    /// `head`, whose end tag the script goes before, and `body`, before which it goes when the
    /// page leaves `</head>` out.
    pub head: Selector,
    pub body: Selector,
}

#[derive(Clone, Debug)]
pub(crate) struct TextRule {
    pub selector: Selector,
    pub field: FieldPath,
}

#[derive(Clone, Debug)]
pub(crate) struct AttrRule {
    pub selector: Selector,
    pub name: Box<str>,
    pub template: Template,
}

/// Attributes whose value is script or markup: escaping cannot make a state value safe there.
const CODE_ATTRIBUTES: &[&str] = &["srcdoc"];

/// Attributes holding a URL, where a value starting `javascript:` would run.
const URL_ATTRIBUTES: &[&str] = &[
    "action",
    "background",
    "cite",
    "codebase",
    "data",
    "formaction",
    "href",
    "poster",
    "src",
    "xlink:href",
];

impl Rules {
    /// Nothing to rewrite.
    pub fn is_empty(&self) -> bool {
        self.script.is_none() && self.texts.is_empty() && self.attrs.is_empty()
    }

    /// Adds the rules of `other` after these; its script, if it has one, replaces this one's.
    /// The glue builds each directive's rule apart and a level's rules by extending.
    pub fn extend(&mut self, other: &Rules) {
        if other.script.is_some() {
            self.script.clone_from(&other.script);
        }
        self.texts.extend_from_slice(&other.texts);
        self.attrs.extend_from_slice(&other.attrs);
    }

    /// `microcache_hydrate_script NAME`: `window.NAME` is set to the state. NAME is an ASCII
    /// JavaScript identifier or a dotted path of them (`shop.state`, whose `window.shop` the page
    /// must have created in an earlier script); `__proto__` is refused.
    pub fn set_script(&mut self, name: &[u8]) -> Result<(), ConfError> {
        let error = |reason: &str| ConfError {
            kind: "name",
            value: name.to_vec(),
            reason: reason.to_owned(),
        };
        let identifier = |s: &[u8]| {
            matches!(s.first(), Some(c) if c.is_ascii_alphabetic() || matches!(c, b'_' | b'$'))
                && s.iter().all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'$'))
        };
        if !name.split(|&c| c == b'.').all(identifier) {
            return Err(error(
                "the name must be an ASCII JavaScript identifier or identifiers joined by dots",
            ));
        }
        if name.split(|&c| c == b'.').any(|s| s == b"__proto__") {
            return Err(error("\"__proto__\" would replace a prototype"));
        }
        if name.len() > 255 {
            return Err(error("the name is longer than 255 characters"));
        }
        let name = std::str::from_utf8(name).expect("checked ASCII");
        self.script = Some(ScriptRule {
            name: name.into(),
            head: static_selector("head"),
            body: static_selector("body"),
        });
        Ok(())
    }

    /// `microcache_hydrate_text SELECTOR FIELD`: the text of each element matching SELECTOR
    /// becomes FIELD (see [`State::field`](crate::hydrate::State::field)), HTML-escaped.
    ///
    /// The element needs its end tag: lol_html keeps no document tree, so for a `<p>` or `<li>`
    /// whose end tag the page leaves out, the content it replaces runs to the parent's end tag.
    pub fn add_text(&mut self, selector: &[u8], field: &[u8]) -> Result<(), ConfError> {
        let selector = parse_selector(selector)?;
        self.texts.push(TextRule { selector, field: FieldPath::parse(field)? });
        Ok(())
    }

    /// `microcache_hydrate_attr SELECTOR ATTR TEMPLATE`: attribute ATTR of each element matching
    /// SELECTOR is set to TEMPLATE (see [`Template`]), attribute-escaped.
    ///
    /// ATTR is an ASCII attribute name. Event handlers (`on…`) and `srcdoc` are refused: their
    /// values are code, which no escaping makes safe. In a URL attribute (`href`, `src`, …) the
    /// template must fix the scheme before the first field: its literal start contains `:`, `/`,
    /// `?` or `#` (`/cart/{id}`, `https://…/{id}`), so no field can make it `javascript:`.
    pub fn add_attr(
        &mut self,
        selector: &[u8],
        attr: &[u8],
        template: &[u8],
    ) -> Result<(), ConfError> {
        let selector = parse_selector(selector)?;
        let name = attribute_name(attr)?;
        let parsed = Template::parse(template)?;
        let scheme_fixed =
            parsed.leading_literal().is_some_and(|l| l.contains([':', '/', '?', '#']));
        if URL_ATTRIBUTES.contains(&&*name) && parsed.has_fields() && !scheme_fixed {
            return Err(ConfError {
                kind: "template",
                value: template.to_vec(),
                reason: format!(
                    "a field can set the scheme of \"{name}\": start the template with a \
                     path (\"/\") or a scheme (\"https://\")"
                ),
            });
        }
        self.attrs.push(AttrRule { selector, name, template: parsed });
        Ok(())
    }
}

fn attribute_name(attr: &[u8]) -> Result<Box<str>, ConfError> {
    let error = |reason: &str| ConfError {
        kind: "attribute",
        value: attr.to_vec(),
        reason: reason.to_owned(),
    };
    let valid = matches!(attr.first(), Some(c) if c.is_ascii_alphabetic() || *c == b'_')
        && attr.iter().all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'-' | b':' | b'.'));
    if !valid {
        return Err(error(
            "an attribute name is ASCII letters, digits, \"-\", \"_\", \":\" and \".\"",
        ));
    }
    let name = String::from_utf8(attr.to_ascii_lowercase()).expect("checked ASCII");
    if name.starts_with("on") || CODE_ATTRIBUTES.contains(&&*name) {
        return Err(error("its value is code, which escaping cannot make safe"));
    }
    Ok(name.into())
}

fn parse_selector(selector: &[u8]) -> Result<Selector, ConfError> {
    let error = |reason: String| ConfError { kind: "selector", value: selector.to_vec(), reason };
    let text =
        std::str::from_utf8(selector).map_err(|_| error("a selector must be UTF-8".into()))?;
    text.parse().map_err(|e: lol_html::errors::SelectorError| error(e.to_string()))
}

fn static_selector(selector: &str) -> Selector {
    selector.parse().expect("a valid selector")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send_sync<T: Send + Sync>() {}

    #[test]
    fn rules_are_shareable_across_threads() {
        assert_send_sync::<Rules>();
    }

    #[test]
    fn extending_appends_rules_and_replaces_the_script() {
        let mut level = Rules::default();
        assert!(level.is_empty());
        let mut one = Rules::default();
        one.add_text(b".count", b"cart.count").unwrap();
        level.extend(&one);
        let mut two = Rules::default();
        two.set_script(b"cart").unwrap();
        two.add_attr(b"a.cart", b"data-count", b"{cart.count}").unwrap();
        level.extend(&two);
        let mut three = Rules::default();
        three.set_script(b"shop").unwrap();
        level.extend(&three);
        assert_eq!((level.texts.len(), level.attrs.len()), (1, 1));
        assert_eq!(level.script.as_ref().map(|s| &*s.name), Some("shop"));
        level.extend(&Rules::default());
        assert_eq!(level.script.as_ref().map(|s| &*s.name), Some("shop"));
    }

    #[test]
    fn script_names_are_javascript_identifiers() {
        let mut rules = Rules::default();
        for good in ["state", "__STATE__", "$s", "shop.state_2", "a.class"] {
            rules.set_script(good.as_bytes()).unwrap();
        }
        for bad in ["", "1a", "a-b", "a.", ".a", "a..b", "a b", "a;alert(1)", "é", "x.__proto__"] {
            let err = rules.set_script(bad.as_bytes()).unwrap_err();
            assert_eq!((err.kind, &err.value[..]), ("name", bad.as_bytes()), "{bad:?}");
        }
        assert!(rules.set_script("a".repeat(256).as_bytes()).is_err());
    }

    #[test]
    fn bad_selectors_attributes_and_fields_are_named() {
        let mut rules = Rules::default();
        rules.add_text(b".mini-cart .count, #cart > span[data-x=\"1\"]", b"cart.count").unwrap();
        let err = rules.add_text(b"div[", b"x").unwrap_err();
        assert_eq!((err.kind, &err.value[..]), ("selector", &b"div["[..]));
        assert!(err
            .message("microcache_hydrate_text")
            .starts_with("invalid selector \"div[\" in \"microcache_hydrate_text\" directive, "));
        assert_eq!(rules.add_text(b"", b"x").unwrap_err().kind, "selector");
        assert_eq!(rules.add_text(b"p", b"a..b").unwrap_err().kind, "field");

        rules.add_attr(b"a.cart", b"data-count", b"{cart.count}").unwrap();
        rules.add_attr(b"a.cart", b"aria-label", b"Cart ({cart.count})").unwrap();
        for bad in ["", "1x", "data count", "x=y", "x\"", "x>", "é"] {
            let err = rules.add_attr(b"a", bad.as_bytes(), b"v").unwrap_err();
            assert_eq!((err.kind, &err.value[..]), ("attribute", bad.as_bytes()), "{bad:?}");
        }
        for code in ["onclick", "ONLOAD", "srcdoc"] {
            assert_eq!(rules.add_attr(b"a", code.as_bytes(), b"x").unwrap_err().kind, "attribute");
        }
        assert_eq!(rules.add_attr(b"a", b"title", b"{").unwrap_err().kind, "template");
    }

    #[test]
    fn url_attributes_need_a_fixed_scheme_before_any_field() {
        let mut rules = Rules::default();
        for good in ["/cart/{id}", "https://shop.example/{id}", "?n={n}", "#{id}", "/static", ""] {
            rules.add_attr(b"a", b"href", good.as_bytes()).unwrap();
        }
        for bad in ["{url}", "java{x}", "x{id}/"] {
            for attr in ["href", "SRC", "action", "formaction", "xlink:href"] {
                let err = rules.add_attr(b"a", attr.as_bytes(), bad.as_bytes()).unwrap_err();
                assert_eq!((err.kind, &err.value[..]), ("template", bad.as_bytes()));
            }
        }
        rules.add_attr(b"a", b"title", b"{url}").unwrap();
    }
}
