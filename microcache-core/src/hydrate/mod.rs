//! Edge state hydration: a cached HTML page, rewritten as it streams with a per-request JSON state.
//!
//! The glue uses it in three steps:
//!
//! 1. Configuration: one [`Rules`] per location, filled by [`Rules::set_script`],
//!    [`Rules::add_text`] and [`Rules::add_attr`] from the directive arguments; a [`ConfError`]
//!    becomes the `nginx -t` error via [`ConfError::message`]. Rules are `Send + Sync` and cheap
//!    to clone (selectors are shared).
//! 2. State: [`State::parse`] on the subrequest's body with `microcache_hydrate_max_size`; a
//!    [`StateError`] gives the `REASON` of `failed:REASON`.
//! 3. Body: for a `200` response whose `Content-Type` is HTML ([`html_charset`]),
//!    [`Rewriter::new`] with the rules, the state, the response's charset and a
//!    [`PlanUse`], kept in the request context; [`Rewriter::write`] for each body buffer and
//!    [`Rewriter::end`] at the last, each handing the output ready so far to a closure, then
//!    [`Rewriter::take_plan`]. Memory per response stays under [`MEMORY_LIMIT`] plus a few
//!    kilobytes whatever the page size (recording a plan adds up to about twice
//!    [`PLAN_MAX_PAGE`]); chunks may split anywhere (inside tags, attribute values, UTF-8
//!    characters) and the output is the same.
//!
//! Parsing a page with lol_html costs about as much CPU as the rest of a cache HIT several times
//! over, and a cached page is the same bytes for every visitor. So the first response of a cached
//! page can record a [`Plan`] (the rewrite with a gap for each value) that the glue keeps per
//! cache entry and location; later responses of that entry replay it: the page is compared with
//! the plan's copy and the output copied around the gaps, with no parsing. A page that differs
//! is parsed after all, with the same result.
//!
//! What goes in: the script right before `</head>` (before `<body>` when the page omits
//! `</head>`, nowhere when it has neither), the text of matching elements, and attributes of
//! matching elements. A page with nothing to match comes out byte for byte as it went in.
//! Escaping is in [`escape`]; how each JSON type renders is in [`State::field`].
//!
//! Unlike the request path, this allocates: values once per response, lol_html as it parses.
//!
//! [`ConfError`]: crate::config::ConfError
//! [`ConfError::message`]: crate::config::ConfError::message

mod content_type;
pub mod escape;
mod path;
mod rewriter;
mod rules;
mod state;
mod template;

pub use content_type::html_charset;
pub use path::FieldPath;
pub use rewriter::{
    Plan, PlanUse, Rewriter, Summary, UnsupportedCharset, MEMORY_LIMIT, PLAN_MAX_PAGE,
};
pub use rules::Rules;
pub use state::{State, StateError, DEFAULT_MAX_SIZE};
pub use template::Template;
