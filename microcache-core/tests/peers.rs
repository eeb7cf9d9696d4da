//! Property tests of what crosses between peers: the signature of a purge (it verifies for
//! that purge only) and the head of a peer's answer (read at any split, as it arrives).

use microcache_core::peers::head::{parse_head, PeerHead};
use microcache_core::peers::sign::{sign, verify, Purge, Secret, SignatureError};
use proptest::prelude::*;

const NOW: i64 = 1_700_000_000;

fn bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(any::<u8>(), 0..max)
}

/// A purge's parts: method, target, host, purge headers, body.
type Parts = (Vec<u8>, Vec<u8>, Vec<u8>, Vec<(Vec<u8>, Vec<u8>)>, Vec<u8>);

fn parts() -> impl Strategy<Value = Parts> {
    (
        bytes(8),
        bytes(40),
        bytes(16),
        proptest::collection::vec((bytes(8), bytes(16)), 0..3),
        bytes(64),
    )
}

fn purge<'a>(p: &'a Parts, headers: &'a [(&'a [u8], &'a [u8])]) -> Purge<'a> {
    Purge { method: &p.0, uri: &p.1, host: &p.2, headers, body: &p.4 }
}

proptest! {
    #[test]
    fn a_signature_verifies_for_its_purge_only(
        p in parts(),
        field in 0usize..5,
        at in any::<prop::sample::Index>(),
        skew in -60i64..=60,
    ) {
        let secret = Secret::parse(b"a property-test secret").unwrap();
        let headers: Vec<(&[u8], &[u8])> = p.3.iter().map(|(n, v)| (&n[..], &v[..])).collect();
        let value = sign(&secret, NOW, &purge(&p, &headers));
        prop_assert_eq!(verify(&secret, NOW + skew, value.as_bytes(), &purge(&p, &headers)), Ok(()));

        // One byte more in any field, or one header less: no longer this purge.
        let mut q = p.clone();
        let mut q_headers = headers.clone();
        let grow = |v: &mut Vec<u8>| v.insert(at.index(v.len() + 1), b'x');
        let mut header_value;
        match field {
            0 => grow(&mut q.0),
            1 => grow(&mut q.1),
            2 => grow(&mut q.2),
            3 if !q_headers.is_empty() => {
                let i = at.index(q_headers.len());
                header_value = q_headers[i].1.to_vec();
                grow(&mut header_value);
                q_headers[i].1 = &header_value;
            }
            _ => grow(&mut q.4),
        }
        prop_assert_eq!(
            verify(&secret, NOW, value.as_bytes(), &purge(&q, &q_headers)),
            Err(SignatureError::Mismatch)
        );
        if !headers.is_empty() {
            prop_assert_eq!(
                verify(&secret, NOW, value.as_bytes(), &purge(&p, &headers[1..])),
                Err(SignatureError::Mismatch)
            );
        }
    }

    #[test]
    fn any_signature_value_is_checked_without_panicking(value in bytes(120), p in parts()) {
        let secret = Secret::parse(b"a property-test secret").unwrap();
        let headers: Vec<(&[u8], &[u8])> = p.3.iter().map(|(n, v)| (&n[..], &v[..])).collect();
        prop_assert!(verify(&secret, NOW, &value, &purge(&p, &headers)).is_err());
    }

    #[test]
    fn an_answer_head_is_read_at_any_split(
        status in 100u16..600,
        purged in proptest::option::of(0u64..1_000_000),
        length in proptest::option::of(0u64..1_000_000),
        others in proptest::collection::vec(("[A-Za-z-]{1,12}", "[ -~]{0,20}"), 0..4),
        crlf in any::<bool>(),
        body in bytes(32),
        split in any::<prop::sample::Index>(),
    ) {
        let eol = if crlf { "\r\n" } else { "\n" };
        let mut head = format!("HTTP/1.1 {status} Whatever{eol}");
        for (name, value) in &others {
            if !name.eq_ignore_ascii_case("microcache-purged") && !name.eq_ignore_ascii_case("content-length") {
                head += &format!("{name}: {value}{eol}");
            }
        }
        if let Some(n) = purged {
            head += &format!("Microcache-Purged: {n}{eol}");
        }
        if let Some(n) = length {
            head += &format!("content-length:{n}{eol}");
        }
        head += eol;
        let answer = [head.as_bytes(), &body].concat();
        let want = PeerHead { status, purged, content_length: length, len: head.len() };
        prop_assert_eq!(parse_head(&answer), Ok(Some(want)));
        let end = split.index(head.len());
        prop_assert_eq!(parse_head(&answer[..end]), Ok(None));
    }

    #[test]
    fn any_bytes_are_read_without_panicking(data in bytes(300)) {
        if let Ok(Some(head)) = parse_head(&data) {
            prop_assert!(head.len <= data.len() && (100..600).contains(&head.status));
        }
    }
}
