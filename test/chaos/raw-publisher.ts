// Publishes header blocks and payloads byte for byte over the NATS protocol, so tests can store
// what no well-behaved client would send (a header block nats.js itself refuses to parse).
import { once } from "node:events";
import { Socket } from "node:net";

export class RawPublisher {
  #buffer = "";
  #pongs: (() => void)[] = [];
  readonly errors: string[] = [];

  private constructor(private readonly socket: Socket) {
    socket.on("data", (chunk: Buffer) => {
      this.#buffer += chunk.toString("latin1");
      let end = this.#buffer.indexOf("\r\n");
      while (end >= 0) {
        const line = this.#buffer.slice(0, end);
        this.#buffer = this.#buffer.slice(end + 2);
        if (line === "PONG") this.#pongs.shift()?.();
        else if (line === "PING") socket.write("PONG\r\n");
        else if (line.startsWith("-ERR")) this.errors.push(line);
        end = this.#buffer.indexOf("\r\n");
      }
    });
  }

  static async connect(port: number): Promise<RawPublisher> {
    const socket = new Socket();
    socket.connect(port, "127.0.0.1");
    await once(socket, "connect");
    const publisher = new RawPublisher(socket);
    socket.write('CONNECT {"verbose":false,"pedantic":false,"headers":true,"protocol":1}\r\n');
    await publisher.flush();
    return publisher;
  }

  /** HPUB with the header block exactly as given (it must end in CRLF CRLF to be a block at all). */
  publish(subject: string, headerBlock: Uint8Array, payload: Uint8Array): void {
    const total = headerBlock.length + payload.length;
    this.socket.write(
      Buffer.concat([
        Buffer.from(`HPUB ${subject} ${headerBlock.length} ${total}\r\n`),
        headerBlock,
        payload,
        Buffer.from("\r\n"),
      ]),
    );
  }

  /** Resolves once the server has processed everything sent before. */
  async flush(): Promise<void> {
    const pong = new Promise<void>((resolve) => this.#pongs.push(resolve));
    this.socket.write("PING\r\n");
    await pong;
  }

  close(): void {
    this.socket.destroy();
  }
}
