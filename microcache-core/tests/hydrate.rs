//! The streaming rewriter against pages, hostile states and arbitrary chunking.

mod markup;
mod page;

use std::rc::Rc;

use markup::element_names;
use microcache_core::hydrate::{
    Plan, PlanUse, Rewriter, Rules, State, Summary, UnsupportedCharset,
};
use proptest::prelude::*;

fn state(json: &str) -> State {
    State::parse(json.as_bytes(), 1 << 20).unwrap()
}

fn rules(script: Option<&str>, texts: &[(&str, &str)], attrs: &[(&str, &str, &str)]) -> Rules {
    let mut rules = Rules::default();
    if let Some(name) = script {
        rules.set_script(name.as_bytes()).unwrap();
    }
    for (selector, field) in texts {
        rules.add_text(selector.as_bytes(), field.as_bytes()).unwrap();
    }
    for (selector, attr, template) in attrs {
        rules.add_attr(selector.as_bytes(), attr.as_bytes(), template.as_bytes()).unwrap();
    }
    rules
}

/// The page fed in chunks of the given sizes (cycled), what came out, and the plan recorded.
fn rewrite_with_plan(
    rules: &Rules,
    state: &State,
    charset: Option<&[u8]>,
    page: &[u8],
    sizes: &[usize],
    plan: PlanUse,
) -> (Vec<u8>, Summary, Option<Plan>) {
    let mut rewriter = Rewriter::new(rules, state, charset, plan).unwrap();
    let mut out = Vec::new();
    let mut rest = page;
    for &size in sizes.iter().cycle() {
        if rest.is_empty() {
            break;
        }
        let (chunk, tail) = rest.split_at(size.clamp(1, rest.len()));
        rewriter.write(chunk, |b| out.extend_from_slice(b));
        rest = tail;
    }
    let summary = rewriter.end(|b| out.extend_from_slice(b));
    (out, summary, rewriter.take_plan())
}

fn rewrite_chunked(
    rules: &Rules,
    state: &State,
    charset: Option<&[u8]>,
    page: &[u8],
    sizes: &[usize],
) -> (Vec<u8>, Summary) {
    let (out, summary, _) = rewrite_with_plan(rules, state, charset, page, sizes, PlanUse::Off);
    (out, summary)
}

fn rewrite(rules: &Rules, state: &State, page: &str) -> (String, Summary) {
    let (out, summary) = rewrite_chunked(rules, state, None, page.as_bytes(), &[usize::MAX]);
    (String::from_utf8(out).unwrap(), summary)
}

#[test]
fn the_mini_cart_is_hydrated() {
    let page = page::shop_page(page::PRODUCTS_20_KB);
    assert!((19_000..21_000).contains(&page.len()), "{}", page.len());
    let (out, summary) = rewrite(&page::mini_cart_rules(), &page::mini_cart_state(), &page);
    assert_eq!(summary, Summary { script_inserted: true, bailed_out: None });
    let script = r#"<script>window.__MICROCACHE_STATE__={"cart":{"count":3,"count_text":"3 articles","total":"59,70 \u20ac","items":[{"name":"Chapeau n\u00b01","qty":2},{"name":"Chapeau n\u00b07","qty":1}]},"user":{"greeting":"Bonjour"}};</script>"#;
    let expected = page
        .replacen("</head>\n<body", &format!("{script}</head>\n<body"), 1)
        .replacen(
            r#"<a class="cart-contents" href="/panier/" title="Voir votre panier"><span class="woocommerce-Price-amount amount"><bdi>0,00&nbsp;<span class="woocommerce-Price-currencySymbol">&euro;</span></bdi></span> <span class="count">0 article</span></a>"#,
            r#"<a class="cart-contents" href="/panier/" title="Voir votre panier" data-count="3"><span class="woocommerce-Price-amount amount">59,70 €</span> <span class="count">3 articles</span></a>"#,
            1,
        );
    assert_ne!(expected, page);
    assert_eq!(out, expected);
}

#[test]
fn the_script_goes_before_the_end_of_head_or_else_before_body() {
    let rules = rules(Some("S"), &[], &[]);
    let state = state("1");
    let cases = [
        ("<html><head><title>t</title></head><body>x</body>", "<html><head><title>t</title><script>window.S=1;</script></head><body>x</body>"),
        ("<head><title>t</title><body>x", "<head><title>t</title><script>window.S=1;</script><body>x"),
        ("<title>t</title><BODY class=a>x", "<title>t</title><script>window.S=1;</script><BODY class=a>x"),
        ("<head></head><head></head><body></body>", "<head><script>window.S=1;</script></head><head></head><body></body>"),
        ("<head><script>'</head><body>'</script><!-- </head> --></head>", "<head><script>'</head><body>'</script><!-- </head> --><script>window.S=1;</script></head>"),
    ];
    for (page, expected) in cases {
        let (out, summary) = rewrite(&rules, &state, page);
        assert_eq!(out, expected);
        assert!(summary.script_inserted, "{page}");
    }
    let (out, summary) = rewrite(&rules, &state, "<p>a fragment, no head, no body</p>");
    assert_eq!(out, "<p>a fragment, no head, no body</p>");
    assert_eq!(summary, Summary { script_inserted: false, bailed_out: None });
}

#[test]
fn fields_that_do_not_render_leave_the_skeleton() {
    let rules = rules(
        None,
        &[("#a", "a"), ("#n", "n"), ("#o", "o"), ("#m", "missing"), ("#b", "b"), ("#i", "list.1")],
        &[("#a", "title", "{a}"), ("#m", "title", "{a} {missing}"), ("#n", "data-n", "[{n}]")],
    );
    let state = state(r#"{"a":"<b>&","n":null,"o":{"x":1},"b":false,"list":[0,2.5]}"#);
    let page = r#"<p id=a title=old>A</p><p id=n>N</p><p id=o>O</p><p id=m title=old>M</p><p id=b>B</p><i id=i>I</i><br id=a>"#;
    let (out, _) = rewrite(&rules, &state, page);
    assert_eq!(
        out,
        r#"<p id=a title="&lt;b&gt;&amp;">&lt;b&gt;&amp;</p><p id=n data-n="[]"></p><p id=o>O</p><p id=m title=old>M</p><p id=b>false</p><i id=i>2.5</i><br id=a title="&lt;b&gt;&amp;">"#
    );
}

const PAYLOADS: &[&str] = &[
    "</script><img src=x onerror=alert(1)>",
    "\"><svg onload=alert(1)>",
    "'><svg onload=alert(1)>",
    "<!--",
    "<!--<script>",
    "--></script><script>alert(1)</script>",
    "\u{2028}\u{2029}",
    "</SCRIPT >",
    "<![CDATA[",
    "&lt;script&gt;",
    "</title></textarea></style></noscript><img src=x onerror=alert(1)>",
    "\0<img src=x>",
];

#[test]
fn classic_payloads_stay_text() {
    let skeleton = "<html><head><title id=t>x</title></head><body><textarea id=ta>x</textarea><style id=st>x</style><p id=p class=\"c\" title='t'>x</p><a id=l href=\"/\">x</a></body></html>";
    let expected_elements = {
        let mut names = element_names(skeleton.as_bytes());
        names.insert(3, "script".to_owned());
        names
    };
    let rules = rules(
        Some("S"),
        &[("#t", "v"), ("#ta", "v"), ("#st", "v"), ("#p", "v")],
        &[("#p", "title", "{v}"), ("#p", "class", "x {v}"), ("#l", "href", "/search?q={v}")],
    );
    for payload in PAYLOADS {
        let json = serde_json::json!({ "v": payload }).to_string();
        let (out, summary) = rewrite(&rules, &state(&json), skeleton);
        assert!(summary.script_inserted);
        assert_eq!(element_names(out.as_bytes()), expected_elements, "{payload:?}: {out}");
        let script = &out[out.find("<script>").unwrap() + 8..out.find(";</script>").unwrap()];
        assert!(script.is_ascii() && !script.contains(['<', '>', '&']), "{script}");
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(script.trim_start_matches("window.S="))
                .unwrap(),
            serde_json::from_str::<serde_json::Value>(&json).unwrap()
        );
    }
}

#[test]
fn charsets_other_than_utf8() {
    let rules = rules(Some("S"), &[("p", "v")], &[]);
    let state = state(r#"{"v":"é€ж"}"#);
    let page = b"<head></head><p>\xe9</p>";
    let (out, _) = rewrite_chunked(&rules, &state, Some(b"windows-1252"), page, &[usize::MAX]);
    // Windows-1252 has é and €, not ж: a character reference stands in.
    assert_eq!(
        out,
        b"<head><script>window.S={\"v\":\"\\u00e9\\u20ac\\u0436\"};</script></head><p>\xe9\x80&#1078;</p>"
    );
    // No charset in Content-Type: the page's <meta> decides, as in a browser.
    let page = b"<head><meta charset=iso-8859-1></head><p>\xe9</p>";
    let (out, _) = rewrite_chunked(&rules, &state, None, page, &[usize::MAX]);
    assert!(out.ends_with(b"<p>\xe9\x80&#1078;</p>"), "{}", String::from_utf8_lossy(&out));
    for label in [&b"utf-16le"[..], b"iso-2022-jp", b"no-such-charset"] {
        assert_eq!(
            Rewriter::new(&rules, &state, Some(label), PlanUse::Off).err(),
            Some(UnsupportedCharset(label.to_vec()))
        );
    }
}

#[test]
fn a_tag_larger_than_the_memory_limit_ends_the_rewrite_but_not_the_page() {
    let rules = rules(Some("S"), &[("p", "v")], &[]);
    let state = state(r#"{"v":"new"}"#);
    let huge = format!(
        "<head></head><p>old</p><p style=\"background:url(data:image/png;base64,{})\">old</p><p>old</p>",
        "A".repeat(1 << 20)
    );
    let (out, summary) = rewrite_chunked(&rules, &state, None, huge.as_bytes(), &[1000]);
    assert!(summary.script_inserted);
    assert!(summary.bailed_out.is_some());
    let expected = huge
        .replacen("</head>", "<script>window.S={\"v\":\"new\"};</script></head>", 1)
        .replacen("<p>old</p>", "<p>new</p>", 1);
    assert_eq!(String::from_utf8(out).unwrap(), expected);
}

#[test]
fn after_the_end_chunks_pass_through() {
    let rules = rules(Some("S"), &[], &[]);
    let mut rewriter = Rewriter::new(&rules, &state("1"), None, PlanUse::Off).unwrap();
    let mut out = Vec::new();
    rewriter.write(b"<head>", |b| out.extend_from_slice(b));
    rewriter.end(|b| out.extend_from_slice(b));
    rewriter.write(b"</head>", |b| out.extend_from_slice(b));
    assert_eq!(out, b"<head></head>");
}

/// HTML built from pieces that are hard to split: tags and attribute values with multi-byte
/// characters, comments, raw text, the elements the rules match, and stray bytes.
fn html() -> impl Strategy<Value = Vec<u8>> {
    let piece = prop_oneof![
        Just(&b"<head>"[..]),
        Just(&b"</head>"[..]),
        Just(&b"<body class=\"a\xc3\xa9\">"[..]),
        Just(&b"<p id=\"n\" title='\xe2\x82\xac'>"[..]),
        Just(&b"</p>"[..]),
        Just(&b"<a class=cart href=/c data-x=\"1>2\">"[..]),
        Just(&b"</a>"[..]),
        Just(&b"<!-- </head> <p id=n> -->"[..]),
        Just(&b"<script>if (a</b) '</head>'</script>"[..]),
        Just(&b"<textarea><p id=n></textarea>"[..]),
        Just(&b"<svg><p id=n/></svg>"[..]),
        Just(&b"\xf0\x9f\x98\x80 text &amp; more"[..]),
        Just(&b"<img alt=\"\xe6\x97\xa5\xe6\x9c\xac\" src=x>"[..]),
        Just(&b"<br/>"[..]),
        Just(&b"<"[..]),
        Just(&b"\xff\xfe"[..]),
    ];
    proptest::collection::vec(piece, 0..40).prop_map(|pieces| pieces.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn chunk_boundaries_do_not_change_the_output(
        page in html(),
        sizes in proptest::collection::vec(1usize..40, 1..8),
        value in "[a-z<>&\"'\u{e9}\u{2028}]{0,12}",
    ) {
        let rules = rules(Some("S"), &[("#n", "v")], &[("a.cart", "data-v", "/{v}")]);
        let state = state(&serde_json::json!({ "v": value }).to_string());
        let (whole, whole_summary) = rewrite_chunked(&rules, &state, None, &page, &[usize::MAX]);
        let (chunked, chunked_summary) = rewrite_chunked(&rules, &state, None, &page, &sizes);
        prop_assert_eq!(whole, chunked);
        prop_assert_eq!(whole_summary, chunked_summary);
    }

    #[test]
    fn pages_without_a_match_pass_through_byte_exact(
        page in prop_oneof![html(), proptest::collection::vec(any::<u8>(), 0..2000)],
        sizes in proptest::collection::vec(1usize..64, 1..8),
    ) {
        // Selectors that match nothing, and (not parsed at all) fields that do not render.
        let never = rules(None, &[("#never", "v")], &[("never", "title", "{v}")]);
        let missing = rules(None, &[("p", "missing")], &[("a", "title", "{missing}")]);
        for rules in [never, missing] {
            let (out, summary) = rewrite_chunked(&rules, &state(r#"{"v":"x"}"#), None, &page, &sizes);
            prop_assert_eq!(&out, &page);
            prop_assert_eq!(summary, Summary::default());
        }
    }

    #[test]
    fn a_replayed_plan_gives_what_parsing_gives(
        page in html(),
        change in proptest::option::of((any::<proptest::sample::Index>(), proptest::collection::vec(any::<u8>(), 0..3), 0usize..3)),
        sizes in proptest::collection::vec(1usize..40, 1..8),
        values in ("[a-z<>&\"'\u{e9}]{0,8}", "[a-z<>&\"'\u{e9}]{0,8}"),
    ) {
        let rules = rules(Some("S"), &[("#n", "v")], &[("a.cart", "data-v", "/{v}")]);
        let utf8 = Some(&b"utf-8"[..]);
        let state_of = |v: &str| state(&serde_json::json!({ "v": v }).to_string());
        // Recorded with one state, replayed with another on the same page or a changed one.
        let (_, _, plan) = rewrite_with_plan(&rules, &state_of(&values.0), utf8, &page, &[usize::MAX], PlanUse::Record);
        let plan = Rc::new(plan.expect("recorded"));
        let mut other = page.clone();
        if let Some((at, bytes, removed)) = change {
            let at = at.index(other.len() + 1);
            other.splice(at..(at + removed).min(other.len()), bytes);
        }
        let state = state_of(&values.1);
        let parsed = rewrite_chunked(&rules, &state, utf8, &other, &sizes);
        let (out, summary, new_plan) = rewrite_with_plan(&rules, &state, utf8, &other, &sizes, PlanUse::Replay(plan));
        prop_assert_eq!((out, summary), parsed);
        // A changed page gets a plan of its own, unless it has a byte that marks values.
        prop_assert_eq!(new_plan.is_some(), other != page && !other.contains(&1));
    }
}

#[test]
fn plans_are_recorded_only_where_they_apply() {
    let rules = rules(Some("S"), &[("p", "v")], &[]);
    let missing = state(r#"{"w":"x"}"#);
    let state = state(r#"{"v":"x"}"#);
    let page = b"<head></head><p>a</p>";
    let record = |charset: Option<&[u8]>, page: &[u8]| {
        rewrite_with_plan(&rules, &state, charset, page, &[5], PlanUse::Record).2
    };
    let plan = record(Some(b"utf-8"), page).unwrap();
    assert!(plan.size() > 2 * page.len());
    assert!(record(Some(b"windows-1252"), page).is_none());
    assert!(record(None, page).is_none());
    assert!(record(Some(b"utf-8"), b"<head></head><p>\x01</p>").is_none());
    assert!(record(Some(b"utf-8"), &[b' '; 300 * 1024]).is_none());
    // A plan made when the field rendered does not fit a state where it does not.
    let plan = Rc::new(plan);
    let (out, summary, new_plan) =
        rewrite_with_plan(&rules, &missing, Some(b"utf-8"), page, &[7], PlanUse::Replay(plan));
    assert_eq!(out, b"<head><script>window.S={\"w\":\"x\"};</script></head><p>a</p>");
    assert!(summary.script_inserted);
    assert!(new_plan.is_some());
}
