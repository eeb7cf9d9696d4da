//! The streaming rewrite of one response, and plans that replay it for a page seen before.

use std::borrow::Cow;
use std::cell::{Cell, RefCell};
use std::ops::Range;
use std::rc::Rc;

use encoding_rs::{Encoding, UTF_8};
use lol_html::errors::RewritingError;
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

/// The largest page recorded into a [`Plan`]: recording holds the page and its rewrite.
pub const PLAN_MAX_PAGE: usize = 256 * 1024;

/// Marks where a value goes in a recorded rewrite: `\x01` index `\x02`. A page containing
/// `\x01` is not recorded.
const MARK: u8 = 1;
const MARK_END: u8 = 2;

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

/// A page rewritten before with the same rules, as lol_html left it with a gap for each value:
/// the same page again is rewritten by copying around the gaps, without parsing.
///
/// A plan belongs to one cached page and one location's rules: the glue keeps it under the
/// cache entry's identity and the location. The page's bytes are kept too and every response
/// is compared with them, so a plan never applies to a page it was not made from.
#[derive(Debug)]
pub struct Plan {
    page: Box<[u8]>,
    output: Box<[u8]>,
    pieces: Box<[Piece]>,
    /// The rules that had a value, by number: another set of values needs another plan.
    rules: Box<[usize]>,
    script_inserted: bool,
}

#[derive(Debug)]
enum Piece {
    Output(Range<usize>),
    Value(usize),
}

impl Plan {
    /// Memory the plan holds, for the glue's bound on its plan cache.
    pub fn size(&self) -> usize {
        self.page.len() + self.output.len() + self.pieces.len() * size_of::<Piece>()
    }

    /// The plan of a recorded rewrite, if every mark in it is one of `values`.
    fn from_recording(
        page: Vec<u8>,
        output: Vec<u8>,
        values: &[Value],
        script: bool,
    ) -> Option<Plan> {
        let mut pieces = Vec::new();
        let mut copied = 0;
        while let Some(at) = output[copied..].iter().position(|&b| b == MARK).map(|i| copied + i) {
            pieces.push(Piece::Output(copied..at));
            let len = output[at + 1..].iter().position(|&b| b == MARK_END)?;
            let index = std::str::from_utf8(&output[at + 1..at + 1 + len]).ok()?.parse().ok()?;
            (index < values.len()).then_some(())?;
            pieces.push(Piece::Value(index));
            copied = at + len + 2;
        }
        pieces.push(Piece::Output(copied..output.len()));
        pieces.retain(|p| !matches!(p, Piece::Output(r) if r.is_empty()));
        Some(Plan {
            page: page.into(),
            output: output.into(),
            pieces: pieces.into(),
            rules: values.iter().map(|v| v.rule).collect(),
            script_inserted: script,
        })
    }
}

/// Whether a [`Rewriter`] parses, records a [`Plan`] while parsing, or replays one.
pub enum PlanUse {
    /// Parse only (pages not from the cache).
    Off,
    /// Parse, and record a plan for [`Rewriter::take_plan`] if the page is UTF-8 (so declared
    /// in `Content-Type`), at most [`PLAN_MAX_PAGE`] and free of `\x01`. Recording runs lol_html
    /// a second time, over the page with marks for values.
    Record,
    /// Replay this plan if it was made with the same rules having values; record a new one if
    /// not, or if the page turns out to differ from the plan's.
    Replay(Rc<Plan>),
}

/// One response being rewritten: feed it the body in chunks split anywhere, take what it emits.
pub struct Rewriter {
    mode: Mode,
    values: Rc<[Value]>,
    encoding: AsciiCompatibleEncoding,
    charset_from_meta: bool,
    out: Rc<RefCell<Vec<u8>>>,
    script_inserted: Rc<Cell<bool>>,
    bailed_out: Option<String>,
    recorder: Option<Recorder>,
    plan: Option<Plan>,
}

enum Mode {
    Parse(Box<HtmlRewriter<'static, Sink>>),
    /// The page so far equals the plan's first `verified` bytes; nothing has gone out.
    Replay {
        plan: Rc<Plan>,
        verified: usize,
    },
    /// Nothing to rewrite (no value renders, a bail-out, or the end was reached).
    Pass,
}

/// lol_html over the page with marks for values, and the page, for a [`Plan`].
struct Recorder {
    html: HtmlRewriter<'static, Sink>,
    output: Rc<RefCell<Vec<u8>>>,
    script_inserted: Rc<Cell<bool>>,
    page: Vec<u8>,
}

/// What one rule puts in the page for this response.
struct Value {
    rule: usize,
    edit: Edit,
    /// Escaped for where it goes.
    html: Rc<str>,
}

enum Edit {
    Script { head: Selector, body: Selector },
    Text(Selector),
    Attr(Selector, Box<str>),
}

struct Sink(Rc<RefCell<Vec<u8>>>);

impl OutputSink for Sink {
    fn handle_chunk(&mut self, chunk: &[u8]) {
        self.0.borrow_mut().extend_from_slice(chunk);
    }
}

/// Each rule's value for this state, numbered in rule order (the script is 0); rules whose
/// field does not render have none.
fn render(rules: &Rules, state: &State) -> Vec<Value> {
    let mut values = Vec::new();
    if let Some(rule) = &rules.script {
        values.push(Value {
            rule: 0,
            edit: Edit::Script { head: rule.head.clone(), body: rule.body.clone() },
            html: state.script_element(&rule.name).into(),
        });
    }
    for (i, rule) in rules.texts.iter().enumerate() {
        let Some(value) = state.field(&rule.field) else { continue };
        let mut text = String::with_capacity(value.len());
        escape::text(&value, &mut text);
        values.push(Value {
            rule: 1 + i,
            edit: Edit::Text(rule.selector.clone()),
            html: text.into(),
        });
    }
    for (i, rule) in rules.attrs.iter().enumerate() {
        let Some(value) = rule.template.render(state) else { continue };
        values.push(Value {
            rule: 1 + rules.texts.len() + i,
            edit: Edit::Attr(rule.selector.clone(), rule.name.clone()),
            html: value.into(),
        });
    }
    values
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

/// lol_html putting `html(i)` where value `i` goes.
fn parser(
    values: &[Value],
    html: impl Fn(usize) -> Rc<str>,
    encoding: AsciiCompatibleEncoding,
    charset_from_meta: bool,
    output: &Rc<RefCell<Vec<u8>>>,
    script_inserted: &Rc<Cell<bool>>,
) -> HtmlRewriter<'static, Sink> {
    let mut handlers = Vec::new();
    for (i, value) in values.iter().enumerate() {
        let html = html(i);
        match &value.edit {
            Edit::Script { head, body } => {
                let (inserted, script) = (script_inserted.clone(), html.clone());
                handlers.push(on_element(head, move |head| {
                    let (inserted, script) = (inserted.clone(), script.clone());
                    let before_end = move |end: &mut EndTag<'_>| {
                        if !inserted.replace(true) {
                            end.before(&script, ContentType::Html);
                        }
                        Ok(())
                    };
                    head.on_end_tag(Box::new(before_end))
                }));
                let inserted = script_inserted.clone();
                handlers.push(on_element(body, move |body| {
                    if !inserted.replace(true) {
                        body.before(&html, ContentType::Html);
                    }
                    Ok(())
                }));
            }
            Edit::Text(selector) => handlers.push(on_element(selector, move |el| {
                el.set_inner_content(&html, ContentType::Html);
                Ok(())
            })),
            Edit::Attr(selector, name) => {
                let name = name.clone();
                handlers.push(on_element(selector, move |el| Ok(el.set_attribute(&name, &html)?)));
            }
        }
    }
    let memory = MemorySettings::new()
        .with_max_allowed_memory_usage(MEMORY_LIMIT)
        .with_graceful_bail_out_on_memory_limit_exceeded(true);
    let mut settings = Settings::new()
        .with_encoding(encoding)
        .with_adjust_charset_on_meta_tag(charset_from_meta)
        .with_memory_settings(memory)
        // Strict mode stops on markup whose parsing context is ambiguous. Every value is escaped
        // for any context (no `<` ever goes in), so a guess cannot open markup, and stopping
        // would leave the page half rewritten.
        .with_strict(false)
        .with_graceful_bail_out_on_content_handler_error(true);
    for handler in handlers {
        settings = settings.append_element_content_handler(handler);
    }
    HtmlRewriter::new(settings, Sink(output.clone()))
}

impl Recorder {
    fn new(values: &[Value]) -> Recorder {
        let output = Rc::new(RefCell::new(Vec::new()));
        let script_inserted = Rc::new(Cell::new(false));
        let mark = |i: usize| Rc::from(format!("\x01{i}\x02"));
        let html = parser(
            values,
            mark,
            AsciiCompatibleEncoding::utf_8(),
            false,
            &output,
            &script_inserted,
        );
        Recorder { html, output, script_inserted, page: Vec::new() }
    }

    /// False when the page cannot be recorded.
    fn write(&mut self, chunk: &[u8]) -> bool {
        if self.page.len() + chunk.len() > PLAN_MAX_PAGE || chunk.contains(&MARK) {
            return false;
        }
        self.page.extend_from_slice(chunk);
        self.html.write(chunk).is_ok()
    }

    fn end(self, values: &[Value]) -> Option<Plan> {
        self.html.end().ok()?;
        let output = self.output.take();
        Plan::from_recording(self.page, output, values, self.script_inserted.get())
    }
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
        plan: PlanUse,
    ) -> Result<Rewriter, UnsupportedCharset> {
        let encoding = match charset {
            None => AsciiCompatibleEncoding::utf_8(),
            Some(label) => Encoding::for_label_no_replacement(label)
                .and_then(AsciiCompatibleEncoding::new)
                .ok_or_else(|| UnsupportedCharset(label.to_vec()))?,
        };
        let values: Rc<[Value]> = render(rules, state).into();
        let mut rewriter = Rewriter {
            mode: Mode::Pass,
            values,
            encoding,
            charset_from_meta: charset.is_none(),
            out: Rc::new(RefCell::new(Vec::new())),
            script_inserted: Rc::new(Cell::new(false)),
            bailed_out: None,
            recorder: None,
            plan: None,
        };
        // Nothing renders: the page goes out as it came, without parsing it.
        if rewriter.values.is_empty() {
            return Ok(rewriter);
        }
        let recordable = charset.is_some() && <&Encoding>::from(encoding) == UTF_8;
        match plan {
            PlanUse::Replay(plan) if recordable && rewriter.fits(&plan) => {
                rewriter.mode = Mode::Replay { plan, verified: 0 };
            }
            PlanUse::Off => rewriter.mode = Mode::Parse(rewriter.parser()),
            PlanUse::Record | PlanUse::Replay(_) => {
                rewriter.mode = Mode::Parse(rewriter.parser());
                rewriter.recorder = recordable.then(|| Recorder::new(&rewriter.values));
            }
        }
        Ok(rewriter)
    }

    fn fits(&self, plan: &Plan) -> bool {
        plan.rules.iter().copied().eq(self.values.iter().map(|v| v.rule))
    }

    fn parser(&self) -> Box<HtmlRewriter<'static, Sink>> {
        let values = self.values.clone();
        let html = move |i: usize| values[i].html.clone();
        let (out, inserted) = (&self.out, &self.script_inserted);
        Box::new(parser(&self.values, html, self.encoding, self.charset_from_meta, out, inserted))
    }

    /// Rewrites the next chunk of the body. `emit` is called with the output that is ready, in
    /// order, possibly in several pieces or none (a tag split across chunks waits for its end;
    /// a replayed page goes out at the end).
    pub fn write(&mut self, chunk: &[u8], mut emit: impl FnMut(&[u8])) {
        if let Mode::Replay { plan, verified } = &mut self.mode {
            if plan.page.get(*verified..*verified + chunk.len()) == Some(chunk) {
                *verified += chunk.len();
                return;
            }
            self.leave_replay();
        }
        if let Some(recorder) = &mut self.recorder {
            if !recorder.write(chunk) {
                self.recorder = None;
            }
        }
        match &mut self.mode {
            Mode::Parse(html) => {
                if let Err(e) = html.write(chunk) {
                    self.bail_out(e);
                }
            }
            _ => emit(chunk),
        }
        self.drain(&mut emit);
    }

    /// Ends the body: emits what is still held back and says how the rewrite went. Writing
    /// after the end passes chunks through unchanged.
    pub fn end(&mut self, mut emit: impl FnMut(&[u8])) -> Summary {
        if let Mode::Replay { plan, verified } = &self.mode {
            if *verified == plan.page.len() {
                for piece in &plan.pieces {
                    match piece {
                        Piece::Output(range) => emit(&plan.output[range.clone()]),
                        Piece::Value(i) => emit(self.values[*i].html.as_bytes()),
                    }
                }
                self.script_inserted.set(plan.script_inserted);
                self.mode = Mode::Pass;
            } else {
                self.leave_replay();
            }
        }
        if let Mode::Parse(html) = std::mem::replace(&mut self.mode, Mode::Pass) {
            if let Err(e) = html.end() {
                self.bail_out(e);
            }
        }
        if let Some(recorder) = self.recorder.take() {
            self.plan = recorder.end(&self.values);
        }
        self.drain(&mut emit);
        Summary { script_inserted: self.script_inserted.get(), bailed_out: self.bailed_out.clone() }
    }

    /// The plan recorded during this response, after [`Rewriter::end`].
    pub fn take_plan(&mut self) -> Option<Plan> {
        self.plan.take()
    }

    /// The page differs from the plan's after what has been verified: parse from the start,
    /// the verified part taken from the plan, and record the new page.
    fn leave_replay(&mut self) {
        let Mode::Replay { plan, verified } = std::mem::replace(&mut self.mode, Mode::Pass) else {
            return;
        };
        let mut html = self.parser();
        let mut recorder = Recorder::new(&self.values);
        let prefix = &plan.page[..verified];
        self.recorder = recorder.write(prefix).then_some(recorder);
        match html.write(prefix) {
            Ok(()) => self.mode = Mode::Parse(html),
            Err(e) => self.bail_out(e),
        }
    }

    /// lol_html has flushed the input it held, unchanged, and cannot be used again.
    fn bail_out(&mut self, error: RewritingError) {
        self.mode = Mode::Pass;
        self.recorder = None;
        self.bailed_out = Some(error.to_string());
    }

    fn drain(&self, emit: &mut impl FnMut(&[u8])) {
        let mut out = self.out.borrow_mut();
        if !out.is_empty() {
            emit(&out);
            out.clear();
        }
    }
}
