"""An SMTP server for the tests, on 127.0.0.1 (aiosmtpd): it prints the
port it listens on, then writes each message it takes to DIR as
N.json (the envelope, and the headers and body decoded). With --refuse it answers
every message with 554. It stops by itself after --within seconds.

    python sink.py DIR [--refuse] [--within 120]
"""
import argparse
import asyncio
import email
import email.policy
import json
import os

from aiosmtpd.smtp import SMTP


class Sink:
    def __init__(self, out, refuse):
        self.out = out
        self.refuse = refuse
        self.count = 0

    async def handle_DATA(self, server, session, envelope):
        if self.refuse:
            return "554 5.7.1 refused by the test server"
        self.count += 1
        path = os.path.join(self.out, f"{self.count}.json")
        msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with open(path + ".part", "w", encoding="utf-8") as f:
            json.dump(
                {
                    "mail_from": envelope.mail_from,
                    "rcpt_tos": envelope.rcpt_tos,
                    "from": str(msg["From"]),
                    "to": str(msg["To"]),
                    "subject": str(msg["Subject"]),
                    "content_type": msg.get_content_type(),
                    "body": msg.get_content(),
                },
                f,
            )
        os.rename(path + ".part", path)
        return "250 2.0.0 OK"


async def main():
    p = argparse.ArgumentParser()
    p.add_argument("dir")
    p.add_argument("--refuse", action="store_true")
    p.add_argument("--within", type=float, default=120)
    a = p.parse_args()
    handler = Sink(a.dir, a.refuse)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: SMTP(handler, hostname="sink.test"), "127.0.0.1", 0
    )
    print(server.sockets[0].getsockname()[1], flush=True)
    await asyncio.sleep(a.within)
    server.close()


asyncio.run(main())
