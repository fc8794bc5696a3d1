// An inbox for the tests: a minimal SMTP receiver on 127.0.0.1 that the server under test is
// pointed at (`notify.smtp`), keeping each message with its recipients and its text decoded
// (lettre sends quoted-printable or base64 when lines are long), so a test reads the link or
// the code in it as a person would.

import { createServer, type Server as NetServer, type Socket } from "node:net";

export interface Mail {
  /** The envelope's sender and recipients, as MAIL FROM and RCPT TO gave them. */
  from: string;
  to: string[];
  subject: string;
  /** The body, its transfer encoding undone. */
  text: string;
}

export class Mailbox {
  readonly received: Mail[] = [];
  private readonly taken = new Set<Mail>();
  private waiters: (() => void)[] = [];
  private readonly sockets = new Set<Socket>();

  private constructor(
    private readonly server: NetServer,
    readonly port: number,
  ) {}

  /** Listens on a free port of 127.0.0.1. */
  static async start(): Promise<Mailbox> {
    let box: Mailbox | undefined;
    const server = createServer((socket) => box!.converse(socket));
    const port = await new Promise<number>((ok, fail) => {
      server.once("error", fail);
      server.listen(0, "127.0.0.1", () => {
        const address = server.address();
        ok(typeof address === "object" && address ? address.port : 0);
      });
    });
    box = new Mailbox(server, port);
    return box;
  }

  /** The server's settings for sending here. */
  env(): Record<string, string> {
    return {
      PORCHLIGHT_NOTIFY__SMTP__URL: `smtp://127.0.0.1:${this.port}`,
      PORCHLIGHT_NOTIFY__SMTP__FROM: "porchlight@example.com",
    };
  }

  /** The next message to `address` not handed out before, waiting for it to arrive; with
   * `subject`, the next one so titled (the account's security notices arrive in between). */
  async next(address: string, subject?: string, withinMs = 30_000): Promise<Mail> {
    const deadline = Date.now() + withinMs;
    for (;;) {
      const mail = this.unread(address).find((m) => subject === undefined || m.subject === subject);
      if (mail) {
        this.taken.add(mail);
        return mail;
      }
      const left = deadline - Date.now();
      if (left <= 0) {
        const seen = this.received.map((m) => `${m.to.join(", ")}: ${m.subject}`).join("\n");
        throw new Error(`no mail to ${address}${subject ? ` titled "${subject}"` : ""} within ${withinMs} ms; received:\n${seen}`);
      }
      await new Promise<void>((wake) => {
        const timer = setTimeout(wake, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          wake();
        });
      });
    }
  }

  /** The messages to `address` that no `next` handed out. */
  unread(address: string): Mail[] {
    return this.received.filter((m) => !this.taken.has(m) && m.to.some((to) => to.toLowerCase() === address.toLowerCase()));
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise((r) => this.server.close(r));
  }

  private deliver(mail: Mail): void {
    this.received.push(mail);
    const waiting = this.waiters;
    this.waiters = [];
    for (const wake of waiting) wake();
  }

  /** One SMTP session: commands a line at a time, DATA until the lone dot. */
  private converse(socket: Socket): void {
    this.sockets.add(socket);
    socket.on("close", () => this.sockets.delete(socket));
    socket.on("error", () => {});
    socket.setEncoding("latin1");
    const reply = (line: string) => socket.write(`${line}\r\n`);
    let from = "";
    let to: string[] = [];
    let data: string | null = null;
    let pending = "";
    reply("220 mailbox.test ESMTP ready");
    socket.on("data", (chunk: string) => {
      pending += chunk;
      for (;;) {
        if (data !== null) {
          // The message ends at a line holding only a dot; the terminator's CRLF may be the
          // one ending the last line of the message.
          const end = `\r\n${pending}`.indexOf("\r\n.\r\n");
          if (end < 0) return;
          data += pending.slice(0, Math.max(0, end));
          pending = pending.slice(end + 3);
          this.deliver(parse(from, to, data));
          data = null;
          from = "";
          to = [];
          reply("250 2.0.0 kept");
          continue;
        }
        const eol = pending.indexOf("\r\n");
        if (eol < 0) return;
        const line = pending.slice(0, eol);
        pending = pending.slice(eol + 2);
        const verb = line.slice(0, 4).toUpperCase();
        if (verb === "EHLO") {
          reply("250-mailbox.test");
          reply("250 HELP");
        } else if (verb === "HELO") reply("250 mailbox.test");
        else if (verb === "MAIL") {
          from = angle(line);
          to = [];
          reply("250 2.1.0 sender ok");
        } else if (verb === "RCPT") {
          to.push(angle(line));
          reply("250 2.1.5 recipient ok");
        } else if (verb === "DATA") {
          if (to.length === 0) reply("503 5.5.1 no recipients");
          else {
            data = "";
            reply("354 end with <CRLF>.<CRLF>");
          }
        } else if (verb === "RSET") {
          from = "";
          to = [];
          reply("250 2.0.0 reset");
        } else if (verb === "NOOP") reply("250 2.0.0 ok");
        else if (verb === "QUIT") {
          reply("221 2.0.0 bye");
          socket.end();
          return;
        } else reply("502 5.5.2 not implemented");
      }
    });
  }
}

/** The address between angle brackets of `MAIL FROM:<a>` or `RCPT TO:<a>`. */
function angle(line: string): string {
  return /<([^>]*)>/.exec(line)?.[1] ?? line.slice(line.indexOf(":") + 1).trim();
}

/** A message's subject and its body's text (one part, as the server sends it). */
export function parse(from: string, to: string[], data: string): Mail {
  // Dot-stuffing undone: a line that began with a dot was sent with another in front.
  const message = data.replace(/(^|\r\n)\.\./g, "$1.");
  const split = message.indexOf("\r\n\r\n");
  const head = split < 0 ? message : message.slice(0, split);
  const body = split < 0 ? "" : message.slice(split + 4);
  const headers = new Map<string, string>();
  for (const field of head.replace(/\r\n[ \t]+/g, " ").split("\r\n")) {
    const colon = field.indexOf(":");
    if (colon > 0) headers.set(field.slice(0, colon).trim().toLowerCase(), field.slice(colon + 1).trim());
  }
  const encoding = (headers.get("content-transfer-encoding") ?? "7bit").toLowerCase();
  const bytes =
    encoding === "base64"
      ? Buffer.from(body.replace(/\s+/g, ""), "base64")
      : encoding === "quoted-printable"
        ? quotedPrintable(body)
        : Buffer.from(body, "latin1");
  return { from, to, subject: encodedWords(headers.get("subject") ?? ""), text: bytes.toString("utf8").replace(/\r\n/g, "\n") };
}

/** RFC 2045 quoted-printable: soft line breaks joined, `=XX` as the byte it names. */
function quotedPrintable(body: string): Buffer {
  const joined = body.replace(/=\r\n/g, "");
  const out: number[] = [];
  for (let i = 0; i < joined.length; i++) {
    const c = joined[i]!;
    const hex = joined.slice(i + 1, i + 3);
    if (c === "=" && /^[0-9A-Fa-f]{2}$/.test(hex)) {
      out.push(parseInt(hex, 16));
      i += 2;
    } else out.push(joined.charCodeAt(i) & 0xff);
  }
  return Buffer.from(out);
}

/** RFC 2047 encoded words in a header (`=?utf-8?b?…?=`, `=?utf-8?q?…?=`), decoded. */
function encodedWords(value: string): string {
  return value
    .replace(/\?=\s+=\?/g, "?==?")
    .replace(/=\?([^?]+)\?([bBqQ])\?([^?]*)\?=/g, (_, _charset: string, kind: string, text: string) =>
      kind.toLowerCase() === "b"
        ? Buffer.from(text, "base64").toString("utf8")
        : quotedPrintable(text.replace(/_/g, " ")).toString("utf8"),
    );
}

/** The first link in a message. */
export function linkIn(mail: Mail): string {
  const link = /https?:\/\/\S+/.exec(mail.text)?.[0];
  if (!link) throw new Error(`no link in "${mail.subject}":\n${mail.text}`);
  return link;
}

/** The code a message prints on its own line (`Code: …`). */
export function codeIn(mail: Mail): string {
  const code = /^Code: (\S+)$/m.exec(mail.text)?.[1];
  if (!code) throw new Error(`no code in "${mail.subject}":\n${mail.text}`);
  return code;
}

/** The sign-up code (`ABCD-EFGH`) of a sign-up message. */
export function signupCodeIn(mail: Mail): string {
  const code = /\b([0-9a-z]{4}-[0-9a-z]{4})\b/i.exec(`${mail.subject}\n${mail.text}`)?.[1];
  if (!code) throw new Error(`no sign-up code in "${mail.subject}":\n${mail.text}`);
  return code;
}
