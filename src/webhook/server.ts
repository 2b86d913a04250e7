// The HTTPS endpoint the API server calls: POST /validate… with an AdmissionReview, answered with one.
// The certificate can be swapped while serving (rotation) without dropping the listener.
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from '../log/logger.ts';
import { type AdmissionRequest, decodeAdmissionReview, encodeAdmissionResponse } from './admission.ts';
import type { Verdict } from './validate.ts';

export type AdmissionHandler = (request: AdmissionRequest) => Promise<Verdict>;

export interface WebhookServerOptions {
  readonly port: number;
  readonly host: string;
  readonly cert: string;
  readonly key: string;
  readonly handle: AdmissionHandler;
  readonly log: Logger;
}

/** AdmissionReviews are small; anything bigger than this is not one. */
const maxBodyBytes = 4 * 1024 * 1024;

export class WebhookServer {
  private constructor(
    private readonly server: Server,
    private current: { cert: string; key: string },
  ) {}

  static start(opts: WebhookServerOptions): Promise<WebhookServer> {
    const server = createServer({ cert: opts.cert, key: opts.key, minVersion: 'TLSv1.2' }, (req, res) => {
      void handleRequest(req, res, opts);
    });
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(opts.port, opts.host, () => {
        server.off('error', reject);
        server.on('error', (err) => opts.log.error({ err }, 'webhook server error'));
        resolve(new WebhookServer(server, { cert: opts.cert, key: opts.key }));
      });
    });
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  /** Serves new connections with this certificate from now on. */
  setCertificate(cert: string, key: string): void {
    if (cert === this.current.cert && key === this.current.key) return;
    this.server.setSecureContext({ cert, key });
    this.current = { cert, key };
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }
}

function reply(res: ServerResponse, status: number, body: unknown): void {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': typeof body === 'string' ? 'text/plain' : 'application/json' });
  res.end(text);
}

async function readBody(req: IncomingMessage): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > maxBodyBytes) return undefined;
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

async function handleRequest(req: IncomingMessage, res: ServerResponse, opts: WebhookServerOptions): Promise<void> {
  const path = (req.url ?? '/').split('?')[0]!;
  try {
    if (req.method === 'GET' && (path === '/healthz' || path === '/readyz')) return reply(res, 200, 'ok\n');
    if (!path.startsWith('/validate')) return reply(res, 404, 'not found\n');
    if (req.method !== 'POST') return reply(res, 405, 'POST an AdmissionReview\n');
    const body = await readBody(req);
    if (!body) return reply(res, 413, `an AdmissionReview is at most ${maxBodyBytes} bytes\n`);
    let json: unknown;
    try {
      json = JSON.parse(body.toString('utf8'));
    } catch {
      return reply(res, 400, 'the body is not JSON\n');
    }
    const request = decodeAdmissionReview(json);
    if (typeof request === 'string') return reply(res, 400, `not an AdmissionReview: ${request}\n`);
    let verdict: Pick<Verdict, 'allowed' | 'message' | 'warnings'>;
    try {
      verdict = await opts.handle(request);
    } catch (err) {
      // Fail closed, like the configuration's failurePolicy: an unchecked change might break the config.
      opts.log.error({ err, uid: request.uid }, 'admission check failed');
      verdict = { allowed: false, message: `IronLB could not check this change: ${(err as Error).message ?? String(err)}`, warnings: [] };
    }
    const c = request.change;
    opts.log[verdict.allowed ? 'debug' : 'info'](
      { operation: c.operation, kind: c.kind, object: `${c.namespace}/${c.name}`, allowed: verdict.allowed, message: verdict.message, dryRun: request.dryRun },
      'admission review',
    );
    reply(res, 200, encodeAdmissionResponse(request.uid, verdict));
  } catch (err) {
    opts.log.error({ err }, 'webhook request failed');
    if (!res.headersSent) reply(res, 500, 'internal error\n');
  }
}
