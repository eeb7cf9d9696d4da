//! The streaming rewrite of one response.

use std::borrow::Cow;
use std::cell::{Cell, RefCell};
use std::rc::Rc;

use encoding_rs::Encoding;
use lol_html::html_content::{ContentType, Element, EndTag};
use lol_html::{
    AsciiCompatibleEncoding, ElementContentHandlers, HandlerResult, HtmlRewriter, MemorySettings,
    OutputSink, Selector, Settings,
};

use crate::hydrate::escape;
use crate::hydrate::rules::Rules;
use crate::hydrate::state::State;

/// The most memory lol_html may use for one response, beyond what it starts with. It grows only
/// to hold one token (a tag with its attributes) split across writes; a page with a longer tag is
/// passed on unchanged from that tag on (see [`Summary::bailed_out`]).
pub const MEMORY_LIMIT: usize = 256 * 1024;

/// The response's charset is not one whose ASCII bytes mean ASCII (UTF-16, ISO-2022-JP) or is
/// unknown: the rewriter cannot find tags in it. The glue passes such a response on unchanged.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnsupportedCharset(pub Vec<u8>);

/// How a response's rewrite went, from [`Rewriter::end`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    /// The script went in (false without `microcache_hydrate_script`, or when the page has
    /// neither `</head>` nor `<body>`).
    pub script_inserted: bool,
    /// Why the rewriter stopped early; the rest of the page went out unchanged.
    pub bailed_out: Option<String>,
}

/// One response being rewritten: feed it the body in chunks split anywhere, take what it emits.
pub struct Rewriter {
    html: Option<HtmlRewriter<'static, Sink>>,
    out: Rc<RefCell<Vec<u8>>>,
    script_inserted: Rc<Cell<bool>>,
    bailed_out: Option<String>,
}

struct Sink(Rc<RefCell<Vec<u8>>>);

impl OutputSink for Sink {
    fn handle_chunk(&mut self, chunk: &[u8]) {
        self.0.borrow_mut().extend_from_slice(chunk);
    }
}

type Handler = (Cow<'static, Selector>, ElementContentHandlers<'static>);

fn on_element(
    selector: &Selector,
    mut handler: impl FnMut(&mut Element<'_, '_>) -> HandlerResult + 'static,
) -> Handler {
    let handlers =
        ElementContentHandlers::default().element(move |el: &mut Element<'_, '_>| handler(el));
    (Cow::Owned(selector.clone()), handlers)
}

impl Rewriter {
    /// A rewriter applying `rules` with `state` to a response in `charset` (the `charset`
    /// parameter of its `Content-Type`, if any). Without a charset the page is read as UTF-8
    /// unless a `<meta charset>` says otherwise, as browsers do; inserted text is written in the
    /// page's charset, characters it lacks as character references.
    ///
    /// Every value is rendered and escaped here, once; fields that do not render leave their
    /// elements alone and cost nothing while streaming.
    pub fn new(
        rules: &Rules,
        state: &State,
        charset: Option<&[u8]>,
    ) -> Result<Rewriter, UnsupportedCharset> {
        let encoding = match charset {
            None => AsciiCompatibleEncoding::utf_8(),
            Some(label) => Encoding::for_label_no_replacement(label)
                .and_then(AsciiCompatibleEncoding::new)
                .ok_or_else(|| UnsupportedCharset(label.to_vec()))?,
        };
        let out = Rc::new(RefCell::new(Vec::new()));
        let script_inserted = Rc::new(Cell::new(false));
        let mut handlers = Vec::new();
        if let Some(rule) = &rules.script {
            let script: Rc<str> = state.script_element(&rule.name).into();
            let (inserted, html) = (script_inserted.clone(), script.clone());
            handlers.push(on_element(&rule.head, move |head| {
                let (inserted, html) = (inserted.clone(), html.clone());
                let before_end = move |end: &mut EndTag<'_>| {
                    if !inserted.replace(true) {
                        end.before(&html, ContentType::Html);
                    }
                    Ok(())
                };
                head.on_end_tag(Box::new(before_end))
            }));
            let inserted = script_inserted.clone();
            handlers.push(on_element(&rule.body, move |body| {
                if !inserted.replace(true) {
                    body.before(&script, ContentType::Html);
                }
                Ok(())
            }));
        }
        for rule in &rules.texts {
            let Some(value) = state.field(&rule.field) else { continue };
            let mut text = String::with_capacity(value.len());
            escape::text(&value, &mut text);
            handlers.push(on_element(&rule.selector, move |el| {
                el.set_inner_content(&text, ContentType::Html);
                Ok(())
            }));
        }
        for rule in &rules.attrs {
            let Some(value) = rule.template.render(state) else { continue };
            let name = rule.name.clone();
            handlers
                .push(on_element(&rule.selector, move |el| Ok(el.set_attribute(&name, &value)?)));
        }
        let memory = MemorySettings::new()
            .with_max_allowed_memory_usage(MEMORY_LIMIT)
            .with_graceful_bail_out_on_memory_limit_exceeded(true);
        let mut settings = Settings::new()
            .with_encoding(encoding)
            .with_adjust_charset_on_meta_tag(charset.is_none())
            .with_memory_settings(memory)
            // Strict mode stops on markup whose parsing context is ambiguous. Every value is
            // escaped for any context (no `<` ever goes in), so a guess cannot open markup, and
            // stopping would leave the page half rewritten.
            .with_strict(false)
            .with_graceful_bail_out_on_content_handler_error(true);
        for handler in handlers {
            settings = settings.append_element_content_handler(handler);
        }
        let html = HtmlRewriter::new(settings, Sink(out.clone()));
        Ok(Rewriter { html: Some(html), out, script_inserted, bailed_out: None })
    }

    /// Rewrites the next chunk of the body. `emit` is called once with all the output that is
    /// ready (possibly less or more than `chunk`: a tag split across chunks waits for its end),
    /// or not at all when nothing is.
    pub fn write(&mut self, chunk: &[u8], emit: impl FnOnce(&[u8])) {
        let Some(html) = &mut self.html else { return emit(chunk) };
        if let Err(e) = html.write(chunk) {
            self.bail_out(e);
        }
        self.drain(emit);
    }

    /// Ends the body: emits what is still held back and says how the rewrite went. Writing
    /// after the end passes chunks through unchanged.
    pub fn end(&mut self, emit: impl FnOnce(&[u8])) -> Summary {
        if let Some(html) = self.html.take() {
            if let Err(e) = html.end() {
                self.bail_out(e);
            }
        }
        self.drain(emit);
        Summary { script_inserted: self.script_inserted.get(), bailed_out: self.bailed_out.clone() }
    }

    /// lol_html has flushed the input it held, unchanged, and cannot be used again.
    fn bail_out(&mut self, error: lol_html::errors::RewritingError) {
        self.html = None;
        self.bailed_out = Some(error.to_string());
    }

    fn drain(&self, emit: impl FnOnce(&[u8])) {
        let mut out = self.out.borrow_mut();
        if !out.is_empty() {
            emit(&out);
            out.clear();
        }
    }
}
