// Lets processes inside lab network namespaces reach the API server that listens on the root
// namespace's loopback. Unix sockets are not network-namespaced, so: the root side accepts on a unix
// socket and connects to 127.0.0.1:PORT; inside a namespace, a forwarder listens on that namespace's own
// 127.0.0.1:PORT and connects to the unix socket. The kubeconfig (https://127.0.0.1:PORT, certificate
// for 127.0.0.1) then works unchanged in every namespace. Bytes are relayed as they are (TLS end to end).
//
//   node --import tsx src/lab/api-bridge.ts root  --unix PATH --port PORT
//   node --import tsx src/lab/api-bridge.ts netns --unix PATH --port PORT
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { rmSync } from 'node:fs';

function pipe(a: Socket, b: Socket): void {
  a.pipe(b);
  b.pipe(a);
  const close = () => {
    a.destroy();
    b.destroy();
  };
  a.on('error', close);
  b.on('error', close);
  a.on('close', close);
  b.on('close', close);
}

/** Root namespace: unix socket → 127.0.0.1:port. */
export function serveUnixToLoopback(unixPath: string, port: number): Promise<Server> {
  rmSync(unixPath, { force: true });
  const server = createServer((client) => pipe(client, createConnection({ host: '127.0.0.1', port })));
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(unixPath, () => resolve(server));
  });
}

/** Inside a namespace: 127.0.0.1:port → unix socket. */
export function serveLoopbackToUnix(port: number, unixPath: string): Promise<Server> {
  const server = createServer((client) => pipe(client, createConnection({ path: unixPath })));
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve(server));
  });
}

async function main(argv: string[]): Promise<void> {
  const [mode, ...rest] = argv;
  const arg = (name: string) => {
    const i = rest.indexOf(`--${name}`);
    const v = i >= 0 ? rest[i + 1] : undefined;
    if (!v) throw new Error(`api-bridge: --${name} is required`);
    return v;
  };
  const unix = arg('unix');
  const port = Number(arg('port'));
  if (mode === 'root') await serveUnixToLoopback(unix, port);
  else if (mode === 'netns') await serveLoopbackToUnix(port, unix);
  else throw new Error('api-bridge: mode must be "root" or "netns"');
  process.stdout.write('ready\n');
  const stop = () => process.exit(0);
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main(process.argv.slice(2)).catch((err: unknown) => {
    console.error(err instanceof Error ? err.message : String(err));
    process.exit(1);
  });
}
