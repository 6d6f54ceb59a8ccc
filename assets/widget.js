/*
 * Frontdoor chat widget: the web front end of the Shared Services assistant.
 * Plain ES2020 in one IIFE, no dependencies. Served by the Frontdoor binary at /widget.js.
 *
 * Embed:  <script src="https://frontdoor.example/widget.js" data-client="ACME" defer></script>
 * Options (data-*): client, token, user-name, title, open="true".
 */
(function () {
  'use strict';

  // Embedded twice (or by a page and one of its frames' scripts): keep the first instance.
  if (window.FrontdoorWidget) return;

  // document.currentScript is only set while this file first runs, so capture it now.
  const script = document.currentScript || findOwnScript();

  const MAX_CHARS = 4000;
  const REPLY_TIMEOUT_MS = 20000; // no answer on an open socket: treat the socket as dead
  const MAX_BACKOFF_MS = 30000;
  const TEXTAREA_MAX_PX = 120;
  const RATE_LIMIT_TEXT = "You're sending messages quickly — please wait a few seconds and try again.";
  const NETWORK_TEXT = "We couldn't reach the help service. Check your connection and try again.";
  const GENERIC_ERROR_TEXT = 'Something went wrong. Please try again.';
  const SVG_NS = 'http://www.w3.org/2000/svg';

  const cfg = readConfig(script);
  const store = createStore('frontdoor:');
  const state = {
    session: validId(store.get('session')) ? store.get('session') : null,
    conversation: store.get('conversation'),
    isOpen: false,
    waiting: 0, // messages sent and not yet answered
    seq: 0, // bumped on every send, so a stale history fetch can tell it is stale
    chain: Promise.resolve(), // sends run one at a time, so replies come back in order
  };
  if (!state.session) {
    state.session = randomId();
    store.set('session', state.session);
  }
  const sock = { ws: null, started: false, attempt: 0, timer: null, pending: null, dropped: false };
  const ui = {};

  /* ---------- configuration and small utilities ---------- */

  function findOwnScript() {
    const scripts = document.getElementsByTagName('script');
    for (let i = scripts.length - 1; i >= 0; i--) {
      if (/widget\.js([?#].*)?$/.test(scripts[i].getAttribute('src') || '')) return scripts[i];
    }
    return null;
  }

  function readConfig(tag) {
    const data = (tag && tag.dataset) || {};
    const src = (tag && tag.src) || location.href;
    // The server base is the folder the script came from, so a path prefix (/frontdoor/widget.js) works.
    const base = new URL('.', src).href.replace(/\/$/, '');
    return {
      base,
      client: data.client || null,
      token: data.token || null,
      userName: data.userName || null,
      title: data.title || 'Shared Services help',
      startOpen: data.open === 'true',
    };
  }

  // localStorage can throw (privacy modes, sandboxed frames): fall back to memory for this page view.
  function createStore(prefix) {
    const memory = {};
    return {
      get(key) {
        try { return localStorage.getItem(prefix + key); } catch (_) { return memory[key] ?? null; }
      },
      set(key, value) {
        try {
          if (value == null) localStorage.removeItem(prefix + key);
          else localStorage.setItem(prefix + key, String(value));
        } catch (_) {
          if (value == null) delete memory[key]; else memory[key] = String(value);
        }
      },
    };
  }

  // The server accepts ids of 1-128 letters, digits and - _ . : @
  function validId(id) {
    return typeof id === 'string' && /^[A-Za-z0-9_.:@-]{1,120}$/.test(id);
  }

  function randomId() {
    const c = window.crypto;
    if (c && typeof c.randomUUID === 'function') return c.randomUUID(); // secure contexts only
    const bytes = new Uint8Array(16);
    if (c && c.getRandomValues) c.getRandomValues(bytes);
    else for (let i = 0; i < bytes.length; i++) bytes[i] = Math.floor(Math.random() * 256);
    return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
  }

  function chatError(message, status, retryAfter) {
    return Object.assign(new Error(message || GENERIC_ERROR_TEXT), { status: status || 0, retryAfter: retryAfter || null });
  }

  // Builds an element. Text always goes through textContent: only bot HTML uses innerHTML.
  function el(tag, attrs, children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value == null || value === false) continue;
      if (key === 'text') node.textContent = value;
      else if (key === 'class') node.className = value;
      else node.setAttribute(key, value === true ? '' : String(value));
    }
    for (const child of children || []) node.appendChild(child);
    return node;
  }

  function icon(pathData) {
    const svg = document.createElementNS(SVG_NS, 'svg');
    svg.setAttribute('viewBox', '0 0 24 24');
    svg.setAttribute('aria-hidden', 'true');
    svg.setAttribute('focusable', 'false');
    const path = document.createElementNS(SVG_NS, 'path');
    path.setAttribute('d', pathData);
    svg.appendChild(path);
    return svg;
  }

  /* ---------- DOM ---------- */

  function injectStylesheet() {
    const href = cfg.base + '/widget.css';
    const done = () => { ui.root.style.visibility = ''; };
    if (document.getElementById('fd-stylesheet')) return done();
    // Hidden until styled, so the host page never flashes an unstyled widget.
    ui.root.style.visibility = 'hidden';
    const link = el('link', { id: 'fd-stylesheet', rel: 'stylesheet', href });
    link.addEventListener('load', done);
    link.addEventListener('error', done);
    setTimeout(done, 3000);
    document.head.appendChild(link);
  }

  function buildUi() {
    ui.badge = el('span', { class: 'fd-badge', hidden: true, 'aria-hidden': 'true' });
    ui.launcher = el('button', {
      id: 'fd-launcher', class: 'fd-launcher', type: 'button',
      'aria-label': 'Open chat', 'aria-expanded': 'false', 'aria-controls': 'fd-panel',
    }, [icon('M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H9l-5 4v-4H4a2 2 0 0 1-2-2V6a2 2 0 0 1 2-2z'), ui.badge]);

    ui.title = el('h2', { id: 'fd-title', class: 'fd-title', text: cfg.title });
    const subtitle = el('p', { class: 'fd-subtitle', text: 'Finance, HR, IT and buying questions' });
    const header = el('div', { class: 'fd-header' }, [ui.title, subtitle]);

    ui.empty = el('p', { class: 'fd-empty', text: greeting() });
    ui.log = el('div', {
      id: 'fd-messages', class: 'fd-messages', role: 'log', 'aria-live': 'polite', 'aria-label': 'Conversation',
    }, [ui.empty]);
    ui.typing = el('div', { id: 'fd-typing', class: 'fd-typing', role: 'img', 'aria-label': 'Assistant is typing' },
      [el('span'), el('span'), el('span')]);
    ui.status = el('div', { id: 'fd-status', class: 'fd-status', role: 'status', hidden: true });

    ui.input = el('textarea', {
      id: 'fd-input', class: 'fd-input', rows: 1, maxlength: MAX_CHARS,
      placeholder: 'Type your question…', 'aria-label': 'Your message',
    });
    ui.send = el('button', { id: 'fd-send', class: 'fd-send', type: 'submit', text: 'Send' });
    ui.form = el('form', { class: 'fd-form', novalidate: true }, [ui.input, ui.send]);

    // The close button comes last in the DOM (CSS puts it in the header) so Tab runs
    // messages' buttons → input → Send → close.
    ui.close = el('button', { id: 'fd-close', class: 'fd-close', type: 'button', 'aria-label': 'Close chat' },
      [icon('M6.4 5 12 10.6 17.6 5 19 6.4 13.4 12l5.6 5.6-1.4 1.4-5.6-5.6L6.4 19 5 17.6 10.6 12 5 6.4z')]);

    // Running announcements of the SSO for this visitor's client (filled by loadAnnouncements).
    ui.announcements = el('div', {
      id: 'fd-announcements', class: 'fd-announcements', role: 'region', 'aria-label': 'Announcements', hidden: true,
    });

    ui.panel = el('div', {
      id: 'fd-panel', class: 'fd-panel', role: 'dialog', 'aria-label': cfg.title, hidden: true,
    }, [header, ui.announcements, ui.log, ui.status, ui.form, ui.close]);

    ui.root = el('div', { id: 'frontdoor-widget', class: 'fd-root' }, [ui.launcher, ui.panel]);
  }

  function greeting() {
    const first = cfg.userName ? cfg.userName.trim().split(/\s+/)[0] : '';
    return `Hi${first ? ' ' + first : ''}! Ask me about pay and leave, IT, expenses or buying — ` +
      'for example "How do I submit an expense claim?"';
  }

  function bindEvents() {
    ui.launcher.addEventListener('click', () => open({ focus: true }));
    ui.close.addEventListener('click', () => close({ restoreFocus: true }));
    ui.panel.addEventListener('keydown', (e) => {
      if (e.key === 'Escape') {
        e.stopPropagation();
        close({ restoreFocus: true });
      }
    });
    ui.form.addEventListener('submit', (e) => {
      e.preventDefault();
      submitInput();
    });
    ui.input.addEventListener('keydown', (e) => {
      // isComposing: Enter that confirms an IME composition (Japanese, Chinese…) must not send.
      if (e.key === 'Enter' && !e.shiftKey && !e.isComposing && e.keyCode !== 229) {
        e.preventDefault();
        submitInput();
      }
    });
    ui.input.addEventListener('input', autosize);
    ui.log.addEventListener('click', (e) => {
      const btn = e.target.closest && e.target.closest('.fd-quick');
      if (btn && !btn.disabled && ui.log.contains(btn)) pressQuick(btn);
    });
    window.addEventListener('online', () => {
      if (sock.started && !sock.ws) { sock.attempt = 0; connect(); }
    });
  }

  function autosize() {
    ui.input.style.height = 'auto';
    ui.input.style.height = Math.min(ui.input.scrollHeight, TEXTAREA_MAX_PX) + 'px';
  }

  /* ---------- open / close ---------- */

  function open(opts = {}) {
    if (!state.isOpen) {
      state.isOpen = true;
      ui.panel.hidden = false;
      ui.launcher.hidden = true;
      ui.launcher.setAttribute('aria-expanded', 'true');
      ui.badge.hidden = true;
      store.set('open', '1');
      loadAnnouncements(); // an announcement may have started or ended since the page loaded
      scrollToEnd();
      if (!sock.started) { sock.started = true; connect(); } // the socket starts on first open
    }
    if (opts.focus) ui.input.focus();
  }

  function close(opts = {}) {
    if (!state.isOpen) return;
    const focusWasInside = ui.panel.contains(document.activeElement);
    state.isOpen = false;
    ui.panel.hidden = true;
    ui.launcher.hidden = false;
    ui.launcher.setAttribute('aria-expanded', 'false');
    store.set('open', '0');
    if (opts.restoreFocus || focusWasInside) ui.launcher.focus();
  }

  /* ---------- announcements ---------- */

  // Ids the visitor dismissed in this browser; a dismissed announcement stays hidden.
  function dismissedAnnouncements() {
    try { return JSON.parse(store.get('dismissed-announcements') || '[]'); } catch (_) { return []; }
  }

  async function loadAnnouncements() {
    const url = new URL(cfg.base + '/api/v1/announcements');
    const headers = { Accept: 'application/json' };
    if (cfg.token) headers.Authorization = 'Bearer ' + cfg.token;
    else if (cfg.client) url.searchParams.set('client', cfg.client);
    let list;
    try {
      const res = await fetch(url, { headers });
      if (!res.ok) return; // no banner rather than an error: the chat itself still works
      list = await res.json();
    } catch (_) {
      return;
    }
    renderAnnouncements(Array.isArray(list) ? list : []);
  }

  function renderAnnouncements(list) {
    const dismissed = dismissedAnnouncements();
    const shown = list.filter((a) => !dismissed.includes(a.id));
    ui.announcements.replaceChildren(...shown.map((a) => {
      const dismiss = el('button', {
        class: 'fd-announcement-dismiss', type: 'button', 'aria-label': 'Dismiss announcement: ' + a.title,
      }, [icon('M6.4 5 12 10.6 17.6 5 19 6.4 13.4 12l5.6 5.6-1.4 1.4-5.6-5.6L6.4 19 5 17.6 10.6 12 5 6.4z')]);
      const node = el('div', {
        class: 'fd-announcement' + (a.urgent ? ' fd-urgent' : ''), 'data-id': a.id,
      }, [el('strong', { class: 'fd-announcement-title', text: a.title }),
        el('p', { class: 'fd-announcement-text', text: a.text }), dismiss]);
      dismiss.addEventListener('click', () => {
        store.set('dismissed-announcements', JSON.stringify([...dismissedAnnouncements(), a.id].slice(-50)));
        node.remove();
        ui.announcements.hidden = !ui.announcements.children.length;
      });
      return node;
    }));
    ui.announcements.hidden = !shown.length;
    ui.announcements.dataset.loaded = String(Date.now()); // when the list was last fetched
  }

  /* ---------- rendering ---------- */

  function buildBotMessage(reply, outcome, at) {
    const bubble = el('div', { class: 'fd-bubble' });
    if (reply.html) {
      bubble.innerHTML = reply.html; // sanitised by the server; the only innerHTML in this widget
      for (const a of bubble.querySelectorAll('a')) {
        a.target = '_blank';
        a.rel = 'noopener noreferrer';
      }
    } else {
      bubble.textContent = reply.text || ''; // no server HTML (older history): show the raw text safely
      bubble.classList.add('fd-plain');
    }
    const msg = el('div', { class: 'fd-msg fd-bot', 'data-outcome': outcome || null }, [bubble]);
    stamp(msg, at);
    if (Array.isArray(reply.buttons) && reply.buttons.length) msg.appendChild(buildQuickReplies(reply.buttons));
    return msg;
  }

  function buildQuickReplies(buttons) {
    const isRating = (b) => String(b.payload).startsWith('survey:');
    const survey = buttons.some(isRating);
    const group = el('div', {
      class: 'fd-quick-replies' + (survey ? ' fd-survey' : ''),
      role: 'group', 'aria-label': survey ? 'Rate your experience' : 'Suggested replies',
    });
    for (const b of buttons) {
      const btn = el('button', { type: 'button', class: 'fd-quick' + (isRating(b) ? ' fd-rate' : ''), text: b.label });
      btn.dataset.payload = b.payload;
      group.appendChild(btn);
    }
    return group;
  }

  function buildUserMessage(text, at) {
    const msg = el('div', { class: 'fd-msg fd-user' }, [el('div', { class: 'fd-bubble', text })]);
    stamp(msg, at);
    return msg;
  }

  function stamp(msg, at) {
    const when = at ? new Date(at) : new Date();
    if (!isNaN(when)) msg.title = when.toLocaleString([], { dateStyle: 'medium', timeStyle: 'short' });
  }

  // Adds a node to the log, keeping the typing indicator last.
  function append(node) {
    ui.empty.remove();
    if (ui.typing.isConnected) ui.log.insertBefore(node, ui.typing);
    else ui.log.appendChild(node);
    scrollToEnd();
    return node;
  }

  function scrollToEnd() {
    ui.log.scrollTop = ui.log.scrollHeight;
  }

  function addSystemNote(text, kind) {
    return append(el('div', { class: 'fd-system' + (kind ? ' fd-' + kind : ''), text }));
  }

  // Only the newest set of quick replies is live, and only until one of its buttons is pressed.
  function refreshQuick() {
    const groups = ui.log.querySelectorAll('.fd-quick-replies');
    groups.forEach((group, i) => {
      const live = i === groups.length - 1 && !group.classList.contains('fd-answered');
      for (const b of group.querySelectorAll('.fd-quick')) b.disabled = !live;
    });
  }

  function renderReply(res) {
    if (res.conversation) setConversation(res.conversation);
    for (const reply of res.replies || []) append(buildBotMessage(reply, res.outcome));
    refreshQuick();
    if (res.push && !state.isOpen) ui.badge.hidden = false;
  }

  function setWaiting(delta) {
    state.waiting = Math.max(0, state.waiting + delta);
    if (state.waiting > 0 && !ui.typing.isConnected) {
      ui.log.appendChild(ui.typing);
      scrollToEnd();
    } else if (state.waiting === 0) {
      ui.typing.remove();
    }
  }

  function setStatus(text) {
    ui.status.textContent = text || '';
    ui.status.hidden = !text;
  }

  function setConversation(id) {
    state.conversation = id || null;
    store.set('conversation', state.conversation);
  }

  /* ---------- history ---------- */

  // First load: render the stored conversation above anything already shown.
  // resync (after a reconnect): add what was pushed while the socket was down.
  async function loadHistory(resync) {
    const id = state.conversation;
    const seq = state.seq;
    if (!id) return;
    let res;
    try {
      res = await fetch(cfg.base + '/api/v1/conversations/' + encodeURIComponent(id), { headers: { Accept: 'application/json' } });
    } catch (_) {
      return; // offline: the log simply starts empty
    }
    if (res.status === 404) {
      if (state.conversation === id) setConversation(null); // forgotten by the server: start afresh
      return;
    }
    if (!res.ok) return;
    const data = await res.json().catch(() => null);
    if (!data || !Array.isArray(data.messages) || state.conversation !== id) return;
    if (!resync || !ui.log.querySelector('.fd-msg')) renderHistory(data.messages);
    else if (state.seq === seq && state.waiting === 0) appendMissed(data.messages);
  }

  function renderHistory(messages) {
    const frag = document.createDocumentFragment();
    let lastButtons = null; // the latest bot message with buttons, to label button presses
    for (const m of messages) {
      if (m.direction === 'out') {
        const node = buildBotMessage(m, m.outcome, m.at);
        if (Array.isArray(m.buttons) && m.buttons.length) lastButtons = { node, buttons: m.buttons };
        frag.appendChild(node);
      } else if (m.text) {
        frag.appendChild(buildUserMessage(m.text, m.at));
      } else if (m.payload && lastButtons) {
        const hit = lastButtons.buttons.find((b) => b.payload === m.payload);
        if (!hit) continue; // a press we cannot label: skip it rather than show a raw payload
        markAnswered(lastButtons.node, m.payload);
        frag.appendChild(buildUserMessage(hit.label, m.at));
      }
    }
    if (!frag.childNodes.length) return;
    ui.empty.remove();
    ui.log.insertBefore(frag, ui.log.firstChild);
    refreshQuick();
    scrollToEnd();
  }

  // Appends only the missing bot messages: re-rendering the whole log would make a
  // screen reader read the conversation out again.
  function appendMissed(messages) {
    const out = messages.filter((m) => m.direction === 'out');
    const missing = out.length - ui.log.querySelectorAll('.fd-msg.fd-bot').length;
    if (missing <= 0) return;
    for (const m of out.slice(-missing)) append(buildBotMessage(m, m.outcome, m.at));
    refreshQuick();
  }

  function markAnswered(msgNode, payload) {
    const group = msgNode.querySelector('.fd-quick-replies');
    if (!group) return;
    group.classList.add('fd-answered');
    for (const b of group.querySelectorAll('.fd-quick')) {
      if (b.dataset.payload === payload) {
        b.classList.add('fd-chosen');
        b.setAttribute('aria-pressed', 'true');
      }
    }
  }

  /* ---------- sending ---------- */

  function submitInput() {
    // The server refuses control characters other than newline/tab: drop them quietly (paste debris).
    const text = ui.input.value.replace(/[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F]/g, '');
    if (!text.trim()) return;
    ui.input.value = '';
    autosize();
    sendMessage({ text });
  }

  function pressQuick(btn) {
    const msgNode = btn.closest('.fd-msg');
    markAnswered(msgNode, btn.dataset.payload);
    refreshQuick();
    // The pressed button is now disabled and would drop focus to <body>: keep it in the panel.
    ui.input.focus();
    sendMessage({ payload: btn.dataset.payload, label: btn.textContent, msgNode });
  }

  // input: { text } or { payload, label, msgNode }. Resolves with the reply, or null on failure.
  function sendMessage(input) {
    state.seq++;
    const bubble = append(buildUserMessage(input.payload != null ? input.label : input.text));
    setWaiting(+1);
    const run = () => {
      const body = { session: state.session, message_id: randomId() };
      if (input.payload != null) body.payload = input.payload;
      else body.text = input.text;
      // Who the user is goes with the first message only, and only without a signed token.
      if (!cfg.token && !state.conversation) {
        body.user = { id: 'anon-' + state.session, name: cfg.userName, client: cfg.client };
      }
      return transport(body).then(
        (res) => { renderReply(res); return res; },
        (err) => { handleSendError(err, input, bubble); return null; },
      ).finally(() => setWaiting(-1));
    };
    const result = state.chain.then(run);
    state.chain = result.catch(() => {});
    return result;
  }

  function handleSendError(err, input, bubble) {
    bubble.classList.add('fd-failed');
    bubble.appendChild(el('span', { class: 'fd-failed-note', text: 'Not sent' }));
    if (input.payload != null) {
      // Let the user press again, unless newer options have arrived since.
      const group = input.msgNode && input.msgNode.querySelector('.fd-quick-replies');
      if (group) {
        group.classList.remove('fd-answered');
        for (const b of group.querySelectorAll('.fd-chosen')) { b.classList.remove('fd-chosen'); b.removeAttribute('aria-pressed'); }
      }
      refreshQuick();
    } else if (!ui.input.value) {
      ui.input.value = input.text; // nothing typed is lost
      autosize();
    }
    if (err.status === 429) addSystemNote(RATE_LIMIT_TEXT, 'warn');
    else addSystemNote(err.message || GENERIC_ERROR_TEXT);
  }

  // The socket when it is open, the REST endpoint otherwise. Same body, same reply either way.
  function transport(body) {
    const ws = sock.ws;
    if (!ws || ws.readyState !== WebSocket.OPEN) return postRest(body);
    return new Promise((resolve, reject) => {
      sock.pending = { body, resolve, reject, timer: setTimeout(dropSocket, REPLY_TIMEOUT_MS) };
      try {
        ws.send(JSON.stringify(body));
      } catch (_) {
        dropSocket();
      }
    });
  }

  async function postRest(body) {
    const payload = cfg.token ? Object.assign({}, body, { token: cfg.token }) : body;
    let res;
    try {
      res = await fetch(cfg.base + '/api/v1/chat', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
        body: JSON.stringify(payload),
      });
    } catch (_) {
      throw chatError(NETWORK_TEXT, 0);
    }
    const data = await res.json().catch(() => null);
    if (!res.ok || !data || data.error != null || !Array.isArray(data.replies)) {
      const retryAfter = Number(res.headers.get('Retry-After')) || null;
      throw chatError(data && data.error ? String(data.error) : GENERIC_ERROR_TEXT, res.ok ? 0 : res.status, retryAfter);
    }
    return data;
  }

  /* ---------- WebSocket with reconnect ---------- */

  function wsUrl() {
    const url = new URL(cfg.base + '/api/v1/ws');
    url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
    url.searchParams.set('session', state.session);
    if (cfg.token) url.searchParams.set('token', cfg.token);
    return url.href;
  }

  function connect() {
    clearTimeout(sock.timer);
    sock.timer = null;
    if (!('WebSocket' in window)) return; // REST only
    if (sock.ws && sock.ws.readyState <= WebSocket.OPEN) return; // connecting or open already
    let ws;
    try {
      ws = new WebSocket(wsUrl());
    } catch (_) {
      onSocketClosed(null);
      return;
    }
    sock.ws = ws;
    ws.onopen = () => {
      const wasDropped = sock.dropped;
      sock.attempt = 0;
      sock.dropped = false;
      setStatus(null);
      if (wasDropped) loadHistory(true); // pushed answers may have arrived while we were away
    };
    ws.onmessage = (e) => onFrame(e.data);
    ws.onclose = () => onSocketClosed(ws); // onerror is always followed by onclose
  }

  // Used when a socket stops answering: a half-open connection may never fire onclose by itself.
  function dropSocket() {
    const ws = sock.ws;
    if (!ws) return;
    ws.onopen = ws.onmessage = ws.onclose = null;
    try { ws.close(); } catch (_) { /* already closing */ }
    onSocketClosed(ws);
  }

  function onSocketClosed(ws) {
    if (ws && sock.ws !== ws) return;
    sock.ws = null;
    sock.dropped = true;
    setStatus('Reconnecting…');
    // The message waiting for an answer goes again over REST with the same message_id:
    // if the server did process it, it answers from its log instead of processing it twice.
    const pending = takePending();
    if (pending) postRest(pending.body).then(pending.resolve, pending.reject);
    scheduleReconnect();
  }

  function scheduleReconnect() {
    if (sock.timer) return;
    const backoff = Math.min(MAX_BACKOFF_MS, 1000 * 2 ** sock.attempt);
    sock.attempt = Math.min(sock.attempt + 1, 6);
    // Jitter, so that many open pages do not all reconnect at the same instant after a restart.
    const delay = Math.min(MAX_BACKOFF_MS, backoff * (0.75 + Math.random() * 0.5));
    sock.timer = setTimeout(connect, delay);
  }

  function takePending() {
    const pending = sock.pending;
    sock.pending = null;
    if (pending) clearTimeout(pending.timer);
    return pending;
  }

  function onFrame(raw) {
    let msg;
    try { msg = JSON.parse(raw); } catch (_) { return; }
    if (!msg || typeof msg !== 'object') return;
    if (msg.error != null) {
      // Errors answer the frame we sent (the server handles a socket's frames in order).
      const err = chatError(String(msg.error), msg.status);
      const pending = takePending();
      if (pending) pending.reject(err); else addSystemNote(err.message);
      return;
    }
    if (!Array.isArray(msg.replies)) return; // not a frame we know
    const pending = msg.push ? null : takePending();
    if (pending) pending.resolve(msg); else renderReply(msg);
  }

  /* ---------- start ---------- */

  function init() {
    if (ui.root || !document.body) return !!ui.root;
    buildUi();
    injectStylesheet();
    bindEvents();
    document.body.appendChild(ui.root);
    if (state.conversation) loadHistory(false);
    loadAnnouncements();
    const remembered = store.get('open');
    if (remembered === '1' || (remembered == null && cfg.startOpen)) open({ focus: false });
    return true;
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', init);
  else init();

  window.FrontdoorWidget = {
    open() { if (init()) open({ focus: true }); },
    close() { if (init()) close({ restoreFocus: false }); },
    // Sends text as if typed (opens the panel). Resolves with the server's reply, or null on failure.
    send(text) {
      if (!init() || typeof text !== 'string' || !text.trim()) return Promise.resolve(null);
      open({ focus: false });
      return sendMessage({ text });
    },
  };
})();
