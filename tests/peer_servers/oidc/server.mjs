// Independent OAuth 2.0 authorization server for twiin's auth interop tests.
//
// panva/oidc-provider on Node's https server, bound to 127.0.0.1 only. Usage:
//   node server.mjs <port> <pki-dir>
// <pki-dir> holds ca.pem (test CA bundle), server.pem/server.key (this server),
// client.pem (RSA client leaf, private_key_jwt + tls_client_auth) and client_es.pem (P-521 leaf).
// Nothing here uses twiin, joserfc or authlib: keys come from node:crypto, checks from jose.
import { createHash, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import https from 'node:https';
import { join } from 'node:path';

import * as jose from 'jose';
import Provider, { errors } from 'oidc-provider';

const [port, pkiDir] = process.argv.slice(2);
if (!port || !pkiDir) {
  console.error('usage: node server.mjs <port> <pki-dir>');
  process.exit(2);
}

const read = (name) => readFileSync(join(pkiDir, name), 'utf8');
const issuer = `https://127.0.0.1:${port}`;
const JWT_BEARER = 'urn:ietf:params:oauth:grant-type:jwt-bearer';
const SCOPES = 'system/Task.read system/Task.write';
const RESOURCE = 'https://fhir.test/fhir';

// Public JWK of the first certificate in a PEM file, with `use` only (no key_ops) and, as
// UZI/MinVWS clients expect, kid = x5t#S256 (base64url SHA-256 of the certificate DER).
function leafJwk(pemFile) {
  const leaf = new X509Certificate(read(pemFile));
  const jwk = leaf.publicKey.export({ format: 'jwk' });
  const kid = createHash('sha256').update(leaf.raw).digest('base64url');
  return { ...jwk, kid, use: 'sig' };
}

const clientJwks = { keys: [leafJwk('client.pem')] };
const clientEsJwks = { keys: [leafJwk('client_es.pem')] };

// Signing keys of this authorization server, made fresh at every start.
async function serverJwks() {
  const keys = [];
  for (const alg of ['RS256', 'ES256']) {
    const { privateKey } = await jose.generateKeyPair(alg, { extractable: true });
    keys.push({ ...(await jose.exportJWK(privateKey)), alg, use: 'sig', kid: `as-${alg}` });
  }
  return { keys };
}

const configuration = {
  jwks: await serverJwks(),
  cookies: { keys: ['twiin-interop-only-cookie-key'] },
  clientAuthMethods: ['client_secret_basic', 'private_key_jwt', 'tls_client_auth'],
  enabledJWA: {
    clientAuthSigningAlgValues: ['RS256', 'PS256', 'ES256', 'ES384', 'ES512'],
  },
  scopes: SCOPES.split(' '),
  ttl: { ClientCredentials: 600 },
  clients: [
    {
      client_id: 'twiin-pkjwt',
      token_endpoint_auth_method: 'private_key_jwt',
      jwks: clientJwks,
      grant_types: ['client_credentials'],
      response_types: [],
      redirect_uris: [],
      scope: SCOPES,
    },
    {
      client_id: 'twiin-pkjwt-es512',
      token_endpoint_auth_method: 'private_key_jwt',
      token_endpoint_auth_signing_alg: 'ES512',
      jwks: clientEsJwks,
      grant_types: ['client_credentials'],
      response_types: [],
      redirect_uris: [],
      scope: SCOPES,
    },
    {
      client_id: 'twiin-mtls',
      token_endpoint_auth_method: 'tls_client_auth',
      tls_client_auth_san_dns: 'client.test',
      tls_client_certificate_bound_access_tokens: true,
      grant_types: ['client_credentials'],
      response_types: [],
      redirect_uris: [],
      scope: SCOPES,
    },
    {
      client_id: 'twiin-jwtbearer',
      token_endpoint_auth_method: 'private_key_jwt',
      jwks: clientJwks,
      grant_types: [JWT_BEARER],
      response_types: [],
      redirect_uris: [],
      scope: SCOPES,
    },
    {
      client_id: 'rs',
      client_secret: 'rs-secret',
      token_endpoint_auth_method: 'client_secret_basic',
      grant_types: [],
      response_types: [],
      redirect_uris: [],
    },
  ],
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    // any authenticated client may introspect; only the owner may revoke
    introspection: { enabled: true, allowedPolicy: async () => true },
    revocation: { enabled: true, allowedPolicy: async (ctx, client, token) => token.clientId === client.clientId },
    resourceIndicators: {
      enabled: true,
      defaultResource: async (ctx, client) => (client.grantTypes.includes('client_credentials') ? RESOURCE : undefined),
      useGrantedResource: async () => true,
      getResourceServerInfo: async (ctx, indicator) => {
        if (indicator !== RESOURCE) throw new errors.InvalidTarget();
        return { scope: SCOPES, audience: RESOURCE, accessTokenFormat: 'jwt', accessTokenTTL: 300, jwt: { sign: { alg: 'ES256' } } };
      },
    },
    mTLS: {
      enabled: true,
      tlsClientAuth: true,
      certificateBoundAccessTokens: true,
      getCertificate: (ctx) => ctx.socket.getPeerX509Certificate?.() ?? undefined,
      certificateAuthorized: (ctx) => ctx.socket.authorized === true,
      certificateSubjectMatches: (ctx, property, expected) => {
        if (property !== 'tls_client_auth_san_dns') return false;
        const cert = ctx.socket.getPeerX509Certificate?.();
        const names = (cert?.subjectAltName ?? '').split(', ');
        return names.includes(`DNS:${expected}`);
      },
    },
  },
};

const provider = new Provider(issuer, configuration);

// RFC 7523 §2.1 JWT-bearer grant: team-written assertion check (oidc-provider has no built-in one).
// The client itself authenticates through oidc-provider (private_key_jwt) before this runs.
const seenGrantJtis = new Map();
const clientKeys = jose.createLocalJWKSet(clientJwks);

async function jwtBearerGrant(ctx) {
  const { client, params } = ctx.oidc;
  if (!params.assertion) throw new errors.InvalidRequest('assertion is missing');
  let payload;
  try {
    ({ payload } = await jose.jwtVerify(params.assertion, clientKeys, {
      issuer: client.clientId,
      audience: [issuer, `${issuer}/token`],
      clockTolerance: 15,
      maxTokenAge: '300s',
      requiredClaims: ['exp', 'iat', 'sub', 'jti'],
      algorithms: ['RS256', 'PS256', 'ES256', 'ES384', 'ES512'],
    }));
  } catch (err) {
    throw new errors.InvalidGrant(`assertion rejected (${err.code ?? 'invalid'})`);
  }
  const now = Math.floor(Date.now() / 1000);
  for (const [jti, exp] of seenGrantJtis) if (exp < now) seenGrantJtis.delete(jti);
  if (seenGrantJtis.has(payload.jti)) throw new errors.InvalidGrant('assertion jti was already used');
  seenGrantJtis.set(payload.jti, payload.exp + 15);
  if (typeof payload.authorization_base !== 'string' || payload.authorization_base.length < 16) {
    throw new errors.InvalidGrant('assertion carries no authorization_base');
  }
  const allowed = new Set(client.scope.split(' '));
  const scope = (params.scope ?? '').split(' ').filter((s) => allowed.has(s)).join(' ') || undefined;
  const token = new provider.ClientCredentials({ client, scope });
  const value = await token.save();
  ctx.body = { access_token: value, token_type: 'Bearer', expires_in: token.expiration, scope };
}

// Log why requests fail (the answers themselves stay generic).
for (const event of ['grant.error', 'introspection.error', 'revocation.error', 'server_error']) {
  provider.on(event, (ctx, err) => console.log(`${event}: ${err?.message} ${err?.error_detail ?? ''}`));
}

provider.registerGrantType(JWT_BEARER, jwtBearerGrant, ['assertion', 'scope']);

const server = https.createServer(
  {
    key: read('server.key'),
    cert: read('server.pem'),
    ca: read('ca.pem'),
    requestCert: true,
    rejectUnauthorized: false,
    minVersion: 'TLSv1.3',
  },
  provider.callback(),
);

server.listen(Number(port), '127.0.0.1', () => {
  console.log(`oidc-provider listening on ${issuer}`);
});

const stop = () => server.close(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
// Stop by ourselves after an hour at most, whatever happens to the test runner.
setTimeout(() => process.exit(0), 3600 * 1000).unref();
