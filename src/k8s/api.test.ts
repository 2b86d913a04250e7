import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ApiError, resourcePath, retryTransient, statusCodeOf } from './api.ts';

test('resourcePath: core and group kinds, namespaced, cluster-scoped, subresources, escaping', () => {
  assert.equal(resourcePath({ apiVersion: 'v1', plural: 'services', namespace: 'a', name: 'b', subresource: 'status' }), '/api/v1/namespaces/a/services/b/status');
  assert.equal(resourcePath({ apiVersion: 'v1', plural: 'nodes' }), '/api/v1/nodes');
  assert.equal(resourcePath({ apiVersion: 'metallb.io/v1beta1', plural: 'ipaddresspools', namespace: 'm' }), '/apis/metallb.io/v1beta1/namespaces/m/ipaddresspools');
  // A subresource without a name has no meaning: the collection is meant.
  assert.equal(resourcePath({ apiVersion: 'v1', plural: 'services', namespace: 'a', subresource: 'status' }), '/api/v1/namespaces/a/services');
  assert.equal(resourcePath({ apiVersion: 'v1', plural: 'secrets', namespace: 'a', name: 'x/y' }), '/api/v1/namespaces/a/secrets/x%2Fy');
});

test('retryTransient: retries no-connection, 429 and 5xx; gives up at once on other statuses', async () => {
  const refused = Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
  const answers: unknown[] = [refused, new ApiError(503, 'unavailable'), new ApiError(429, 'slow down'), 'ok'];
  const seen: unknown[] = [];
  const result = await retryTransient(
    async () => {
      const a = answers.shift();
      if (a !== 'ok') throw a;
      return a;
    },
    { onRetry: (e) => seen.push(statusCodeOf(e) ?? (e as Error).message) },
  );
  assert.equal(result, 'ok');
  assert.deepEqual(seen, ['connect ECONNREFUSED', 503, 429]);

  let calls = 0;
  await assert.rejects(
    retryTransient(async () => {
      calls++;
      throw new ApiError(404, 'nodes "x" not found');
    }),
    /not found/,
  );
  assert.equal(calls, 1);
  // The deadline ends retrying with the last error.
  await assert.rejects(retryTransient(async () => Promise.reject(refused), { deadlineMs: 300 }), /ECONNREFUSED/);
});
