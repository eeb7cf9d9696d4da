//! Any bytes as the state: parsing never panics, and whatever it accepts goes into a page
//! without adding a single element: the script stays one script of ASCII JavaScript free of
//! `<`, `>` and `&` that reads back as the same JSON, and texts and attributes stay text.
#![no_main]

#[path = "../../tests/markup/mod.rs"]
mod markup;

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use markup::element_names;
use microcache_core::hydrate::{escape, PlanUse, Rewriter, Rules, State};
use serde_json::Value;

const SKELETON: &str = "<html><head><title id=t>x</title></head><body><textarea id=ta>x</textarea>\
    <style id=st>x</style><script id=sc>x</script><p id=p class=\"c\" title='t'>x</p>\
    <a id=l href=\"/\">x</a><svg><title id=svgt>x</title></svg></body></html>";

fuzz_target!(|data: &[u8]| {
    // Even first byte: the bytes are the state. Odd: they are one string field of it.
    let Some((&mode, rest)) = data.split_first() else { return };
    let body = match mode % 2 {
        0 => rest.to_vec(),
        _ => serde_json::json!({ "v": String::from_utf8_lossy(rest) }).to_string().into_bytes(),
    };
    let Ok(state) = State::parse(&body, 1 << 20) else { return };
    let value: Value = serde_json::from_slice(&body).unwrap();

    let mut rules = Rules::default();
    rules.set_script(b"S").unwrap();
    for selector in ["#t", "#ta", "#st", "#sc", "#p", "#svgt"] {
        rules.add_text(selector.as_bytes(), b"v").unwrap();
    }
    rules.add_attr(b"#p", b"title", b"{v}").unwrap();
    rules.add_attr(b"#p", b"class", b"x {v} y").unwrap();
    rules.add_attr(b"#l", b"href", b"/s?q={v}").unwrap();
    let mut rewriter = Rewriter::new(&rules, &state, None, PlanUse::Off).unwrap();
    let mut out = Vec::new();
    rewriter.write(SKELETON.as_bytes(), |b| out.extend_from_slice(b));
    let summary = rewriter.end(|b| out.extend_from_slice(b));
    assert!(summary.script_inserted && summary.bailed_out.is_none());

    static EXPECTED: OnceLock<Vec<String>> = OnceLock::new();
    let expected = EXPECTED.get_or_init(|| {
        let mut names = element_names(SKELETON.as_bytes());
        names.insert(3, "script".to_owned());
        names
    });
    assert_eq!(
        &element_names(&out),
        expected,
        "markup injected: {}",
        String::from_utf8_lossy(&out)
    );

    let out = String::from_utf8(out).unwrap();
    let start = out.find("<script>window.S=").unwrap() + "<script>window.S=".len();
    let script = &out[start..start + out[start..].find(";</script>").unwrap()];
    assert!(script.is_ascii() && !script.contains(['<', '>', '&']), "{script}");
    if !script.starts_with("JSON.parse(") {
        assert_eq!(serde_json::from_str::<Value>(script).unwrap(), value);
    }

    if let Value::Object(map) = &value {
        if let Some(Value::String(v)) = map.get("v") {
            let (mut text, mut attribute) = (String::new(), String::new());
            escape::text(v, &mut text);
            escape::attribute(v, &mut attribute);
            assert!(!text.contains(['<', '>', '\0']));
            assert!(!attribute.contains(['<', '>', '"', '\'', '\0']));
        }
    }
});
