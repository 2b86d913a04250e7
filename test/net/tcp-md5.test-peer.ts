// Test helper, run by tcp-md5.test.ts inside a network namespace (`ip netns exec NS node --import tsx
// ...`). `server`: listens with a TCP-MD5 key for one peer and echoes what it receives, reporting each
// connection. `client`: makes connection attempts concurrently (each sends a line and waits for the
// echo) and reports each one. JSON lines on stdout.
import net from 'node:net';
import { parseArgs } from 'node:util';
import { connectWithMd5, listenWithMd5, type Md5ConnectOptions } from '../../src/net/tcp-md5.ts';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    host: { type: 'string' },
    port: { type: 'string' },
    peer: { type: 'string' },
    key: { type: 'string' },
    attempts: { type: 'string' },
  },
});
const report = (event: string, data: Record<string, unknown> = {}): void => {
  process.stdout.write(`${JSON.stringify({ event, ...data })}\n`);
};

if (positionals[0] === 'server') {
  const server = net.createServer((socket) => {
    report('accepted', { remote: socket.remoteAddress });
    socket.pipe(socket);
    socket.on('error', () => socket.destroy());
  });
  const address = await listenWithMd5(server, {
    host: values.host!,
    port: Number(values.port ?? 0),
    keys: values.key ? [{ peer: values.peer!, key: values.key }] : [],
  });
  report('listening', { port: address.port });
} else if (positionals[0] === 'client') {
  // Attempts as JSON ([{ name, peer, port, key?, local?, ttl?, timeoutMs? }]), run concurrently.
  const attempts = JSON.parse(values.attempts!) as (Md5ConnectOptions & { name: string })[];
  await Promise.all(attempts.map(attempt));
}

async function attempt({ name, ...options }: Md5ConnectOptions & { name: string }): Promise<void> {
  const started = Date.now();
  try {
    const socket = await connectWithMd5({ timeoutMs: 2000, ...options });
    const connected = { local: socket.localAddress, remote: socket.remoteAddress, ms: Date.now() - started };
    socket.setEncoding('utf8');
    socket.write(`hello ${name}\n`);
    const echo = await new Promise<string>((resolve, reject) => {
      let data = '';
      socket.on('data', (chunk: string) => {
        data += chunk;
        if (data.includes('\n')) resolve(data);
      });
      socket.on('error', reject);
      socket.on('end', () => resolve(data));
    });
    socket.end();
    report('result', { name, connected, echo });
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    report('result', { name, error: { code: e.code, message: e.message, ms: Date.now() - started } });
  }
}
