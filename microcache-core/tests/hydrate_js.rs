//! The script is JavaScript that evaluates to the state: checked by Node.js itself on generated
//! states (every JSON type, hostile strings, `__proto__` keys, pretty-printed text) against
//! `JSON.parse` of the text the state endpoint sent.

use std::io::Write;
use std::process::{Command, Stdio};

use microcache_core::hydrate::{PlanUse, Rewriter, Rules, State, DEFAULT_MAX_SIZE};
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::TestRunner;
use serde_json::Value;

fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[<>&/!\\-\"\\\\'\u{2028}\u{2029}\u{0}\u{1f600}a-z]{0,12}",
        Just("</script><img src=x onerror=alert(1)>".to_owned()),
        Just("__proto__".to_owned()),
        Just("constructor".to_owned()),
    ]
}

fn json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("JSON has no NaN or infinity", |f| f.is_finite())
            .prop_map(Value::from),
        text().prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 64, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            proptest::collection::vec((text(), inner), 0..6)
                .prop_map(|fields| Value::Object(fields.into_iter().collect())),
        ]
    })
}

/// What an object literal and JSON.parse disagree on, or what JSON allows and JavaScript
/// source once did not.
const HANDWRITTEN: &[&str] = &[
    r#"{"a":1,"a":2}"#,
    r#"{"__proto__":1,"__proto__":2}"#,
    r#"{"\u005f_proto__":{"x":1}}"#,
    "-0",
    "[-0.0, 5e-400, 123456789012345678901234567890, 9007199254740993]",
    "\"\u{2028}\u{2029}\"",
    "\"\\u2028\\ud83d\\ude00\"",
    " \n\t{ \"a\" :\r\n [ ] } \n",
];

#[test]
fn the_script_evaluates_to_the_state_in_node() {
    let mut runner = TestRunner::deterministic();
    let strategy = json();
    let mut texts: Vec<String> = HANDWRITTEN.iter().map(|s| s.to_string()).collect();
    for i in 0..3000 {
        let value = strategy.new_tree(&mut runner).unwrap().current();
        texts.push(match i % 3 {
            0 => serde_json::to_string_pretty(&value).unwrap(),
            _ => value.to_string(),
        });
    }
    let mut rules = Rules::default();
    rules.set_script(b"S").unwrap();
    let cases: Vec<[String; 2]> = texts
        .into_iter()
        .map(|text| {
            let state = State::parse(text.as_bytes(), DEFAULT_MAX_SIZE).unwrap();
            let mut rewriter = Rewriter::new(&rules, &state, None, PlanUse::Off).unwrap();
            let mut page = Vec::new();
            rewriter.write(b"<head></head>", |out| page.extend_from_slice(out));
            assert!(rewriter.end(|out| page.extend_from_slice(out)).script_inserted);
            let page = String::from_utf8(page).unwrap();
            let js = page
                .strip_prefix("<head><script>")
                .unwrap()
                .strip_suffix("</script></head>")
                .unwrap();
            assert!(js.is_ascii() && !js.contains(['<', '>', '&']), "{js}");
            [text, js.to_owned()]
        })
        .collect();

    let check = r#"
        const vm = require("vm"), util = require("util");
        const cases = JSON.parse(require("fs").readFileSync(0, "utf8"));
        const failed = [];
        for (const [text, script] of cases) {
            const context = vm.createContext({ window: {} });
            try {
                vm.runInContext(script, context);
                context.text = text;
                vm.runInContext("window.P = JSON.parse(text)", context);
                if (!util.isDeepStrictEqual(context.window.S, context.window.P)) failed.push([text, script]);
            } catch (e) {
                failed.push([text, script, String(e)]);
            }
        }
        console.log(JSON.stringify({ checked: cases.length, failed }));
    "#;
    let mut node = Command::new("node")
        .args(["-e", check])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("Node.js runs this test: install nodejs (scripts/packages/test.list)");
    node.stdin
        .take()
        .unwrap()
        .write_all(serde_json::to_string(&cases).unwrap().as_bytes())
        .unwrap();
    let output = node.wait_with_output().unwrap();
    assert!(output.status.success());
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["checked"], cases.len());
    assert_eq!(report["failed"], Value::Array(vec![]), "evaluated differently");
}
