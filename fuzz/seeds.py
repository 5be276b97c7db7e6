#!/usr/bin/env python3
"""Writes the seed inputs of every fuzz target into fuzz/corpus/<target>/
(files named seed-*): RFC 4475's torture messages, the SDP of real phones
from sip/src/sdp/tests.rs, the demo configuration, and hand-made RTP,
RTCP, RFC 4733 and endpoint sequences. Run from anywhere; idempotent."""

import re
import struct
from pathlib import Path

FUZZ = Path(__file__).resolve().parent
ROOT = FUZZ.parent
CORPUS = FUZZ / "corpus"


def put(target, name, data):
    d = CORPUS / target
    d.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    (d / f"seed-{name}").write_bytes(data)


def rust_strings(path):
    """`const NAME: &str = "...";` of a Rust file, escapes undone."""
    text = path.read_text()
    out = {}
    for m in re.finditer(r'const ([A-Z_0-9]+): &str = "((?:[^"\\]|\\.)*)";', text, re.S):
        s = re.sub(r"\\\n\s*", "", m.group(2))
        s = s.replace("\\r", "\r").replace("\\n", "\n").replace('\\"', '"').replace("\\\\", "\\")
        out[m.group(1)] = s
    return out


def sip(start, headers, body=""):
    h = "".join(f"{k}: {v}\r\n" for k, v in headers)
    return f"{start}\r\n{h}Content-Length: {len(body.encode())}\r\n\r\n{body}"


SDP = ("v=0\r\no=alice 1 1 IN IP4 192.0.2.10\r\ns=-\r\nc=IN IP4 192.0.2.10\r\nt=0 0\r\n"
       "m=audio 30000 RTP/AVP 8 0 101\r\na=rtpmap:101 telephone-event/8000\r\n"
       "a=fmtp:101 0-16\r\na=ptime:20\r\na=sendrecv\r\n")
VIA = "SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK{b};rport"
FROM = "<sip:alice@192.0.2.10>;tag=a1"


def invite(branch="inv", call_id="c1", body=SDP, extra=()):
    return sip("INVITE sip:9000@192.0.2.1 SIP/2.0", [
        ("Via", VIA.format(b=branch)), ("Max-Forwards", "70"), ("From", FROM),
        ("To", "<sip:9000@192.0.2.1>"), ("Call-ID", call_id), ("CSeq", "1 INVITE"),
        ("Contact", "<sip:alice@192.0.2.10:5060>"), ("Record-Route", "<sip:p.example;lr>"),
        *extra, ("Content-Type", "application/sdp")], body)


def in_dialog(method, cseq, branch, extra=(), body="", ctype=None):
    headers = [("Via", VIA.format(b=branch)), ("Max-Forwards", "70"), ("From", FROM),
               ("To", "<sip:9000@192.0.2.1>;tag=$TAG"), ("Call-ID", "c1"),
               ("CSeq", f"{cseq} {method}"), *extra]
    if ctype:
        headers.append(("Content-Type", ctype))
    return sip(f"{method} sip:ura@192.0.2.1:5060 SIP/2.0", headers, body)


def response(code, reason, method, cseq, to_tag="bob1", body="", ctype=None):
    """A response to ura's last request ($BR, $CID, $TAG filled in)."""
    headers = [("Via", "SIP/2.0/UDP 192.0.2.1:5060;branch=$BR"), ("From", "<sip:5511@ura>;tag=$TAG"),
               ("To", f"<sip:2001@ura>;tag={to_tag}"), ("Call-ID", "$CID"), ("CSeq", f"{cseq} {method}"),
               ("Contact", "<sip:2001@192.0.2.10:5060>")]
    if ctype:
        headers.append(("Content-Type", ctype))
    return sip(f"SIP/2.0 {code} {reason}", headers, body)


def main():
    torture = sorted((ROOT / "sip/tests/rfc4475").glob("*.sip"))
    messages = {p.stem: p.read_bytes() for p in torture}
    messages["invite"] = invite().encode()
    messages["options-compact"] = (
        "OPTIONS sip:9000@192.0.2.1 SIP/2.0\r\nv: SIP/2.0/TCP [2001:db8::10]:5062;branch=z9hG4bKo\r\n"
        "f: <sip:a@[2001:db8::10]>;tag=x\r\nt: <sip:9000@192.0.2.1>\r\ni: o1\r\nCSeq: 7 OPTIONS\r\n"
        "Max-Forwards : 70\r\nSubject: folded\r\n  line\r\nl: 0\r\n\r\n").encode()
    messages["register"] = sip("REGISTER sip:ura SIP/2.0", [
        ("Via", VIA.format(b="reg")), ("Max-Forwards", "70"), ("From", "<sip:2001@ura>;tag=r1"),
        ("To", "<sip:2001@ura>"), ("Call-ID", "r1"), ("CSeq", "1 REGISTER"),
        ("Contact", "<sip:2001@192.0.2.10:5060>;expires=3600"),
        ("Authorization", 'Digest username="2001", realm="ura", nonce="abc", uri="sip:ura", '
         'response="0123456789abcdef0123456789abcdef", qop=auth, nc=00000001, cnonce="c", algorithm=MD5')]).encode()
    messages["response-200"] = response(200, "OK", "INVITE", 1, body=SDP, ctype="application/sdp").encode()
    for name, data in messages.items():
        put("sip_message", name, data)

    # Stream framer: [k][k read sizes][stream].
    a, b = messages["invite"], messages["options-compact"]
    put("stream_framer", "two", b"\x00" + a + b)
    put("stream_framer", "keepalive-cuts", b"\x03\x05\x40\x01" + b"\r\n\r\n" + a + b"\r\n" + b)
    put("stream_framer", "bad-length", b"\x01\x10" + b"OPTIONS sip:a@h SIP/2.0\r\nContent-Length: x\r\n\r\n")
    put("stream_framer", "torture-mcl01", b"\x00" + messages["mcl01"] + messages["ncl"])

    sdps = rust_strings(ROOT / "sip/src/sdp/tests.rs")
    sdps["ours"] = SDP
    sdps["hold"] = SDP.replace("c=IN IP4 192.0.2.10", "c=IN IP4 0.0.0.0").replace("sendrecv", "sendonly")
    sdps["ipv6-two-streams"] = ("v=0\r\no=- 2 2 IN IP6 2001:db8::10\r\ns=-\r\nc=IN IP6 2001:db8::10\r\nt=0 0\r\n"
                                "m=video 5000 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\n"
                                "m=audio 5002 RTP/AVPF 100 0\r\na=rtpmap:100 PCMU/8000\r\na=rtcp:5009 IN IP6 2001:db8::11\r\n")
    for name, text in sdps.items():
        put("sdp", name.lower(), text)

    hdr = lambda pt, seq, ts, ssrc, first=0x80: struct.pack("!BBHII", first, pt, seq, ts, ssrc)
    put("rtp", "pcmu", hdr(0, 1, 160, 0x1234) + b"\xff" * 160)
    put("rtp", "event", hdr(0x80 | 101, 2, 320, 0x1234) + b"\x05\x8a\x03\x20")
    put("rtp", "csrc-ext-pad", hdr(8, 3, 480, 1, 0xb2) + struct.pack("!II", 7, 8)
        + struct.pack("!HH", 0xbede, 1) + b"\x10\xaa\x00\x00" + b"\xd5" * 8 + b"\x00\x00\x03")

    ours = struct.pack("!I", 0xABCD)
    block = struct.pack("!IIIIII", 0xABCD, (5 << 24) | 3, 1000, 20, 0x11112222, 40)
    sr = struct.pack("!BBHI", 0x81, 200, 12, 0x55) + struct.pack("!IIIII", 1, 2, 3, 4, 5) + block
    rr = struct.pack("!BBHI", 0x81, 201, 7, 0x55) + block
    sdes = struct.pack("!BBHI", 0x81, 202, 3, 0x55) + b"\x01\x03abc\x00\x00\x00"
    bye = struct.pack("!BBHI", 0x81, 203, 1, 0x55)
    put("rtcp", "sr-sdes", ours + sr + sdes)
    put("rtcp", "rr-bye", ours + rr + bye)

    def events(presses):
        out = b""
        seq = 100
        for ts, ev in presses:
            for dur, end in [(160, 0), (320, 0), (640, 0x80), (640, 0x80), (640, 0x80)]:
                out += struct.pack("!IHBBH", ts, seq, ev, end | 10, dur)
                seq += 1
        return out
    put("rfc4733", "presses", events([(8000, 5), (9600, 11), (11200, 16), (12800, 5)]))

    # Endpoint: records [control][message] separated by four zero bytes.
    # control: bits 0-1 peer, 2-4 clock step, 5-7 policy
    # (0 answer, 1 ring, 2 reject, 3 leave, 4 hang up, 5 accept re-offer, 6 call, 7 notify).
    def ctl(peer=0, step=1, policy=0):
        return bytes([peer | step << 2 | policy << 5])

    def seq(*records):
        return b"\0\0\0\0".join(c + (m.encode() if isinstance(m, str) else m) for c, m in records)

    ack = in_dialog("ACK", 1, "ack")
    put("endpoint", "call-bye", seq((ctl(), invite()), (ctl(), ack), (ctl(step=3), in_dialog("BYE", 2, "bye"))))
    put("endpoint", "call-info-reinvite-refer", seq(
        (ctl(), invite()), (ctl(), ack),
        (ctl(), in_dialog("INFO", 2, "info", body="Signal=5\r\nDuration=160\r\n", ctype="application/dtmf-relay")),
        (ctl(policy=5), in_dialog("INVITE", 3, "reinv", [("Contact", "<sip:alice@192.0.2.10>")], SDP, "application/sdp")),
        (ctl(policy=5), in_dialog("ACK", 3, "reack")),
        (ctl(policy=7), in_dialog("REFER", 4, "refer", [("Refer-To", "<sip:2002@ura>"), ("Contact", "<sip:alice@192.0.2.10>")])),
        (ctl(step=4, policy=3), response(200, "OK", "NOTIFY", 1, to_tag="a1")),
    ))
    put("endpoint", "cancel", seq((ctl(policy=1), invite()), (ctl(policy=3), sip("CANCEL sip:9000@192.0.2.1 SIP/2.0", [
        ("Via", VIA.format(b="inv")), ("Max-Forwards", "70"), ("From", FROM), ("To", "<sip:9000@192.0.2.1>"),
        ("Call-ID", "c1"), ("CSeq", "1 CANCEL")])), (ctl(), in_dialog("ACK", 1, "inv"))))
    put("endpoint", "no-ack-tcp", seq((ctl(peer=2), invite()), (ctl(peer=2, step=7, policy=3), b"")))
    put("endpoint", "outgoing-answered", seq(
        (ctl(policy=6), b""), (ctl(policy=3), response(100, "Trying", "INVITE", 1)),
        (ctl(policy=3), response(180, "Ringing", "INVITE", 1)),
        (ctl(policy=3), response(200, "OK", "INVITE", 1, body=SDP, ctype="application/sdp")),
        (ctl(step=4, policy=4), b"")))
    put("endpoint", "outgoing-refused", seq((ctl(peer=1, policy=6), b""), (ctl(peer=1, policy=3), response(486, "Busy Here", "INVITE", 1))))
    put("endpoint", "register-options", seq((ctl(), messages["register"]), (ctl(peer=1), messages["options-compact"])))
    put("endpoint", "torture", seq(*[(ctl(peer=i % 4), messages[n]) for i, n in enumerate(
        ["dblreq", "mpart01", "esc01", "lwsdisp", "inv2543", "unksm2", "badaspec", "zeromf"])]))

    demo = (ROOT / "src/demo.toml").read_text()
    put("config", "demo", demo)
    put("config", "settings", 'sip = "127.0.0.1:5070"\nadvertise = "192.0.2.5,2001:db8::5"\nrtp_ports = "30000-30099"\n'
        'sip_t1_ms = 250\nsource_rate = 10.0\nrecording_pin = "1234"\nsip_digest = "sha256"\n'
        'trusted_sources = ["127.0.0.1"]\nmax_calls = 10\n' + demo)


if __name__ == "__main__":
    main()
