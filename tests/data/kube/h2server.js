// A minimal HTTP/2 (TLS, ALPN h2) API server that answers what `kfboot apply`
// needs for ConfigMaps, and counts connections and concurrent streams.
const http2 = require('http2'), fs = require('fs');
const [certDir, portFile, statsFile] = process.argv.slice(2);
const objs = new Map();
let sessions = 0, streams = 0, inflight = 0, maxInflight = 0, rv = 1;
const srv = http2.createSecureServer({
  key: fs.readFileSync(certDir + '/server.key'), cert: fs.readFileSync(certDir + '/server.crt'),
  ca: fs.readFileSync(certDir + '/ca.crt'), requestCert: true, rejectUnauthorized: true,
});
srv.on('session', () => sessions++);
function dump() { fs.writeFileSync(statsFile, JSON.stringify({ sessions, streams, maxInflight })); }
srv.on('stream', (st, h) => {
  streams++; inflight++; maxInflight = Math.max(maxInflight, inflight);
  const path = h[':path'], method = h[':method'];
  let body = '';
  st.on('data', (c) => body += c);
  st.on('end', () => setTimeout(() => {
    let code = 200, out;
    const u = new URL(path, 'https://x');
    if (u.pathname === '/api') {
      out = { kind: 'APIGroupDiscoveryList', apiVersion: 'apidiscovery.k8s.io/v2', items: [{ metadata: {}, versions: [{ version: 'v1', resources: [
        { resource: 'configmaps', responseKind: { group: '', version: 'v1', kind: 'ConfigMap' }, scope: 'Namespaced' },
        { resource: 'secrets', responseKind: { group: '', version: 'v1', kind: 'Secret' }, scope: 'Namespaced' },
        { resource: 'namespaces', responseKind: { group: '', version: 'v1', kind: 'Namespace' }, scope: 'Cluster' }] }] }] };
    } else if (u.pathname === '/apis') {
      out = { kind: 'APIGroupDiscoveryList', apiVersion: 'apidiscovery.k8s.io/v2', items: [] };
    } else if (method === 'PATCH') {
      const o = JSON.parse(body); o.metadata.resourceVersion = String(++rv); objs.set(u.pathname, o); out = o;
    } else if (method === 'GET' && objs.has(u.pathname)) {
      out = objs.get(u.pathname);
    } else if (method === 'GET' && u.searchParams.get('labelSelector')) {
      out = { kind: 'List', apiVersion: 'v1', metadata: {}, items: [] };
    } else { code = 404; out = { kind: 'Status', code: 404, message: 'not found' }; }
    inflight--;
    st.respond({ ':status': code, 'content-type': 'application/json' });
    st.end(JSON.stringify(out));
    dump();
  }, 20));
});
srv.listen(0, '127.0.0.1', () => fs.writeFileSync(portFile, String(srv.address().port)));
