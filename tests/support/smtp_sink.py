#!/usr/bin/python3
#  smtp_sink.py - a real SMTP server for the email notification tests
#  SPDX-License-Identifier: MPL-2.0
#
#  Usage: smtp_sink.py PORT DIR
#  Listens on 127.0.0.1:PORT (aiosmtpd, Debian's python3-aiosmtpd) and
#  writes each message it accepts to DIR/N.eml (N from 1, written to a
#  temporary name and renamed, so a file seen is whole), with its
#  envelope as the first lines ("X-Envelope-From:", "X-Envelope-To:").
#  Writes DIR/ready once it listens. Stops on SIGTERM.
import os
import signal
import sys
import threading

from aiosmtpd.controller import Controller


class Sink:
    def __init__(self, directory):
        self.directory = directory
        self.count = 0
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            self.count += 1
            number = self.count
        path = os.path.join(self.directory, "%d.eml" % number)
        with open(path + ".tmp", "wb") as out:
            out.write(b"X-Envelope-From: " + envelope.mail_from.encode() + b"\r\n")
            for rcpt in envelope.rcpt_tos:
                out.write(b"X-Envelope-To: " + rcpt.encode() + b"\r\n")
            out.write(envelope.original_content)
        os.rename(path + ".tmp", path)
        return "250 OK"


def main():
    port = int(sys.argv[1])
    directory = sys.argv[2]
    controller = Controller(Sink(directory), hostname="127.0.0.1", port=port)
    controller.start()
    with open(os.path.join(directory, "ready"), "w") as out:
        out.write("%d\n" % port)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    controller.stop()


if __name__ == "__main__":
    main()
