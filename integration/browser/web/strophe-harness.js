// Test harness around the real Strophe.js (npm "strophe.js"), driven by the
// Go tests through window.H. Everything a test asserts on is recorded here:
// connection status changes, received messages and presences, and the raw
// BOSH traffic (for failure reports).
import { Strophe, $msg, $pres, $iq } from './node_modules/strophe.js/dist/strophe.esm.js';

const statusNames = Object.fromEntries(Object.entries(Strophe.Status).map(([k, v]) => [v, k]));
const t0 = performance.now();
const now = () => Math.round(performance.now() - t0);
const FAILED = ['CONNFAIL', 'AUTHFAIL', 'ATTACHFAIL', 'DISCONNECTED', 'ERROR', 'CONNTIMEOUT'];

const H = {
  conn: null,
  statuses: [],   // {t, status, cond}
  messages: [],   // {t, from, body, id}
  presences: [],  // {t, from, type}
  subscribeRequests: [], // bare JIDs that asked to subscribe to us
  traffic: [],    // {t, dir, data}, bounded
  autoApprove: false,

  log(dir, data) {
    this.traffic.push({ t: now(), dir, data });
    if (this.traffic.length > 400) this.traffic.splice(0, this.traffic.length - 400);
  },

  _setup(service, opts) {
    const conn = new Strophe.Connection(service, opts);
    conn.rawInput = (d) => this.log('in', d);
    conn.rawOutput = (d) => this.log('out', d);
    conn.addHandler((m) => {
      const body = m.getElementsByTagName('body')[0];
      if (body) {
        this.messages.push({ t: now(), from: m.getAttribute('from'), body: body.textContent, id: m.getAttribute('id') });
      }
      return true;
    }, null, 'message', 'chat');
    conn.addHandler((p) => {
      const from = p.getAttribute('from');
      const type = p.getAttribute('type') || 'available';
      const show = p.getElementsByTagName('show')[0];
      const status = p.getElementsByTagName('status')[0];
      this.presences.push({ t: now(), from, type, show: show ? show.textContent : '', status: status ? status.textContent : '' });
      if (type === 'subscribe') {
        this.subscribeRequests.push(Strophe.getBareJidFromJid(from));
        if (this.autoApprove) {
          conn.send($pres({ to: Strophe.getBareJidFromJid(from), type: 'subscribed' }));
        }
      }
      return true;
    }, null, 'presence');
    // Roster pushes (RFC 6121 §2.1.6) must be acknowledged.
    conn.addHandler((iq) => {
      conn.send($iq({ type: 'result', id: iq.getAttribute('id') }));
      return true;
    }, Strophe.NS.ROSTER, 'iq', 'set');
    this.conn = conn;
    return conn;
  },

  _waiters: [],

  _onStatus(status, cond) {
    const name = statusNames[status] || String(status);
    this.statuses.push({ t: now(), status: name, cond: cond || '' });
    document.getElementById('status').textContent = name + (cond ? ' ' + cond : '');
    this._waiters = this._waiters.filter((w) => {
      if (w.want.includes(name)) { w.resolve(this.info()); return false; }
      if (w.fail.includes(name)) { w.reject(new Error('strophe status ' + name + ' ' + (cond || ''))); return false; }
      return true;
    });
  },

  // waitStatus resolves when the connection reaches one of want, and fails
  // if it reaches one of fail first.
  waitStatus(want, fail = []) {
    return new Promise((resolve, reject) => this._waiters.push({ want, fail, resolve, reject }));
  },

  // connect logs in and (unless opts.noPresence) sends initial presence;
  // resolves with info().
  async connect(service, jid, password, opts = {}) {
    const conn = this._setup(service, opts);
    const done = this.waitStatus(['CONNECTED'], FAILED);
    conn.connect(jid, password, (s, c) => this._onStatus(s, c), opts.wait);
    const info = await done;
    if (opts.noPresence !== true) conn.send($pres());
    return info;
  },

  // restore re-attaches to the session cached in sessionStorage (Strophe's
  // keepalive option); resolves with info() once ATTACHED.
  async restore(service, jid) {
    const conn = this._setup(service, { keepalive: true });
    const done = this.waitStatus(['ATTACHED'], FAILED);
    conn.restore(jid, (s, c) => this._onStatus(s, c));
    return await done;
  },

  cachedSession() {
    return JSON.parse(sessionStorage.getItem('strophe-bosh-session'));
  },

  info() {
    const p = this.conn && this.conn._proto;
    return { jid: this.conn.jid, sid: p ? p.sid : null, wait: p ? p.wait : 0, rid: p ? p.rid : 0,
      connected: this.conn.connected, authenticated: this.conn.authenticated };
  },

  send(to, body, id) {
    this.conn.send($msg({ to, type: 'chat', id }).c('body').t(body));
  },

  sendMany(to, prefix, n) {
    for (let i = 0; i < n; i++) this.send(to, prefix + i, prefix + i);
  },

  presence(attrs) {
    this.conn.send($pres(attrs || {}));
  },

  presenceShow(show, status) {
    this.conn.send($pres().c('show').t(show).up().c('status').t(status));
  },

  // roster fetches the roster (RFC 6121 §2.1.3).
  roster() {
    return new Promise((resolve, reject) => {
      this.conn.sendIQ($iq({ type: 'get' }).c('query', { xmlns: Strophe.NS.ROSTER }), (res) => {
        const items = Array.from(res.getElementsByTagName('item')).map((it) => ({
          jid: it.getAttribute('jid'), subscription: it.getAttribute('subscription'), ask: it.getAttribute('ask') || '',
        }));
        resolve(items);
      }, (err) => reject(new Error('roster get failed: ' + (err ? Strophe.serialize(err) : 'timeout'))), 10000);
    });
  },

  disconnect(reason) {
    const done = this.waitStatus(['DISCONNECTED']);
    this.conn.disconnect(reason || 'test done');
    return done.then(() => this.statuses);
  },
};

window.H = H;
window.H.ready = true;
document.getElementById('status').textContent = 'ready';
