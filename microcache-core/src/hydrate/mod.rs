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
//! 3. Body: [`Rewriter::new`] with the rules, the state and the response's charset, kept in the
//!    request context; [`Rewriter::write`] for each body buffer and [`Rewriter::end`] at the last,
//!    each handing the output ready so far to a closure. Memory per response stays under
//!    [`MEMORY_LIMIT`] plus a few kilobytes whatever the page size; chunks may split anywhere
//!    (inside tags, attribute values, UTF-8 characters) and the output is the same.
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

pub mod escape;
mod path;
mod rewriter;
mod rules;
mod state;
mod template;

pub use path::FieldPath;
pub use rewriter::{Rewriter, Summary, UnsupportedCharset, MEMORY_LIMIT};
pub use rules::Rules;
pub use state::{State, StateError, DEFAULT_MAX_SIZE};
pub use template::Template;
