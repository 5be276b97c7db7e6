//! `HttpEngine` against a tiny HTTP/1.1 server on 127.0.0.1 started by each test.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use ura_tts::{
    encode_wav, HttpEngine, HttpEngineConfig, HttpMethod, Language, Rate, ResponseFormat,
    Synthesizer, TtsError, Voice,
};

/// What the server saw.
#[derive(Debug)]
struct Request {
    line: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Request {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Serves one request on 127.0.0.1: records it, waits `delay`, then answers
/// `status` with `content_type` and `body`. Gives up after 5 s without a client.
fn serve_once(
    status: u16,
    content_type: &str,
    body: Vec<u8>,
    delay: Duration,
) -> (String, mpsc::Receiver<Request>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/v1/speak", listener.local_addr().unwrap());
    listener.set_nonblocking(true).unwrap();
    let content_type = content_type.to_string();
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut stream = loop {
            match listener.accept() {
                Ok((s, _)) => break s,
                Err(_) if Instant::now() < deadline => thread::sleep(Duration::from_millis(2)),
                Err(_) => return,
            }
        };
        stream.set_nonblocking(false).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(2)))
            .unwrap();
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut line = String::new();
        if reader.read_line(&mut line).is_err() {
            return;
        }
        let mut headers = Vec::new();
        loop {
            let mut h = String::new();
            if reader.read_line(&mut h).is_err() || h.trim().is_empty() {
                break;
            }
            if let Some((k, v)) = h.trim_end().split_once(':') {
                headers.push((k.trim().to_string(), v.trim().to_string()));
            }
        }
        let len = headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
            .and_then(|(_, v)| v.parse::<usize>().ok())
            .unwrap_or(0);
        let mut req_body = vec![0; len];
        let _ = reader.read_exact(&mut req_body);
        let _ = tx.send(Request {
            line: line.trim_end().to_string(),
            headers,
            body: req_body,
        });
        thread::sleep(delay);
        let head = format!(
            "HTTP/1.1 {status} X\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        );
        let _ = stream.write_all(head.as_bytes());
        let _ = stream.write_all(&body);
    });
    (url, rx)
}

fn config(url: String, response: ResponseFormat) -> HttpEngineConfig {
    HttpEngineConfig {
        name: "cloud".into(),
        url,
        method: HttpMethod::Post,
        headers: [("X-Api-Key".to_string(), "s3cret".to_string())].into(),
        content_type: "application/json".into(),
        body: r#"{"input":{"text":"{text}"},"voice":"{voice}","wpm":{rate}}"#.into(),
        response,
        timeout_ms: 3_000,
        voices: [("pt-BR".to_string(), "pt-BR-Francisca".to_string())].into(),
    }
}

#[test]
fn wav_answer_is_decoded_and_the_request_carries_key_and_json_text() {
    let tone = common::tone(440.0, 16_000, 0.4, 12_000.0);
    let (url, seen) = serve_once(200, "audio/wav", encode_wav(&tone).unwrap(), Duration::ZERO);
    let engine = HttpEngine::new(config(url, ResponseFormat::Wav)).unwrap();
    let text = "Olá, \"cliente\"!\n-- {voice} \\ fim";
    let audio = engine
        .synthesize(
            text,
            &Voice::Language(Language::PtBr),
            Rate::new(150).unwrap(),
        )
        .unwrap();

    let req = seen.recv_timeout(Duration::from_secs(5)).unwrap();
    assert_eq!(req.line, "POST /v1/speak HTTP/1.1");
    assert_eq!(req.header("x-api-key"), Some("s3cret"));
    assert_eq!(req.header("content-type"), Some("application/json"));
    let json: serde_json::Value = serde_json::from_slice(&req.body).unwrap();
    assert_eq!(json["input"]["text"], text);
    assert_eq!(json["voice"], "pt-BR-Francisca");
    assert_eq!(json["wpm"], 150);

    assert_eq!(audio.sample_rate, 16_000);
    assert_eq!(audio.samples.len(), 6_400);
    let f = common::zero_crossing_freq(&audio);
    assert!((f - 440.0).abs() < 3.0, "tone at {f} Hz");
    // And it survives the trip to the 8 kHz prompt rate.
    let prompt = audio.to_prompt_rate().unwrap();
    assert_eq!(prompt.samples.len(), 3_200);
    assert!((common::zero_crossing_freq(&prompt) - 440.0).abs() < 5.0);
}

#[test]
fn raw_pcm_answer_is_taken_at_the_configured_rate() {
    let samples: Vec<i16> = vec![0, 1000, -1000, i16::MAX, i16::MIN, 7];
    let bytes: Vec<u8> = samples.iter().flat_map(|s| s.to_le_bytes()).collect();
    let (url, _seen) = serve_once(200, "application/octet-stream", bytes, Duration::ZERO);
    let engine =
        HttpEngine::new(config(url, ResponseFormat::Pcm16Le { sample_rate: 8_000 })).unwrap();
    let audio = engine
        .synthesize("Hello", &Language::EnUs.into(), Rate::DEFAULT)
        .unwrap();
    assert_eq!(audio.samples, samples);
    assert_eq!(audio.sample_rate, 8_000);
}

#[test]
fn server_error_is_an_http_status_error() {
    let (url, _seen) = serve_once(
        500,
        "text/plain",
        b"engine overloaded".to_vec(),
        Duration::ZERO,
    );
    let engine = HttpEngine::new(config(url, ResponseFormat::Wav)).unwrap();
    match engine.synthesize("Oi", &Language::PtBr.into(), Rate::DEFAULT) {
        Err(TtsError::HttpStatus { status, body }) => {
            assert_eq!(status, 500);
            assert_eq!(body, "engine overloaded");
        }
        other => panic!("expected HttpStatus, got {other:?}"),
    }
}

#[test]
fn a_json_error_with_status_200_is_not_audio() {
    let (url, _seen) = serve_once(
        200,
        "application/json",
        br#"{"error":"invalid voice"}"#.to_vec(),
        Duration::ZERO,
    );
    let engine = HttpEngine::new(config(url, ResponseFormat::Wav)).unwrap();
    match engine.synthesize("Oi", &Language::PtBr.into(), Rate::DEFAULT) {
        Err(TtsError::BadAudio(m)) => assert!(m.contains("invalid voice"), "{m}"),
        other => panic!("expected BadAudio, got {other:?}"),
    }
}

#[test]
fn garbage_labelled_as_audio_is_not_audio() {
    let (url, _seen) = serve_once(200, "audio/wav", b"hello there".to_vec(), Duration::ZERO);
    let engine = HttpEngine::new(config(url, ResponseFormat::Wav)).unwrap();
    assert!(matches!(
        engine.synthesize("Oi", &Language::PtBr.into(), Rate::DEFAULT),
        Err(TtsError::BadAudio(_))
    ));

    let (url, _seen) = serve_once(200, "audio/L16", vec![1, 2, 3], Duration::ZERO);
    let engine = HttpEngine::new(config(
        url,
        ResponseFormat::Pcm16Le {
            sample_rate: 16_000,
        },
    ))
    .unwrap();
    assert!(matches!(
        engine.synthesize("Oi", &Language::PtBr.into(), Rate::DEFAULT),
        Err(TtsError::BadAudio(_))
    ));
}

#[test]
fn a_slow_service_times_out() {
    let (url, _seen) = serve_once(200, "audio/wav", Vec::new(), Duration::from_secs(3));
    let mut c = config(url, ResponseFormat::Wav);
    c.timeout_ms = 300;
    let engine = HttpEngine::new(c).unwrap();
    let start = Instant::now();
    let result = engine.synthesize("Oi", &Language::PtBr.into(), Rate::DEFAULT);
    let took = start.elapsed();
    assert!(
        matches!(result, Err(TtsError::Timeout { ref engine, after }) if engine == "cloud" && after == Duration::from_millis(300)),
        "{result:?}"
    );
    assert!(took < Duration::from_secs(2), "took {took:?}");
}

#[test]
fn an_unreachable_service_is_a_transport_error() {
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let engine = HttpEngine::new(config(
        format!("http://127.0.0.1:{port}/v1/speak"),
        ResponseFormat::Wav,
    ))
    .unwrap();
    assert!(matches!(
        engine.synthesize("Oi", &Language::PtBr.into(), Rate::DEFAULT),
        Err(TtsError::Transport(_))
    ));
}

#[test]
fn text_limits_apply_before_any_request() {
    // Port 9 on loopback: nothing is sent, so nothing needs to listen.
    let engine =
        HttpEngine::new(config("http://127.0.0.1:9/".into(), ResponseFormat::Wav)).unwrap();
    assert!(matches!(
        engine.synthesize(&"a".repeat(5_001), &Language::PtBr.into(), Rate::DEFAULT),
        Err(TtsError::TextTooLong {
            len: 5_001,
            max: 5_000
        })
    ));
    assert!(matches!(
        engine.synthesize("  ", &Language::PtBr.into(), Rate::DEFAULT),
        Err(TtsError::EmptyText)
    ));
}
