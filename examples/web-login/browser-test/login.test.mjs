// End to end: the web-login example in Debian's headless Chromium, against a real daemon.
// run-browser-test.sh starts both and passes: BASE_URL, SCREENSHOT_DIR, PASSWORD (every demo
// user's), TOTP_WINDOW (the daemon's `window`), and SECRETS_FILE, where every key, code and
// backup code the test saw is noted, for the script to check that no log holds one.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { appendFileSync, mkdtempSync, mkdirSync, rmSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const BASE = process.env.BASE_URL;
const SHOTS = process.env.SCREENSHOT_DIR;
const PASSWORD = process.env.PASSWORD;
const WINDOW = Number(process.env.TOTP_WINDOW ?? 1);
const SECRETS = process.env.SECRETS_FILE;
assert.ok(BASE && SHOTS && PASSWORD && SECRETS, 'run me from run-browser-test.sh');

/** Notes secrets for the log check; returns the first. */
function noted(...secrets) {
  appendFileSync(SECRETS, secrets.map((s) => `${s}\n`).join(''));
  return secrets[0];
}

// ---- TOTP (RFC 6238, SHA-1, 6 digits, 30 s), as an authenticator app makes it ----

function base32Decode(text) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = 0;
  let value = 0;
  const out = [];
  for (const c of text.replace(/[\s=]/g, '').toUpperCase()) {
    const v = alphabet.indexOf(c);
    assert.ok(v >= 0, `not Base32: ${c}`);
    value = ((value << 5) | v) & 0xffff;
    bits += 5;
    if (bits >= 8) {
      out.push((value >>> (bits - 8)) & 0xff);
      bits -= 8;
    }
  }
  return Buffer.from(out);
}

function totp(key, step) {
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(step));
  const h = createHmac('sha1', key).update(counter).digest();
  const offset = h[h.length - 1] & 0x0f;
  return String((h.readUInt32BE(offset) & 0x7fffffff) % 1_000_000).padStart(6, '0');
}

const nowStep = () => Math.floor(Date.now() / 30_000);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * A phone's authenticator for one key. The daemon accepts each step once, and steps within
 * `window` of now: next() hands out the following unused step, keeping one step clear of
 * either edge, and waits for the clock only when it must.
 */
class Authenticator {
  constructor(secret) {
    this.key = base32Decode(secret);
    this.lastStep = -Infinity;
  }

  async next() {
    for (;;) {
      const now = nowStep();
      const step = Math.max(this.lastStep + 1, now - WINDOW + 1);
      if (step <= now + Math.max(0, WINDOW - 1)) {
        this.lastStep = step;
        return noted(totp(this.key, step));
      }
      await sleep(1000);
    }
  }

  /** A six-digit code that no step near now has. */
  wrong() {
    const near = new Set();
    for (let s = nowStep() - 20; s <= nowStep() + 20; s++) near.add(totp(this.key, s));
    for (let n = 0; ; n++) {
      const code = String((123456 + n * 7919) % 1_000_000).padStart(6, '0');
      if (!near.has(code)) return code;
    }
  }
}

// ---- the browser ----

let context;
let page;
let userDataDir;
let shot = 0;
let failed = false;

before(async () => {
  mkdirSync(SHOTS, { recursive: true });
  userDataDir = mkdtempSync(join(tmpdir(), 'web-login-chromium-'));
  context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    viewport: { width: 1000, height: 700 },
  });
  context.setDefaultTimeout(15_000);
  page = context.pages()[0] ?? (await context.newPage());
});

after(async () => {
  await context?.close();
  if (userDataDir) rmSync(userDataDir, { recursive: true, force: true });
});

/** One step of the scenario; after a failure the rest are skipped (they build on it). */
function step(name, fn) {
  test(name, async (t) => {
    if (failed) {
      t.skip('an earlier step failed');
      return;
    }
    try {
      await fn();
    } catch (e) {
      failed = true;
      await screenshot(`FAILED-${name}`).catch(() => {});
      throw e;
    }
  });
}

async function screenshot(name) {
  shot += 1;
  const file = join(SHOTS, `${String(shot).padStart(2, '0')}-${name.replace(/[^a-z0-9]+/gi, '-').toLowerCase()}.png`);
  await page.screenshot({ path: file, fullPage: true });
}

/** Clicks and waits for the next page to load (a POST's answer, or the page it redirects to). */
async function click(selector) {
  await Promise.all([page.waitForEvent('load'), page.click(selector)]);
}

const path = () => new URL(page.url()).pathname;

async function logIn(user, { expect = '/account' } = {}) {
  await page.goto(`${BASE}/login`);
  await page.fill('#user', user);
  await page.fill('#pass', PASSWORD);
  await click('button[type=submit]');
  assert.equal(path(), expect, `${user} logged in to ${expect}`);
}

async function logOut() {
  await click('header form.logout button');
  assert.equal(path(), '/login');
}

async function typeCode(code, button = 'button.primary') {
  await page.fill('#code', code);
  await click(button);
}

const alertText = () => page.locator('.alert').first().innerText();

/** The key shown on the setup page, and the QR code's URL read back with zbarimg when it is there. */
async function readSetupPage() {
  const secret = (await page.locator('#key').innerText()).replace(/\s+/g, '');
  assert.match(secret, /^[A-Z2-7]{32}$/);
  noted(secret);
  const qrFile = join(SHOTS, '..', 'qr.png');
  await page.locator('img.qr').screenshot({ path: qrFile });
  let zbar = null;
  try {
    zbar = execFileSync('zbarimg', ['--quiet', '--raw', qrFile], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch (e) {
    if (e.code !== 'ENOENT') throw e;
  }
  if (zbar !== null) {
    assert.match(zbar, new RegExp(`^otpauth://totp/.*secret=${secret}&`), 'the QR code holds the key shown');
  }
  return secret;
}

// ---- the scenario ----

let alice;
let aliceBackup;
let bob;

step('the administrator logs in with his password alone and enables two-factor authentication', async () => {
  await page.goto(`${BASE}/`);
  assert.equal(path(), '/login');
  await screenshot('login');
  const cookie = (await context.cookies()).find((c) => c.name === 'twofactord_web');
  assert.ok(cookie, 'a session cookie');
  assert.equal(cookie.httpOnly, true);
  assert.equal(cookie.sameSite, 'Strict');

  await page.fill('#user', 'root');
  await page.fill('#pass', 'not the password');
  await click('button[type=submit]');
  assert.equal(await alertText(), 'The login is invalid.');

  await logIn('root');
  await click('header nav >> text=Two-Factor Authentication');
  await page.check('input[name=mode][value=optional]');
  await click('form[action="/admin/policy"] button');
  assert.equal(path(), '/admin');
  assert.equal(await alertText(), 'The security policy is now Enabled.');
  await page.fill('#issuer', 'Example Hosting');
  await click('form[action="/admin/issuer"] button[value=save]');
  assert.equal(path(), '/admin');
  assert.match(await alertText(), /The issuer is now .Example Hosting./);
  await screenshot('admin-policy-enabled');
  await logOut();
});

step('alice sets up two-factor authentication on Manage My Account', async () => {
  await logIn('alice');
  assert.match(await page.locator('.state').innerText(), /not configured/);
  await screenshot('account-not-configured');
  await click('text=Set Up Two-Factor Authentication');
  assert.equal(await page.locator('#account').innerText(), 'alice');
  assert.equal(await page.locator('#issuer').innerText(), 'Example Hosting');
  const code = page.locator('#code');
  assert.equal(await code.getAttribute('autocomplete'), 'one-time-code');
  assert.equal(await code.getAttribute('inputmode'), 'numeric');
  alice = new Authenticator(await readSetupPage());
  await screenshot('setup-qr-code');

  await typeCode(alice.wrong());
  assert.match(await alertText(), /^The security code is invalid\./);
  await typeCode(await alice.next());
  assert.match(await alertText(), /now configured/);
  aliceBackup = await page.locator('ol.codes code').allInnerTexts();
  noted(...aliceBackup, ...aliceBackup.map((c) => c.replace('-', '')));
  assert.equal(aliceBackup.length, 10);
  aliceBackup.forEach((c) => assert.match(c, /^\d{5}-\d{5}$/));
  await screenshot('backup-codes-shown-once');
  await click('text=Continue');
  assert.match(await page.locator('.state').innerText(), /is configured/);
  assert.equal(await page.locator('dl.facts dd').nth(2).innerText(), '10');
  await screenshot('account-configured');
});

step('a form without the session\'s CSRF token is refused', async () => {
  for (const form of [{ action: 'remove', code: '123456' }, { action: 'remove', code: '123456', csrf: 'forged' }]) {
    const res = await page.request.post(`${BASE}/account/change`, { form, maxRedirects: 0 });
    assert.equal(res.status(), 403);
  }
  // The account is untouched.
  await page.goto(`${BASE}/account`);
  assert.match(await page.locator('.state').innerText(), /is configured/);
  await logOut();
});

step('alice logs in with her password and a code; a wrong code is invalid', async () => {
  await logIn('alice', { expect: '/login/code' });
  const code = page.locator('#code');
  assert.equal(await code.getAttribute('autocomplete'), 'one-time-code');
  assert.equal(await code.getAttribute('inputmode'), 'numeric');
  await screenshot('security-code-page');
  // The code page is all this session may see.
  await page.goto(`${BASE}/account`);
  assert.equal(path(), '/login/code');

  await typeCode(alice.wrong());
  assert.equal(await alertText(), 'The security code is invalid.');
  await screenshot('security-code-invalid');
  alice.used = await alice.next();
  await typeCode(alice.used);
  assert.equal(path(), '/account');
  assert.match(await page.locator('dl.facts').innerText(), /Last used\s+\d{4}-\d\d-\d\d/);
  await logOut();
});

step('the same code again is refused as already used', async () => {
  await logIn('alice', { expect: '/login/code' });
  await typeCode(alice.used);
  assert.match(await alertText(), /^The security code is invalid: it was already used/);
  await screenshot('security-code-replayed');
  await typeCode(await alice.next());
  assert.equal(path(), '/account');
  await logOut();
});

step('five wrong codes lock the account; even a right code is refused until the lock ends', async () => {
  await logIn('alice', { expect: '/login/code' });
  for (let i = 1; i <= 5; i++) {
    await typeCode(alice.wrong());
    assert.equal(await alertText(), 'The security code is invalid.', `wrong code ${i}`);
  }
  await typeCode(await alice.next());
  const locked = await alertText();
  assert.match(locked, /^Too many failed attempts: .* locked\. Try again in \d+ seconds? \(after \d\d:\d\d:\d\d UTC\)\.$/);
  assert.equal(path(), '/login/code', 'still not in');
  await screenshot('locked');
  const wait = Number(locked.match(/Try again in (\d+) second/)[1]);
  await sleep(wait * 1000 + 500);
});

step('after the lock, alice logs in with a backup code', async () => {
  await click('text=Use a backup code');
  assert.equal(path(), '/login/backup');
  assert.equal(await page.locator('#code').getAttribute('inputmode'), 'numeric');
  await page.fill('#code', aliceBackup[0]);
  await screenshot('backup-code-page');
  await click('button.primary');
  assert.equal(path(), '/account');
  assert.equal(await alertText(), 'You logged in with a backup code. You have 9 backup codes left.');
  await screenshot('logged-in-with-backup-code');
});

step('new backup codes only after a current code', async () => {
  await typeCode(alice.wrong(), 'button[value=backup]');
  assert.equal(await alertText(), 'The security code is invalid.');
  await typeCode(aliceBackup[0], 'button[value=backup]');
  assert.equal(await alertText(), 'The security code is invalid.', 'a used backup code is no proof');
  await typeCode(await alice.next(), 'button[value=backup]');
  assert.equal(await alertText(), 'New backup codes replace your old ones.');
  const fresh = await page.locator('ol.codes code').allInnerTexts();
  noted(...fresh);
  assert.equal(fresh.length, 10);
  assert.ok(!fresh.includes(aliceBackup[1]));
  await screenshot('new-backup-codes');
  await click('text=Continue');
  assert.equal(await page.locator('dl.facts dd').nth(2).innerText(), '10');
  // Not an administrator: no admin page.
  assert.equal(await page.locator('header nav a', { hasText: 'Two-Factor Authentication' }).count(), 0);
  const res = await page.goto(`${BASE}/admin`);
  assert.equal(res.status(), 403);
  await logOut();
});

step('bob reconfigures (a new key) and then removes his two-factor authentication, each only with a current code', async () => {
  await logIn('bob');
  await click('text=Set Up Two-Factor Authentication');
  bob = new Authenticator(await readSetupPage());
  await typeCode(await bob.next());
  await click('text=Continue');

  await typeCode(bob.wrong(), 'button[value=reconfigure]');
  assert.equal(await alertText(), 'The security code is invalid.');
  await typeCode(await bob.next(), 'button[value=reconfigure]');
  const oldKey = bob;
  bob = new Authenticator(await readSetupPage());
  assert.notDeepEqual(bob.key, oldKey.key, 'a new key');
  await typeCode(await bob.next());
  assert.match(await alertText(), /now configured/);
  await click('text=Continue');
  await typeCode(await oldKey.next(), 'button[value=remove]');
  assert.equal(await alertText(), 'The security code is invalid.', 'the old key stopped working');

  await typeCode(bob.wrong(), 'button[value=remove]');
  assert.equal(await alertText(), 'The security code is invalid.');
  assert.match(await page.locator('.state').innerText(), /is configured/);
  await screenshot('remove-needs-a-code');
  await typeCode(await bob.next(), 'button[value=remove]');
  assert.equal(await alertText(), 'Two-factor authentication is removed from your account.');
  assert.match(await page.locator('.state').innerText(), /not configured/);
  await logOut();
});

step('the administrator resets alice and requires two-factor authentication', async () => {
  await logIn('root');
  await page.goto(`${BASE}/admin`);
  const row = page.locator('table.users tr', { hasText: 'alice' });
  assert.match(await row.innerText(), /Configured/);
  assert.match(await page.locator('table.users tr', { hasText: 'bob' }).innerText(), /Not configured/);
  await screenshot('admin-manage-users');
  await page.check('#u-alice');
  await click('form[action="/admin/users"] button[value=reset]');
  assert.equal(path(), '/admin');
  assert.equal(await alertText(), 'Two-factor authentication was reset for: alice.');
  assert.match(await row.innerText(), /Not configured/);
  await page.check('input[name=mode][value=required]');
  await click('form[action="/admin/policy"] button');
  assert.equal(path(), '/admin');
  assert.equal(await alertText(), 'The security policy is now Required.');
  await screenshot('admin-policy-required');
  await logOut();
});

step('with the policy required, alice is sent to set up two-factor authentication, not let in', async () => {
  await logIn('alice');
  assert.match(await alertText(), /requires two-factor authentication/);
  assert.equal(await page.locator('header nav a').count(), 0, 'no way into the panel yet');
  await screenshot('enrolment-required');
  for (const other of ['/', '/admin']) {
    await page.goto(`${BASE}${other}`);
    assert.equal(path(), '/account', `${other} leads back to the setup`);
  }
  await click('text=Set Up Two-Factor Authentication');
  alice = new Authenticator(await readSetupPage());
  await typeCode(await alice.next());
  assert.match(await alertText(), /now configured/);
  await click('text=Continue');
  assert.equal(await page.locator('header nav a', { hasText: 'Manage My Account' }).count(), 1, 'now in');
  assert.equal(await page.locator('button[value=remove]').count(), 0, 'required: no removing');
  await logOut();
});
