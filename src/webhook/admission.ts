// admission.k8s.io/v1 AdmissionReview: decoding a request (untrusted JSON) and encoding the response.
import { isObject, own } from '../config/reader.ts';
import type { ConfigChange, Operation, Verdict } from './validate.ts';

export interface AdmissionRequest {
  readonly uid: string;
  readonly change: ConfigChange;
  readonly dryRun: boolean;
}

const operations: readonly Operation[] = ['CREATE', 'UPDATE', 'DELETE', 'CONNECT'];

/** The request inside an AdmissionReview, or a message saying what is wrong with it. */
export function decodeAdmissionReview(body: unknown): AdmissionRequest | string {
  if (!isObject(body)) return 'the body is not a JSON object';
  if (own(body, 'kind') !== 'AdmissionReview') return `kind must be AdmissionReview, got ${JSON.stringify(own(body, 'kind'))}`;
  const apiVersion = own(body, 'apiVersion');
  if (apiVersion !== 'admission.k8s.io/v1') return `apiVersion must be admission.k8s.io/v1, got ${JSON.stringify(apiVersion)}`;
  const req = own(body, 'request');
  if (!isObject(req)) return 'request is missing';
  const uid = own(req, 'uid');
  if (typeof uid !== 'string' || uid === '') return 'request.uid is missing';
  const operation = own(req, 'operation');
  if (typeof operation !== 'string' || !(operations as readonly string[]).includes(operation)) return `request.operation ${JSON.stringify(operation)} is unknown`;
  const kind = own(req, 'kind');
  const kindName = isObject(kind) ? own(kind, 'kind') : undefined;
  if (typeof kindName !== 'string') return 'request.kind.kind is missing';
  const namespace = own(req, 'namespace');
  const name = own(req, 'name');
  const object = own(req, 'object');
  const objectName = isObject(object) && isObject(own(object, 'metadata')) ? own(own(object, 'metadata') as object as Record<string, unknown>, 'name') : undefined;
  return {
    uid,
    dryRun: own(req, 'dryRun') === true,
    change: {
      operation: operation as Operation,
      kind: kindName,
      namespace: typeof namespace === 'string' ? namespace : '',
      name: typeof name === 'string' && name !== '' ? name : typeof objectName === 'string' ? objectName : '',
      object: object ?? undefined,
    },
  };
}

/** The AdmissionReview answering `uid` with `verdict`. */
export function encodeAdmissionResponse(uid: string, verdict: Pick<Verdict, 'allowed' | 'message' | 'warnings'>): object {
  return {
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    response: {
      uid,
      allowed: verdict.allowed,
      ...(verdict.allowed ? {} : { status: { status: 'Failure', message: verdict.message ?? 'rejected', reason: 'Invalid', code: 422 } }),
      ...(verdict.warnings.length > 0 ? { warnings: verdict.warnings } : {}),
    },
  };
}
