//! Owns the ATP wire format, with no process and no I/O of its own: the messages we send,
//! encoded as CBOR, and the messages a plugin sends, decoded from CBOR (the hello, found even
//! after text printed before it; results, signals and errors, in ATP v3 envelopes or v1 form).

use std::io::Read;

use ciborium::Value as C;

use crate::value::Value;

const MAX_JUNK: usize = 1024 * 1024;
const WORK_START: u64 = 1;
const WORK_DONE: u64 = 2;
const SIGNAL: u64 = 3;
const CLIENT_DONE: u64 = 4;
const ERROR: u64 = 5;

#[derive(Debug, Clone)]
pub struct Hello {
    pub version: u64,
    pub schema: Value,
    /// Bytes the plugin printed to stdout before its hello (import-time prints).
    pub junk: Vec<u8>,
}

#[derive(Debug, Clone)]
pub struct WorkDone {
    pub output_id: String,
    pub output_data: Value,
    pub debug_logs: String,
}

#[derive(Debug)]
pub(super) enum Incoming {
    Hello(Hello),
    Done {
        run_id: String,
        done: WorkDone,
    },
    Signal {
        run_id: String,
        signal_id: String,
        data: Value,
    },
    Error {
        run_id: String,
        error: String,
        step_fatal: bool,
        server_fatal: bool,
    },
    Closed {
        problem: Option<String>,
    },
    /// The plugin's main process exited (its children may still hold the pipes open).
    Exited,
}

/// The first item we send: the plugin says nothing until it gets it (an empty CBOR value).
pub(super) fn first_item() -> Vec<u8> {
    encode(&C::Null)
}

/// Starts the step `step_id` with `input` (in v1 there is no envelope and no run id).
pub(super) fn start_work(version: u64, run_id: &str, step_id: &str, input: &Value) -> Vec<u8> {
    let work = C::Map(vec![(text("id"), text(step_id)), (text("config"), input.to_cbor())]);
    encode(&if version == 1 { work } else { envelope(WORK_START, run_id, work) })
}

/// Sends the signal `signal_id` with `data` to the run `run_id` (ATP v3 only).
pub(super) fn signal(run_id: &str, signal_id: &str, data: &Value) -> Vec<u8> {
    let data = C::Map(vec![(text("signal_id"), text(signal_id)), (text("data"), data.to_cbor())]);
    encode(&envelope(SIGNAL, run_id, data))
}

/// Ends the conversation (ATP v3 only).
pub(super) fn client_done() -> Vec<u8> {
    encode(&envelope(CLIENT_DONE, "", C::Map(vec![])))
}

/// Reads up to and including the hello, skipping anything printed before it (import-time
/// prints land on stdout before the handshake).
/// Bytes for a message: escaped (no control character reaches the terminal) and bounded.
pub fn show_bytes(bytes: &[u8]) -> String {
    const SHOWN: usize = 256;
    let head = &bytes[..bytes.len().min(SHOWN)];
    let more = if bytes.len() > SHOWN { format!("... ({} bytes in all)", bytes.len()) } else { String::new() };
    format!("{} bytes: b\"{}\"{more}", bytes.len(), head.escape_ascii())
}

pub(super) fn read_hello(reader: &mut impl Read) -> Result<Hello, Option<String>> {
    const MARKERS: [&[u8]; 2] = [b"\xa2\x67version", b"\xa2\x66schema"];
    let mut seen: Vec<u8> = Vec::new();
    let mut byte = [0u8; 1];
    let marker = loop {
        match reader.read(&mut byte) {
            Ok(0) | Err(_) => {
                return Err(if seen.is_empty() {
                    None
                } else {
                    Some(format!(
                        "the plugin exited after printing to stdout instead of sending its ATP hello: {}",
                        show_bytes(&seen)
                    ))
                });
            }
            Ok(_) => seen.push(byte[0]),
        }
        if let Some(m) = MARKERS.iter().find(|m| seen.ends_with(m)) {
            break *m;
        }
        if seen.len() > MAX_JUNK {
            return Err(Some(format!("the plugin printed more than {MAX_JUNK} bytes to stdout without an ATP hello")));
        }
    };
    let junk = seen[..seen.len() - marker.len()].to_vec();
    let item: C = ciborium::from_reader(std::io::Cursor::new(marker).chain(reader))
        .map_err(|e| Some(format!("the plugin's ATP hello is not valid CBOR ({e:?})")))?;
    let map = Value::from_cbor(&item);
    let version = match map.get("version") {
        Some(Value::Int(v)) if *v >= 0 => *v as u64,
        _ => return Err(Some("the plugin's ATP hello has no version".into())),
    };
    let schema = map.get("schema").cloned().ok_or(Some("the plugin's ATP hello has no schema".to_string()))?;
    Ok(Hello { version, schema, junk })
}

pub(super) fn decode_envelope(item: C) -> Result<Incoming, String> {
    let v = Value::from_cbor(&item);
    let id = match v.get("id") {
        Some(Value::Int(i)) => *i as u64,
        _ => return Err(format!("the plugin sent a message without a numeric 'id': {}", short(&v))),
    };
    let run_id = v.get("run_id").and_then(Value::as_str).unwrap_or_default().to_string();
    let data = v.get("data").cloned().unwrap_or(Value::Null);
    match id {
        WORK_DONE => Ok(Incoming::Done { run_id, done: work_done(&data)? }),
        SIGNAL => Ok(Incoming::Signal {
            run_id,
            signal_id: data.get("signal_id").and_then(Value::as_str).unwrap_or_default().to_string(),
            data: data.get("data").cloned().unwrap_or(Value::Null),
        }),
        ERROR => Ok(Incoming::Error {
            run_id,
            error: data.get("error").and_then(Value::as_str).unwrap_or("(no message)").to_string(),
            step_fatal: matches!(data.get("step_fatal"), Some(Value::Bool(true))),
            server_fatal: matches!(data.get("server_fatal"), Some(Value::Bool(true))),
        }),
        // Ignoring it could leave the step waiting for ever for an answer that came in a form
        // we do not know: the conversation is broken.
        other => Err(format!("protocol violation: the plugin sent an unknown ATP message type {other}")),
    }
}

pub(super) fn decode_v1(item: C) -> Result<Incoming, String> {
    let v = Value::from_cbor(&item);
    Ok(Incoming::Done { run_id: String::new(), done: work_done(&v)? })
}

fn work_done(data: &Value) -> Result<WorkDone, String> {
    let output_id = data
        .get("output_id")
        .and_then(Value::as_str)
        .ok_or_else(|| format!("the plugin's result has no output_id: {}", short(data)))?
        .to_string();
    Ok(WorkDone {
        output_id,
        output_data: data.get("output_data").cloned().unwrap_or(Value::Null),
        debug_logs: data.get("debug_logs").and_then(Value::as_str).unwrap_or_default().to_string(),
    })
}

/// The SDK prefixes errors with `Error while calling step run/step:` and appends a traceback;
/// keep the message first and the traceback after it.
pub(super) fn tidy_plugin_error(e: &str) -> String {
    let e = e.trim();
    let e = match e.strip_prefix("Error while calling step ") {
        // "run/step:message" - the engine already names the step.
        Some(rest) => rest.split_once(':').map(|(_, m)| m).unwrap_or(rest),
        None => e,
    };
    match e.split_once("Traceback (most recent call last):") {
        Some((message, trace)) => format!("{}\nTraceback (most recent call last):{}", message.trim(), trace.trim_end()),
        None => e.to_string(),
    }
}

pub(super) fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or("")
}

fn short(v: &Value) -> String {
    let s = v.to_string();
    if s.len() > 300 {
        format!("{}…", &s[..s.char_indices().nth(300).map(|(i, _)| i).unwrap_or(s.len())])
    } else {
        s
    }
}

fn text(s: &str) -> C {
    C::Text(s.to_string())
}

fn envelope(id: u64, run_id: &str, data: C) -> C {
    C::Map(vec![(text("id"), C::Integer(id.into())), (text("run_id"), text(run_id)), (text("data"), data)])
}

fn encode(item: &C) -> Vec<u8> {
    let mut out = Vec::new();
    // Writing into a Vec cannot fail.
    let _ = ciborium::into_writer(item, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hello_after_junk_is_found() {
        let mut bytes = b"import-time print\n".to_vec();
        let hello = C::Map(vec![
            (text("version"), C::Integer(3.into())),
            (text("schema"), C::Map(vec![(text("steps"), C::Map(vec![]))])),
        ]);
        bytes.extend(encode(&hello));
        let h = read_hello(&mut std::io::Cursor::new(bytes)).unwrap();
        assert_eq!(h.version, 3);
        assert_eq!(h.junk, b"import-time print\n");
        assert_eq!(show_bytes(&h.junk), "18 bytes: b\"import-time print\\n\"");
        let long = show_bytes(&[0x1b; 300]);
        assert!(long.starts_with("300 bytes: b\"\\x1b") && long.ends_with("... (300 bytes in all)"), "{long}");
    }

    #[test]
    fn garbage_without_hello_is_an_error_not_a_panic() {
        let r = read_hello(&mut std::io::Cursor::new(b"\xff\x00garbage".to_vec()));
        assert!(matches!(r, Err(Some(_))));
        let r = read_hello(&mut std::io::Cursor::new(Vec::new()));
        assert!(matches!(r, Err(None)));
    }

    #[test]
    fn envelopes_decode() {
        let done = envelope(
            WORK_DONE,
            "r1",
            C::Map(vec![
                (text("output_id"), text("success")),
                (text("output_data"), C::Map(vec![])),
                (text("debug_logs"), text("x")),
            ]),
        );
        match decode_envelope(done).unwrap() {
            Incoming::Done { run_id, done } => {
                assert_eq!(run_id, "r1");
                assert_eq!(done.output_id, "success");
            }
            other => panic!("{other:?}"),
        }
        assert!(decode_envelope(C::Integer(5.into())).is_err());
    }

    proptest::proptest! {
        // Case count: PROPTEST_CASES (default 256); long local runs are in RELIABILITY.md.
        /// No byte string makes the hello reader or the envelope decoder panic.
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..512)) {
            let _ = read_hello(&mut std::io::Cursor::new(bytes.clone()));
            let mut cursor = std::io::Cursor::new(bytes);
            for _ in 0..8 {
                match ciborium::from_reader::<C, _>(&mut cursor) {
                    Ok(item) => {
                        let _ = decode_envelope(item.clone());
                        let _ = decode_v1(item);
                    }
                    Err(_) => break,
                }
            }
        }

        /// Valid envelopes with a few corrupted bytes are handled without panics.
        #[test]
        fn corrupted_envelopes_never_panic(flips in proptest::collection::vec((0usize..64, proptest::num::u8::ANY), 1..6)) {
            let mut bytes = encode(&envelope(
                WORK_DONE,
                "r1",
                C::Map(vec![(text("output_id"), text("success")), (text("output_data"), C::Map(vec![(text("k"), C::Integer(1.into()))])), (text("debug_logs"), text("x"))]),
            ));
            for (i, b) in flips {
                let n = bytes.len();
                bytes[i % n] = b;
            }
            if let Ok(item) = ciborium::from_reader::<C, _>(&bytes[..]) {
                let _ = decode_envelope(item);
            }
        }
    }

    #[test]
    fn client_done_bytes_match_the_capture() {
        let bytes = encode(&envelope(CLIENT_DONE, "", C::Map(vec![])));
        assert_eq!(hex::encode(bytes), "a3626964046672756e5f6964606464617461a0");
    }
}
