// A real OpenID provider for internal/oauthrs's integration test.
//
// It listens on a free port of 127.0.0.1, prints {"issuer": URL} on one line
// of stdout, and serves until killed. One client, mcp-test / mcp-test-secret,
// may use the client_credentials grant with a resource indicator (RFC 8707);
// the access token is then a JWT (RFC 9068) whose aud is that resource,
// signed with the algorithm that the resource URL's last path segment names
// (…/RS256, …/ES256, …/EdDSA). Keys are generated at each start.
import crypto from 'node:crypto';
import http from 'node:http';
import Provider from 'oidc-provider';

const server = http.createServer();
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const issuer = `http://127.0.0.1:${server.address().port}`;

const key = (type, opts, kid, alg) => ({
  ...crypto.generateKeyPairSync(type, opts).privateKey.export({ format: 'jwk' }),
  kid,
  alg,
  use: 'sig',
});

const algs = ['RS256', 'ES256', 'EdDSA'];
const provider = new Provider(issuer, {
  clients: [{
    client_id: 'mcp-test',
    client_secret: 'mcp-test-secret',
    grant_types: ['client_credentials'],
    redirect_uris: [],
    response_types: [],
    token_endpoint_auth_method: 'client_secret_post',
  }],
  jwks: {
    keys: [
      key('rsa', { modulusLength: 2048 }, 'rsa-1', 'RS256'),
      key('ec', { namedCurve: 'P-256' }, 'ec-1', 'ES256'),
      key('ed25519', {}, 'ed-1', 'EdDSA'),
    ],
  },
  scopes: ['tools:read', 'tools:call'],
  enabledJWA: { idTokenSigningAlgValues: algs },
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => undefined,
      useGrantedResource: () => true,
      getResourceServerInfo: (ctx, resource) => {
        const alg = resource.split('/').pop();
        if (!algs.includes(alg)) {
          throw new Error(`resource ${resource} does not end in one of ${algs}`);
        }
        return {
          scope: 'tools:read tools:call',
          audience: resource,
          accessTokenTTL: 300,
          accessTokenFormat: 'jwt',
          jwt: { sign: { alg } },
        };
      },
    },
  },
});
server.on('request', provider.callback());
process.stdout.write(JSON.stringify({ issuer }) + '\n');
