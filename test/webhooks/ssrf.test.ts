import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { TLSSocket } from 'node:tls';
import { GatewayError } from '../../src/core/errors.ts';
import { AddressPolicy, type Lookup, validateWebhookUrl } from '../../src/webhooks/address-policy.ts';
import { sendOnce } from '../../src/webhooks/send.ts';
import { startReceiver } from './receiver.ts';

/**
 * Where webhooks may go: private, loopback, link-local, CGNAT, multicast, unspecified and IPv4-mapped forms are
 * refused unless allowed; a hostname is resolved once and the connection goes to the checked address, so a
 * resolver that changes its answer (DNS rebinding) cannot steer the request to a private address.
 */

const strict = new AddressPolicy({ allowPrivateNetworks: false, allowedNetworks: [] });
const open = new AddressPolicy({ allowPrivateNetworks: true, allowedNetworks: [] });
const send = (url: string, policy: AddressPolicy, lookup: Lookup) =>
  sendOnce(
    { url, headers: { 'content-type': 'application/json', 'webhook-id': 'msg_ssrf' }, body: '{}' },
    { policy, lookup, timeoutMs: 2_000, maxResponseBytes: 1024 },
  );
const noLookup: Lookup = async () => {
  throw new Error('an IP literal must not be resolved');
};

describe('webhook address policy', () => {
  it('refuses private, loopback, link-local, CGNAT, multicast, unspecified and reserved addresses', () => {
    const refused = [
      '127.0.0.1',
      '127.8.9.10',
      '10.0.0.1',
      '10.255.255.255',
      '172.16.0.1',
      '172.31.255.1',
      '192.168.1.1',
      '169.254.169.254',
      '100.64.0.1',
      '100.127.255.254',
      '0.0.0.0',
      '224.0.0.1',
      '239.255.255.250',
      '255.255.255.255',
      '198.18.0.1',
      '::',
      '::1',
      'fe80::1',
      'fc00::1',
      'fd12:3456::1',
      'ff02::1',
      '::ffff:127.0.0.1',
      '::ffff:7f00:1',
      '::ffff:10.0.0.1',
      '::ffff:a9fe:a9fe',
      '0:0:0:0:0:ffff:c0a8:0101',
      '64:ff9b::a9fe:a9fe',
      '2002:7f00:1::',
      '::127.0.0.1',
    ];
    for (const ip of refused) assert.equal(strict.allows(ip), false, ip);
    for (const ip of ['93.184.216.34', '8.8.8.8', '1.1.1.1', '2606:4700:4700::1111', '::ffff:8.8.8.8', '172.32.0.1']) {
      assert.equal(strict.allows(ip), true, ip);
    }
    for (const ip of refused) assert.equal(open.allows(ip), true, ip);
    const some = new AddressPolicy({ allowPrivateNetworks: false, allowedNetworks: ['10.20.0.0/16', 'fd00::/8'] });
    assert.equal(some.allows('10.20.3.4'), true);
    assert.equal(some.allows('::ffff:10.20.3.4'), true);
    assert.equal(some.allows('10.21.0.1'), false);
    assert.equal(some.allows('fd00::5'), true);
    assert.equal(some.allows('127.0.0.1'), false);
    assert.equal(strict.allows('not-an-ip'), false);
  });

  it('validateWebhookUrl: scheme, length, credentials, literal private addresses (unless allowed)', () => {
    const bad = (url: unknown, policy = strict) => {
      assert.throws(
        () => validateWebhookUrl(url, policy),
        (err: unknown) => err instanceof GatewayError && err.code === 'invalid_request' && err.param === 'webhook_url',
        String(url),
      );
    };
    bad('');
    bad(42);
    bad('not a url');
    bad('ftp://example.com/hook');
    bad('file:///etc/passwd');
    bad('javascript:alert(1)');
    bad('https://user:pass@example.com/hook');
    bad('https://token@example.com/hook');
    bad(`https://example.com/${'a'.repeat(2100)}`);
    bad('http://127.0.0.1:8080/hook');
    bad('http://[::1]/hook');
    bad('http://[::ffff:127.0.0.1]/hook');
    bad('http://169.254.169.254/latest/meta-data');
    bad('http://10.0.0.5/hook');
    bad('http://0x7f000001/hook'); // the URL parser reads it as 127.0.0.1
    bad('http://2130706433/hook');
    bad('http://localhost:3000/hook');
    assert.equal(validateWebhookUrl('https://example.com/hook?x=1', strict).hostname, 'example.com');
    assert.equal(validateWebhookUrl('http://93.184.216.34/hook', strict).hostname, '93.184.216.34');
    assert.equal(validateWebhookUrl('http://127.0.0.1:8080/hook', open).port, '8080');
    assert.equal(validateWebhookUrl('http://localhost:8080/hook', open).hostname, 'localhost');
  });

  it('never connects to refused addresses without the setting; does with it', async () => {
    const receiver = await startReceiver({ behaviour: 200 });
    try {
      for (const url of [
        receiver.url,
        `http://[::ffff:127.0.0.1]:${receiver.port}/hook`,
        `http://10.0.0.1:${receiver.port}/hook`,
        'http://169.254.169.254/latest/meta-data/',
        `http://[::1]:${receiver.port}/hook`,
      ]) {
        const result = await send(url, strict, noLookup);
        assert.equal(result.ok, false, url);
        assert.equal(result.error, 'blocked_address', url);
        assert.equal(result.status, null);
      }
      // A hostname whose resolver answers loopback.
      const toLoopback: Lookup = async () => [{ address: '127.0.0.1', family: 4 }];
      const named = await send(`http://hooks.example.test:${receiver.port}/hook`, strict, toLoopback);
      assert.equal(named.error, 'blocked_address');
      // One refused address among the answers refuses the host.
      const mixed: Lookup = async () => [
        { address: '93.184.216.34', family: 4 },
        { address: '127.0.0.1', family: 4 },
      ];
      assert.equal(
        (await send(`http://hooks.example.test:${receiver.port}/hook`, strict, mixed)).error,
        'blocked_address',
      );
      assert.equal(receiver.received.length, 0, 'nothing reached the loopback receiver');

      // Allowed by the operator: the same receiver is reached, through the name and through the literal.
      const ok = await send(`http://hooks.example.test:${receiver.port}/hook`, open, toLoopback);
      assert.equal(ok.ok, true);
      assert.equal(ok.status, 200);
      assert.equal((await send(receiver.url, open, noLookup)).status, 200);
      assert.equal(receiver.received.length, 2);
      assert.equal(receiver.received[0]!.host, `hooks.example.test:${receiver.port}`, 'the Host header keeps the name');
    } finally {
      await receiver.stop();
    }
  });

  it('IPv6: a literal [::1] and a name resolving to ::1 are refused without the setting, reached with it', async (t) => {
    let receiver: Awaited<ReturnType<typeof startReceiver>>;
    try {
      receiver = await startReceiver({ host: '::1', behaviour: 200 });
    } catch {
      t.skip('no IPv6 loopback on this machine');
      return;
    }
    try {
      const toV6: Lookup = async () => [{ address: '::1', family: 6 }];
      assert.equal((await send(receiver.url, strict, noLookup)).error, 'blocked_address');
      assert.equal((await send(`http://v6.example.test:${receiver.port}/hook`, strict, toV6)).error, 'blocked_address');
      assert.equal(receiver.received.length, 0);
      assert.equal((await send(receiver.url, open, noLookup)).status, 200);
      assert.equal((await send(`http://v6.example.test:${receiver.port}/hook`, open, toV6)).status, 200);
      assert.equal(receiver.received[1]!.host, `v6.example.test:${receiver.port}`);
    } finally {
      await receiver.stop();
    }
  });

  it('DNS rebinding: the connection goes to the checked address, not to a later answer', async () => {
    // 127.0.0.2 is allowed by the operator; 127.0.0.1 (where the "private" service listens) is not.
    const checked = await startReceiver({ host: '127.0.0.2', behaviour: 200 });
    const secret = await startReceiver({ host: '127.0.0.1', port: checked.port, behaviour: 200 });
    const policy = new AddressPolicy({ allowPrivateNetworks: false, allowedNetworks: ['127.0.0.2/32'] });
    let calls = 0;
    const rebinding: Lookup = async () => {
      calls++;
      return [{ address: calls === 1 ? '127.0.0.2' : '127.0.0.1', family: 4 }];
    };
    try {
      const result = await send(`http://rebind.example.test:${checked.port}/hook`, policy, rebinding);
      assert.equal(result.status, 200);
      assert.equal(calls, 1, 'resolved once');
      assert.equal(checked.received.length, 1);
      assert.equal(checked.received[0]!.host, `rebind.example.test:${checked.port}`);
      assert.equal(secret.received.length, 0, 'the private address was never reached');
      // And a resolver that answers the private address first is refused before any connection.
      const second = await send(`http://rebind.example.test:${checked.port}/hook`, policy, rebinding);
      assert.equal(second.error, 'blocked_address');
      assert.equal(secret.received.length, 0);
    } finally {
      await checked.stop();
      await secret.stop();
    }
  });

  it('a host with several checked addresses: one that refuses the connection gives way to the next', async () => {
    const receiver = await startReceiver({ host: '127.0.0.1', behaviour: 200 });
    try {
      // 127.0.0.3 is loopback too, but nothing listens there on this port.
      const two: Lookup = async () => [
        { address: '127.0.0.3', family: 4 },
        { address: '127.0.0.1', family: 4 },
      ];
      const result = await send(`http://multi.example.test:${receiver.port}/hook`, open, two);
      assert.equal(result.status, 200, JSON.stringify(result));
      assert.equal(receiver.received.length, 1);
    } finally {
      await receiver.stop();
    }
  });

  it('a redirect is a failed attempt and is not followed; a slow receiver times out; answers are capped', async () => {
    const target = await startReceiver({ behaviour: 200 });
    const redirecting = await startReceiver({ behaviour: 302 });
    const slow = await startReceiver({ behaviour: 'hang' });
    const big = await startReceiver({ behaviour: 200 });
    big.answer = 'y'.repeat(1_000_000);
    try {
      const redirected = await send(redirecting.url, open, noLookup);
      assert.equal(redirected.ok, false);
      assert.equal(redirected.status, 302);
      assert.equal(target.received.length, 0);
      const started = Date.now();
      const timedOut = await sendOnce(
        { url: slow.url, headers: {}, body: '{}' },
        { policy: open, lookup: noLookup, timeoutMs: 300, maxResponseBytes: 1024 },
      );
      assert.equal(timedOut.error, 'timeout');
      assert.ok(Date.now() - started < 2_000);
      const capped = await send(big.url, open, noLookup);
      assert.equal(capped.status, 200);
      assert.equal(capped.excerpt!.length, 256);
      const refused = await send('http://127.0.0.1:1/hook', open, noLookup);
      assert.equal(refused.error, 'connection_refused');
      const badScheme = await send('ftp://127.0.0.1/hook', open, noLookup);
      assert.equal(badScheme.error, 'invalid_url');
    } finally {
      for (const r of [target, redirecting, slow, big]) await r.stop();
    }
  });
});

describe('webhooks over https to a pinned address', () => {
  it('keeps the URL’s name for TLS (certificate check) and Host while connecting to the checked address', async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'modro-hook-tls-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    try {
      execFileSync(
        'openssl',
        [
          'req',
          '-x509',
          '-newkey',
          'ec',
          '-pkeyopt',
          'ec_paramgen_curve:prime256v1',
          '-nodes',
          '-keyout',
          join(dir, 'key.pem'),
          '-out',
          join(dir, 'cert.pem'),
          '-days',
          '1',
          '-subj',
          '/CN=hooks.example.test',
          '-addext',
          'subjectAltName=DNS:hooks.example.test',
        ],
        { stdio: 'ignore' },
      );
    } catch {
      t.skip('openssl is not available to make a test certificate');
      return;
    }
    const cert = readFileSync(join(dir, 'cert.pem'), 'utf8');
    const seen: Array<{ host: string | undefined; servername: string | false | null }> = [];
    const server = https.createServer({ key: readFileSync(join(dir, 'key.pem')), cert }, (req, res) => {
      seen.push({ host: req.headers.host, servername: (req.socket as TLSSocket).servername });
      req.resume();
      req.on('end', () => res.writeHead(200).end('tls ok'));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
    const port = (server.address() as AddressInfo).port;
    const toLoopback: Lookup = async () => [{ address: '127.0.0.1', family: 4 }];
    const attempt = (host: string) =>
      sendOnce(
        { url: `https://${host}:${port}/hook`, headers: { 'content-type': 'application/json' }, body: '{}' },
        { policy: open, lookup: toLoopback, timeoutMs: 3_000, maxResponseBytes: 1024, ca: cert },
      );
    const ok = await attempt('hooks.example.test');
    assert.equal(ok.status, 200, JSON.stringify(ok));
    assert.equal(ok.excerpt, 'tls ok');
    assert.deepEqual(seen, [{ host: `hooks.example.test:${port}`, servername: 'hooks.example.test' }]);
    // A name the certificate does not cover fails the check, although the address is the same.
    const wrong = await attempt('other.example.test');
    assert.equal(wrong.error, 'tls_error');
    assert.equal(seen.length, 1);
  });
});
