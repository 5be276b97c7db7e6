use super::*;

const SIPP: &str = "v=0\n\
o=user1 53655765 2353687637 IN IP4 10.0.0.9\n\
s=-\n\
c=IN IP4 10.0.0.9\n\
t=0 0\n\
m=audio 6000 RTP/AVP 0 101\n\
a=rtpmap:0 PCMU/8000\n\
a=rtpmap:101 telephone-event/8000\n\
a=fmtp:101 0-11,16\n";

const BARESIP: &str = "v=0\r\n\
o=- 1419813474 3183734337 IN IP4 192.168.1.10\r\n\
s=-\r\n\
c=IN IP4 192.168.1.10\r\n\
t=0 0\r\n\
m=audio 10270 RTP/AVP 96 9 0 8 101\r\n\
b=AS:128\r\n\
a=rtpmap:96 opus/48000/2\r\n\
a=fmtp:96 stereo=1;sprop-stereo=1\r\n\
a=rtpmap:9 G722/8000\r\n\
a=rtpmap:0 PCMU/8000\r\n\
a=rtpmap:8 PCMA/8000\r\n\
a=rtpmap:101 telephone-event/8000\r\n\
a=fmtp:101 0-15\r\n\
a=sendrecv\r\n\
a=label:1\r\n\
a=ssrc:1847204620 cname:b2b4f1a0-2c0b\r\n";

const LINPHONE: &str = "v=0\r\n\
o=alice 2214 3474 IN IP4 192.168.0.20\r\n\
s=Talk\r\n\
c=IN IP4 192.168.0.20\r\n\
t=0 0\r\n\
a=rtcp-xr:rcvr-rtt=all:10000 stat-summary=loss,dup,jitt,TTL voip-metrics\r\n\
a=record:off\r\n\
m=audio 7078 RTP/AVP 96 97 98 0 8 18 101 99 100\r\n\
a=rtpmap:96 opus/48000/2\r\n\
a=fmtp:96 useinbandfec=1\r\n\
a=rtpmap:97 speex/16000\r\n\
a=fmtp:97 vbr=on\r\n\
a=rtpmap:98 speex/8000\r\n\
a=fmtp:98 vbr=on\r\n\
a=fmtp:18 annexb=yes\r\n\
a=rtpmap:101 telephone-event/48000\r\n\
a=rtpmap:99 telephone-event/16000\r\n\
a=rtpmap:100 telephone-event/8000\r\n\
a=rtcp:7079\r\n\
a=rtcp-fb:* trr-int 1000\r\n\
a=rtcp-fb:* ccm tmmbr\r\n";

const ZOIPER: &str = "v=0\r\n\
o=Zoiper 0 5225941 IN IP4 10.0.0.5\r\n\
s=Zoiper\r\n\
c=IN IP4 10.0.0.5\r\n\
t=0 0\r\n\
m=audio 8000 RTP/AVP 8 0 3 110 97 101\r\n\
a=rtpmap:8 PCMA/8000\r\n\
a=rtpmap:0 PCMU/8000\r\n\
a=rtpmap:3 GSM/8000\r\n\
a=rtpmap:110 speex/8000\r\n\
a=rtpmap:97 iLBC/8000\r\n\
a=fmtp:97 mode=20\r\n\
a=rtpmap:101 telephone-event/8000\r\n\
a=fmtp:101 0-16\r\n\
a=sendrecv\r\n";

const ASTERISK: &str = "v=0\r\n\
o=- 1595321488 1595321490 IN IP4 203.0.113.7\r\n\
s=Asterisk\r\n\
c=IN IP4 203.0.113.7\r\n\
t=0 0\r\n\
m=audio 14560 RTP/AVP 9 0 8 96\r\n\
a=rtpmap:9 G722/8000\r\n\
a=rtpmap:0 PCMU/8000\r\n\
a=rtpmap:8 PCMA/8000\r\n\
a=rtpmap:96 telephone-event/8000\r\n\
a=fmtp:96 0-16\r\n\
a=ptime:30\r\n\
a=maxptime:150\r\n\
a=sendrecv\r\n";

/// Chrome-style offer: DTLS-SRTP audio plus a data channel.
const CHROME: &str = "v=0\r\n\
o=- 4611731400430051336 2 IN IP4 127.0.0.1\r\n\
s=-\r\n\
t=0 0\r\n\
a=group:BUNDLE 0 1\r\n\
a=extmap-allow-mixed\r\n\
a=msid-semantic: WMS stream\r\n\
m=audio 9 UDP/TLS/RTP/SAVPF 111 63 9 0 8 13 110 126\r\n\
c=IN IP4 0.0.0.0\r\n\
a=rtcp:9 IN IP4 0.0.0.0\r\n\
a=candidate:1 1 udp 2122260223 192.168.1.3 50000 typ host generation 0\r\n\
a=ice-ufrag:abcd\r\n\
a=ice-pwd:aaaaaaaaaaaaaaaaaaaaaaaa\r\n\
a=fingerprint:sha-256 AA:BB:CC\r\n\
a=setup:actpass\r\n\
a=mid:0\r\n\
a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level\r\n\
a=sendrecv\r\n\
a=rtcp-mux\r\n\
a=rtpmap:111 opus/48000/2\r\n\
a=rtcp-fb:111 transport-cc\r\n\
a=fmtp:111 minptime=10;useinbandfec=1\r\n\
a=rtpmap:63 red/48000/2\r\n\
a=rtpmap:0 PCMU/8000\r\n\
a=rtpmap:8 PCMA/8000\r\n\
a=rtpmap:126 telephone-event/8000\r\n\
a=ssrc:3570614608 cname:4TOk42mSjXCkVIa6\r\n\
m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\n\
c=IN IP4 0.0.0.0\r\n\
a=mid:1\r\n\
a=sctp-port:5000\r\n";

/// Gateway-style WebRTC offer over plain RTP/AVPF (e.g. a media server leg).
const AVPF: &str = "v=0\r\n\
o=- 1 1 IN IP4 198.51.100.4\r\n\
s=-\r\n\
t=0 0\r\n\
m=audio 40000 RTP/AVPF 111 0 126\r\n\
c=IN IP4 198.51.100.4\r\n\
a=rtcp-mux\r\n\
a=candidate:1 1 udp 2122260223 198.51.100.4 40000 typ host\r\n\
a=rtpmap:111 opus/48000/2\r\n\
a=rtpmap:0 PCMU/8000\r\n\
a=rtpmap:126 telephone-event/8000\r\n\
a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:xxxx\r\n";

fn local() -> LocalMedia {
    LocalMedia {
        address: "192.0.2.1".parse().unwrap(),
        port: 20000,
        codecs: vec![AudioCodec::Pcmu, AudioCodec::Pcma],
        telephone_event_pt: 101,
        session_id: 42,
        session_version: 7,
        username: "ura".into(),
    }
}

fn sd(s: &str) -> SessionDescription {
    SessionDescription::parse(s).unwrap()
}

fn ans(s: &str) -> (SessionDescription, Negotiated) {
    answer(&sd(s), &local()).unwrap()
}

fn audio(s: &str, dir: &str) -> String {
    format!("v=0\r\no=- 1 1 IN IP4 10.1.1.1\r\ns=-\r\nc=IN IP4 10.1.1.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0 8\r\n{s}{dir}")
}

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

#[test]
fn sipp_pcmu_and_telephone_event() {
    let (a, n) = ans(SIPP);
    assert_eq!(
        (n.codec, n.payload_type, n.telephone_event_pt),
        (AudioCodec::Pcmu, 0, Some(101))
    );
    assert_eq!(n.remote_rtp, addr("10.0.0.9:6000"));
    assert_eq!(n.remote_rtcp, None);
    assert_eq!(
        (n.local_direction, n.remote_direction, n.ptime),
        (Direction::SendRecv, Direction::SendRecv, 20)
    );
    let text = a.to_string();
    let expected = "v=0\r\no=ura 42 7 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n\
m=audio 20000 RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\n\
a=fmtp:101 0-11,16\r\na=ptime:20\r\na=sendrecv\r\n";
    assert_eq!(text, expected);
    assert_eq!(sd(&text), a);
}

#[test]
fn baresip_first_supported_in_caller_order() {
    let o = sd(BARESIP);
    assert_eq!(o.media[0].formats, vec![96, 9, 0, 8, 101]);
    assert!(o.media[0]
        .other_attributes
        .contains(&"ssrc:1847204620 cname:b2b4f1a0-2c0b".to_string()));
    let (a, n) = ans(BARESIP);
    assert_eq!(
        (n.codec, n.payload_type, n.telephone_event_pt),
        (AudioCodec::Pcmu, 0, Some(101))
    );
    assert_eq!(a.media[0].fmtps, vec![(101, "0-15".to_string())]);
}

#[test]
fn linphone_picks_8k_telephone_event_and_rtcp() {
    let o = sd(LINPHONE);
    assert_eq!(o.session_name, "Talk");
    assert_eq!(o.attributes.len(), 2);
    assert_eq!(o.media[0].rtcp, Some((7079, None)));
    let (a, n) = ans(LINPHONE);
    assert_eq!(
        (n.codec, n.payload_type, n.telephone_event_pt),
        (AudioCodec::Pcmu, 0, Some(100))
    );
    assert_eq!(n.remote_rtcp, Some(addr("192.168.0.20:7079")));
    assert_eq!(a.media[0].formats, vec![0, 100]);
    assert_eq!(a.media[0].fmtps, vec![(100, "0-16".to_string())]);
}

#[test]
fn zoiper_prefers_pcma() {
    let (a, n) = ans(ZOIPER);
    assert_eq!((n.codec, n.payload_type), (AudioCodec::Pcma, 8));
    assert_eq!(a.media[0].rtpmaps[0].encoding, "PCMA");
    // Our codec list restricts choice in answers too.
    let only_u = LocalMedia {
        codecs: vec![AudioCodec::Pcmu],
        ..local()
    };
    assert_eq!(
        answer(&sd(ZOIPER), &only_u).unwrap().1.codec,
        AudioCodec::Pcmu
    );
}

#[test]
fn asterisk_dynamic_te_96_and_ptime() {
    let (_, n) = ans(ASTERISK);
    assert_eq!(
        (n.codec, n.telephone_event_pt, n.ptime),
        (AudioCodec::Pcmu, Some(96), 30)
    );
    assert_eq!(
        sd(ASTERISK).media[0].other_attributes,
        vec!["maxptime:150".to_string()]
    );
}

#[test]
fn webrtc_dtls_is_unsupported_but_parses() {
    let o = sd(CHROME);
    assert_eq!(o.origin.session_id, 4611731400430051336);
    assert_eq!(o.media.len(), 2);
    assert_eq!(
        o.media[1].other_formats,
        vec!["webrtc-datachannel".to_string()]
    );
    assert_eq!(o.media[0].rtcp, Some((9, Some("0.0.0.0".parse().unwrap()))));
    assert_eq!(
        answer(&o, &local()).unwrap_err(),
        SdpError::UnsupportedTransport
    );
}

#[test]
fn avpf_gateway_offer_is_answered() {
    let (a, n) = ans(AVPF);
    assert_eq!(
        (n.codec, n.payload_type, n.telephone_event_pt),
        (AudioCodec::Pcmu, 0, Some(126))
    );
    assert_eq!(n.remote_rtp, addr("198.51.100.4:40000"));
    assert_eq!(a.media[0].protocol, "RTP/AVPF");
}

#[test]
fn dynamic_pcma_by_name_and_te_100() {
    let s = "v=0\no=- 1 1 IN IP4 10.0.0.1\nc=IN IP4 10.0.0.1\nm=audio 5004 RTP/AVP 97 100\n\
a=rtpmap:97 pcma/8000\na=rtpmap:100 Telephone-Event/8000\n";
    let (a, n) = ans(s);
    assert_eq!(
        (n.codec, n.payload_type, n.telephone_event_pt),
        (AudioCodec::Pcma, 97, Some(100))
    );
    assert_eq!(
        a.media[0].rtpmaps[0],
        RtpMap {
            payload_type: 97,
            encoding: "PCMA".into(),
            clock_rate: 8000,
            channels: None
        }
    );
    // missing s= and t= are tolerated and normalised
    assert_eq!(
        (sd(s).session_name.as_str(), sd(s).times.clone()),
        ("-", vec!["0 0".to_string()])
    );
}

#[test]
fn no_common_codec() {
    let g729 = "v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nc=IN IP4 1.2.3.4\r\nt=0 0\r\nm=audio 4000 RTP/AVP 18 101\r\na=rtpmap:18 G729/8000\r\na=rtpmap:101 telephone-event/8000\r\n";
    assert_eq!(
        answer(&sd(g729), &local()).unwrap_err(),
        SdpError::NoCommonCodec
    );
    let opus = "v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nc=IN IP4 1.2.3.4\r\nt=0 0\r\nm=audio 4000 RTP/AVP 111\r\na=rtpmap:111 opus/48000/2\r\n";
    assert_eq!(
        answer(&sd(opus), &local()).unwrap_err(),
        SdpError::NoCommonCodec
    );
    // PT 0 remapped to something else by rtpmap is not PCMU
    let remap = "v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\nc=IN IP4 1.2.3.4\r\nm=audio 4000 RTP/AVP 0\r\na=rtpmap:0 opus/48000/2\r\n";
    assert_eq!(
        answer(&sd(remap), &local()).unwrap_err(),
        SdpError::NoCommonCodec
    );
    assert_eq!(SdpError::NoCommonCodec.to_string(), "no common codec");
}

#[test]
fn no_audio_and_rejected_audio() {
    let video = "v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\nc=IN IP4 1.2.3.4\r\nm=video 4002 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\n";
    assert_eq!(answer(&sd(video), &local()).unwrap_err(), SdpError::NoAudio);
    let zero = "v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\nc=IN IP4 1.2.3.4\r\nm=audio 0 RTP/AVP 0\r\n";
    assert_eq!(answer(&sd(zero), &local()).unwrap_err(), SdpError::NoAudio);
    let two = format!("{zero}m=audio 4000 RTP/AVP 8\r\n");
    let (a, n) = ans(&two);
    assert_eq!(
        (a.media[0].port, a.media[1].port, n.codec),
        (0, 20000, AudioCodec::Pcma)
    );
    let no_c = "v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\nm=audio 4000 RTP/AVP 0\r\n";
    assert_eq!(
        answer(&sd(no_c), &local()).unwrap_err(),
        SdpError::NoConnectionAddress
    );
}

#[test]
fn video_and_audio_keeps_m_line_order() {
    let s = "v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nc=IN IP4 1.2.3.4\r\nt=0 0\r\n\
m=video 4002 RTP/AVP 96 97\r\na=rtpmap:96 H264/90000\r\na=rtpmap:97 VP8/90000\r\n\
m=audio 4000 RTP/AVP 0\r\nc=IN IP4 5.6.7.8\r\n\
m=image 4004 udptl t38\r\n";
    let (a, n) = ans(s);
    assert_eq!(a.media.len(), 3);
    assert_eq!(
        (
            a.media[0].kind.as_str(),
            a.media[0].port,
            a.media[0].formats.clone()
        ),
        ("video", 0, vec![96])
    );
    assert_eq!(
        (a.media[1].kind.as_str(), a.media[1].port),
        ("audio", 20000)
    );
    assert_eq!(
        (
            a.media[2].port,
            a.media[2].protocol.as_str(),
            a.media[2].other_formats.clone()
        ),
        (0, "udptl", vec!["t38".to_string()])
    );
    assert_eq!(n.remote_rtp, addr("5.6.7.8:4000"));
    assert!(a.to_string().contains("m=video 0 RTP/AVP 96\r\n"));
    assert!(a.to_string().contains("m=image 0 udptl t38\r\n"));
    assert_eq!(sd(&a.to_string()), a);
}

#[test]
fn hold_directions() {
    let cases = [
        (
            audio("", "a=sendonly\r\n"),
            Direction::SendOnly,
            Direction::RecvOnly,
        ),
        (
            audio("", "a=recvonly\r\n"),
            Direction::RecvOnly,
            Direction::SendOnly,
        ),
        (
            audio("", "a=inactive\r\n"),
            Direction::Inactive,
            Direction::Inactive,
        ),
        (audio("", ""), Direction::SendRecv, Direction::SendRecv),
    ];
    for (s, remote, local_dir) in cases {
        let (a, n) = ans(&s);
        assert_eq!(
            (n.remote_direction, n.local_direction),
            (remote, local_dir),
            "{s}"
        );
        assert_eq!(a.media[0].direction, local_dir);
        assert!(a.to_string().ends_with(&format!("a={local_dir}\r\n")));
    }
    // session-level direction applies; media-level overrides it
    let s = "v=0\r\no=- 1 1 IN IP4 1.1.1.1\r\nc=IN IP4 1.1.1.1\r\na=sendonly\r\nm=audio 4000 RTP/AVP 0\r\nm=audio 4002 RTP/AVP 0\r\na=sendrecv\r\n";
    let o = sd(s);
    assert_eq!(
        (o.media[0].direction, o.media[1].direction),
        (Direction::SendOnly, Direction::SendRecv)
    );
    assert_eq!(ans(s).1.local_direction, Direction::RecvOnly);
}

#[test]
fn hold_with_zero_address() {
    let held = |dir: &str| audio("", dir).replace("c=IN IP4 10.1.1.1", "c=IN IP4 0.0.0.0");
    let (a, n) = ans(&held(""));
    assert_eq!(
        (n.remote_direction, n.local_direction),
        (Direction::Inactive, Direction::Inactive)
    );
    assert!(n.remote_rtp.ip().is_unspecified());
    assert_eq!(a.media[0].direction, Direction::Inactive);
    let n = ans(&held("a=sendonly\r\n")).1;
    assert_eq!(
        (n.remote_direction, n.local_direction),
        (Direction::SendOnly, Direction::RecvOnly)
    );
    let n = ans(&held("a=recvonly\r\n")).1;
    assert_eq!(n.local_direction, Direction::Inactive);
}

#[test]
fn offer_text_and_accept_answer() {
    let o = offer(&local(), Direction::SendRecv);
    let expected = "v=0\r\no=ura 42 7 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n\
m=audio 20000 RTP/AVP 0 8 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\n\
a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\na=ptime:20\r\na=sendrecv\r\n";
    assert_eq!(o.to_string(), expected);
    // the peer (another ura) answers preferring PCMA
    let peer = LocalMedia {
        address: "2001:db8::5".parse().unwrap(),
        port: 30000,
        codecs: vec![AudioCodec::Pcma],
        ..local()
    };
    let (a, pn) = answer(&sd(&o.to_string()), &peer).unwrap();
    assert_eq!(pn.codec, AudioCodec::Pcma);
    assert!(a
        .to_string()
        .contains("o=ura 42 7 IN IP6 2001:db8::5\r\ns=-\r\nc=IN IP6 2001:db8::5\r\n"));
    let n = accept_answer(&o, &sd(&a.to_string())).unwrap();
    assert_eq!(
        (n.codec, n.payload_type, n.telephone_event_pt),
        (AudioCodec::Pcma, 8, Some(101))
    );
    assert_eq!(n.remote_rtp, addr("[2001:db8::5]:30000"));
    assert_eq!(n.local_direction, Direction::SendRecv);
    // we put the peer on hold
    let hold = offer(&local(), Direction::SendOnly);
    let (ha, _) = answer(&hold, &peer).unwrap();
    assert_eq!(ha.media[0].direction, Direction::RecvOnly);
    assert_eq!(
        accept_answer(&hold, &ha).unwrap().local_direction,
        Direction::SendOnly
    );
}

#[test]
fn accept_answer_errors_and_limits() {
    let o = offer(&local(), Direction::SendRecv);
    let rejected = "v=0\r\no=- 1 1 IN IP4 1.1.1.1\r\nc=IN IP4 1.1.1.1\r\nm=audio 0 RTP/AVP 0\r\n";
    assert_eq!(
        accept_answer(&o, &sd(rejected)).unwrap_err(),
        SdpError::AudioRejected
    );
    let empty = "v=0\r\no=- 1 1 IN IP4 1.1.1.1\r\n";
    assert_eq!(
        accept_answer(&o, &sd(empty)).unwrap_err(),
        SdpError::AnswerMismatch
    );
    let g729 = "v=0\r\no=- 1 1 IN IP4 1.1.1.1\r\nc=IN IP4 1.1.1.1\r\nm=audio 4000 RTP/AVP 18\r\n";
    assert_eq!(
        accept_answer(&o, &sd(g729)).unwrap_err(),
        SdpError::NoCommonCodec
    );
    // answer recvonly, no rtpmaps (static PT + our te mapping), a=rtcp with address
    let ro = "v=0\r\no=- 1 1 IN IP4 1.1.1.1\r\nc=IN IP4 1.1.1.1\r\nm=audio 4000 RTP/AVP 0 101\r\na=rtcp:4005 IN IP4 1.1.1.2\r\na=recvonly\r\n";
    let n = accept_answer(&o, &sd(ro)).unwrap();
    assert_eq!(
        (n.local_direction, n.telephone_event_pt),
        (Direction::SendOnly, Some(101))
    );
    assert_eq!(n.remote_rtcp, Some(addr("1.1.1.2:4005")));
}

#[test]
fn parse_errors_name_the_problem() {
    let bad = [
        ("", SdpError::MissingVersion),
        ("o=- 1 1 IN IP4 1.1.1.1\r\n", SdpError::MissingVersion),
        ("v=1\r\n", SdpError::MissingVersion),
        (
            "v=0\r\nm=audio abc RTP/AVP 0\r\n",
            SdpError::BadMedia("port"),
        ),
        (
            "v=0\r\nm=audio 4000 RTP/AVP 0 x\r\n",
            SdpError::BadMedia("payload type"),
        ),
        (
            "v=0\r\nm=audio 4000 RTP/AVP 200\r\n",
            SdpError::BadMedia("payload type"),
        ),
        ("v=0\r\nm=audio 4000\r\n", SdpError::BadMedia("protocol")),
        ("v=0\r\nc=IN IP4 not.an.ip\r\n", SdpError::BadConnection),
        (
            "v=0\r\nm=audio 1 RTP/AVP 0\r\nc=IN IP4\r\n",
            SdpError::BadConnection,
        ),
        ("v=0\r\no=- x 1 IN IP4 1.1.1.1\r\n", SdpError::BadOrigin),
        (
            "v=0\r\ns=-\r\nthis is not sdp\r\n",
            SdpError::MalformedLine(3),
        ),
    ];
    for (s, e) in bad {
        assert_eq!(SessionDescription::parse(s).unwrap_err(), e, "{s:?}");
    }
    let many_m = format!("v=0\r\n{}", "m=audio 0 RTP/AVP 0\r\n".repeat(65));
    assert_eq!(
        SessionDescription::parse(many_m).unwrap_err(),
        SdpError::TooManyMedia
    );
    let many_a = format!("v=0\r\n{}", "a=x\r\n".repeat(1001));
    assert_eq!(
        SessionDescription::parse(many_a).unwrap_err(),
        SdpError::TooManyAttributes
    );
    assert_eq!(
        SessionDescription::parse(vec![b'a'; MAX_SDP_LEN + 1]).unwrap_err(),
        SdpError::TooLarge
    );
    assert_eq!(
        SdpError::BadMedia("port").to_string(),
        "bad SDP m= line: port"
    );
}

#[test]
fn tolerant_parsing() {
    let s = "\u{feff}v=0  \n\no=- 1 2 IN IP4 host.example \t\ns=\nc=IN IP4 224.2.1.1/127\nb=AS:64\nt=1 2\nt=3 4\nr=7d 1h 0 25h\n\
i=info after b\nz=2882844526 -1h\nm=audio 4000/2 RTP/AVP 0\nb=AS:64\na=ptime:20.0\na=rtcp-mux\na=rtpmap:bad\n\
a=candidate:1 1 UDP 2130706431 10.0.0.1 4000 typ host\na=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:abc\nx=unknown\n\0\0";
    let o = sd(s);
    assert_eq!(o.origin.address, "host.example");
    assert_eq!(o.session_name, "-");
    assert_eq!(o.connection, Some("224.2.1.1".parse().unwrap()));
    assert_eq!(o.times, vec!["1 2".to_string(), "3 4".to_string()]);
    assert_eq!(
        o.other_lines,
        vec![
            "i=info after b",
            "b=AS:64",
            "r=7d 1h 0 25h",
            "z=2882844526 -1h"
        ]
    );
    let m = &o.media[0];
    assert_eq!(
        (m.port, m.ptime, m.other_attributes.len()),
        (4000, Some(20), 4)
    );
    assert_eq!(m.encoding_of(0), Some(("PCMU".to_string(), 8000)));
    assert_eq!(m.encoding_of(18), Some(("G729".to_string(), 8000)));
    assert_eq!(m.encoding_of(96), None);
    assert_eq!(sd(&o.to_string()), o);
}

#[test]
fn round_trips() {
    for s in [SIPP, BARESIP, LINPHONE, ZOIPER, ASTERISK, CHROME, AVPF] {
        let o = sd(s);
        let text = o.to_string();
        assert!(text.split_inclusive("\r\n").all(|l| l.ends_with("\r\n")));
        assert_eq!(sd(&text), o, "{s}");
        if let Ok((a, _)) = answer(&o, &local()) {
            assert_eq!(sd(&a.to_string()), a);
            assert_eq!(a.media.len(), o.media.len());
        }
    }
    // hand-built strings cannot inject lines
    let mut o = offer(&local(), Direction::SendRecv);
    o.session_name = "x\r\nm=video 1 RTP/AVP 0".into();
    o.origin.username = "a b".into();
    assert_eq!(sd(&o.to_string()).media.len(), 1);
    assert!(o.to_string().starts_with("v=0\r\no=a-b 42"));
}

#[test]
fn garbage_never_panics() {
    let mut rng = fastrand::Rng::with_seed(0x5d9);
    let alphabet = b"v=0amcost \r\n:/.IN IP4 RTP/AVP 0123456789-\x00\xff\xc3";
    for i in 0..4000 {
        let len = rng.usize(0..300);
        let bytes: Vec<u8> = match i % 3 {
            0 => (0..len).map(|_| rng.u8(..)).collect(),
            1 => (0..len)
                .map(|_| alphabet[rng.usize(..alphabet.len())])
                .collect(),
            _ => {
                let mut v = b"v=0\r\n".to_vec();
                v.extend((0..len).map(|_| alphabet[rng.usize(..alphabet.len())]));
                v
            }
        };
        if let Ok(o) = SessionDescription::parse(&bytes) {
            let _ = answer(&o, &local());
            let _ = accept_answer(&offer(&local(), Direction::SendRecv), &o);
            assert_eq!(sd(&o.to_string()), o);
        }
    }
    for s in [SIPP, BARESIP, LINPHONE, CHROME] {
        for cut in 0..=s.len() {
            if let Ok(o) = SessionDescription::parse(&s.as_bytes()[..cut]) {
                let _ = answer(&o, &local());
                assert_eq!(sd(&o.to_string()), o);
            }
        }
        // mutate single bytes of a valid SDP
        for _ in 0..500 {
            let mut b = s.as_bytes().to_vec();
            let at = rng.usize(..b.len());
            b[at] = rng.u8(..);
            if let Ok(o) = SessionDescription::parse(&b) {
                let _ = answer(&o, &local());
            }
        }
    }
}
