// ura agent desk: log in (extension + password), available / paused,
// offered conversations ring (a tone, a notification, the title), reply,
// close. Messages are shown as text, never as HTML.
(function () {
  'use strict';
  var $ = function (id) { return document.getElementById(id); };
  var ws = null;
  var me = null;
  var convs = {};          // id -> {info, messages: [], lastSeq, el}
  var current = null;
  var offers = {};         // offer id -> element
  var ringing = null;
  var retry = 0;
  var loggedOut = false;
  var title = document.title;
  var typingTimer = null;
  var typingSent = 0;

  function post(path, body) {
    return fetch(path, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'X-Ura-Desk': '1' },
      body: JSON.stringify(body || {}),
      credentials: 'same-origin',
    });
  }
  function notice(text) { var n = $('desk-notice'); n.textContent = text || ''; n.hidden = !text; }
  function send(frame) { if (ws && ws.readyState === 1) ws.send(JSON.stringify(frame)); }

  // The page's words: pt-BR, or English for a browser set to English.
  var WORDS = {
    'pt-BR': {
      title: 'ura — mesa do agente', desk: 'Mesa do agente', ext: 'Ramal', password: 'Senha',
      login: 'Entrar', available: 'Disponível', reason: 'Motivo da pausa', r_pause: 'Pausa',
      r_lunch: 'Almoço', r_training: 'Treinamento', pause: 'Pausar', logout: 'Sair',
      offers: 'Conversas oferecidas', mine: 'Minhas conversas', conversation: 'Conversa',
      messages: 'Mensagens', reply: 'Resposta', send: 'Enviar', transfer_to: 'Transferir para',
      transfer: 'Transferir', close: 'Encerrar conversa', error: 'erro',
      no_answer: 'ura não respondeu', ringing_title: '🔔 Nova conversa', new_conversation: 'Nova conversa',
      waiting: 'Um cliente aguarda atendimento.', visitor: 'Visitante', from: 'Nova conversa de ',
      accept: 'Atender', you: 'Você', queues: 'Filas', agents: 'Agentes', typing: ' está digitando…',
      reconnecting: 'Reconectando…', paused: 'Em pausa', read: 'lida', hold: 'Em espera', unhold: 'Retomar',
      s_available: 'Disponível', s_ringing: 'Tocando', 's_on-call': 'Em atendimento',
      's_wrap-up': 'Pós-atendimento', 's_logged-out': 'Desconectado',
      attach: 'Anexar arquivo', uploading: 'Enviando arquivo…', uploaded: 'Arquivo enviado.',
      too_large: 'Arquivo grande demais para este canal.', type_not_allowed: 'Este tipo de arquivo não é aceito neste canal.',
      content_mismatch: 'O conteúdo do arquivo não corresponde ao tipo dele.', upload_failed: 'O arquivo não foi enviado: ',
      download: 'Baixar',
      history: 'Conversas anteriores deste cliente', history_none: 'Nenhuma conversa anterior.',
      history_loading: 'Carregando…', history_failed: 'Não foi possível ler o histórico.',
      identified: 'Cliente identificado', agent_label: 'agente',
      o_agent: 'encerrada pelo agente', o_visitor: 'o cliente saiu', o_flow: 'encerrada pelo menu ou horário',
      o_system: 'encerrada pelo sistema',
      queue: 'Fila', queues_summary: 'Resumo das filas', calls_waiting: 'Ligações em espera', chats_waiting: 'Chats em espera',
      longest: 'Maior espera', after_hours: 'Fora do horário', waiting_now: 'Em espera',
      position: 'Posição', channel: 'Canal', waited: 'Espera', agent: 'Agente', state: 'Estado',
      chats_open: 'Chats abertos', c_voice: 'Ligação', c_chat: 'Chat', ringing_now: 'tocando',
      nobody_waiting: 'Ninguém em espera.',
    },
    en: {
      title: 'ura — agent desk', desk: 'Agent desk', ext: 'Extension', password: 'Password',
      login: 'Log in', available: 'Available', reason: 'Pause reason', r_pause: 'Pause',
      r_lunch: 'Lunch', r_training: 'Training', pause: 'Pause', logout: 'Log out',
      offers: 'Offered conversations', mine: 'My conversations', conversation: 'Conversation',
      messages: 'Messages', reply: 'Reply', send: 'Send', transfer_to: 'Transfer to',
      transfer: 'Transfer', close: 'Close conversation', error: 'error',
      no_answer: 'ura did not answer', ringing_title: '🔔 New conversation', new_conversation: 'New conversation',
      waiting: 'A customer is waiting.', visitor: 'Visitor', from: 'New conversation from ',
      accept: 'Accept', you: 'You', queues: 'Queues', agents: 'Agents', typing: ' is typing…',
      reconnecting: 'Reconnecting…', paused: 'Paused', read: 'read', hold: 'Hold', unhold: 'Resume',
      s_available: 'Available', s_ringing: 'Ringing', 's_on-call': 'In a conversation',
      's_wrap-up': 'Wrap-up', 's_logged-out': 'Logged out',
      attach: 'Attach a file', uploading: 'Sending the file…', uploaded: 'File sent.',
      too_large: 'The file is too large for this channel.', type_not_allowed: 'This kind of file is not accepted on this channel.',
      content_mismatch: 'The file\'s content does not match its type.', upload_failed: 'The file was not sent: ',
      download: 'Download',
      history: "This customer's earlier conversations", history_none: 'No earlier conversations.',
      history_loading: 'Loading…', history_failed: 'The history could not be read.',
      identified: 'Identified customer', agent_label: 'agent',
      o_agent: 'closed by the agent', o_visitor: 'the customer left', o_flow: 'ended by the menu or the hours',
      o_system: 'ended by ura',
      queue: 'Queue', queues_summary: 'Queue summary', calls_waiting: 'Calls waiting', chats_waiting: 'Chats waiting',
      longest: 'Longest wait', after_hours: 'After hours', waiting_now: 'Waiting',
      position: 'Position', channel: 'Channel', waited: 'Wait', agent: 'Agent', state: 'State',
      chats_open: 'Open chats', c_voice: 'Call', c_chat: 'Chat', ringing_now: 'ringing',
      nobody_waiting: 'Nobody waiting.',
    },
  };
  var lang = /^en/i.test(navigator.language || '') ? 'en' : 'pt-BR';
  var W = WORDS[lang];
  document.documentElement.lang = lang;
  title = W.title;
  document.title = title;
  document.querySelectorAll('[data-t]').forEach(function (el) {
    el.textContent = W[el.getAttribute('data-t')];
    if (el.tagName === 'OPTION') el.value = el.textContent.toLowerCase();
  });
  document.querySelectorAll('[data-t-label]').forEach(function (el) {
    el.setAttribute('aria-label', W[el.getAttribute('data-t-label')]);
    if (el.title) el.title = W[el.getAttribute('data-t-label')];
  });
  function stateText(s) {
    if (W['s_' + s]) return W['s_' + s];
    var m = /^paused \((.*)\)$/.exec(s || '');
    return m ? W.paused + ' (' + m[1] + ')' : s;
  }
  function showState(s) {
    $('state').textContent = stateText(s);
    $('state').setAttribute('data-state', s);
  }

  function showLogin() { $('login').hidden = false; $('desk').hidden = true; $('ext').focus(); }
  function showDesk() { $('login').hidden = true; $('desk').hidden = false; }

  $('login').addEventListener('submit', function (ev) {
    ev.preventDefault();
    $('login-error').textContent = '';
    post('/desk/login', { ext: $('ext').value.trim(), password: $('password').value })
      .then(function (r) { return r.json().then(function (b) { return { ok: r.ok, body: b }; }); })
      .then(function (r) {
        if (!r.ok) { $('login-error').textContent = r.body.error ? r.body.error.message : W.error; return; }
        $('password').value = '';
        loggedOut = false;
        showDesk();
        connect();
      })
      .catch(function () { $('login-error').textContent = W.no_answer; });
  });
  $('logout').addEventListener('click', function () {
    loggedOut = true;
    post('/desk/logout').finally(function () { if (ws) ws.close(); showLogin(); });
  });
  $('available').addEventListener('click', function () { send({ type: 'available' }); });
  $('pause').addEventListener('click', function () { send({ type: 'pause', reason: $('pause-reason').value }); });

  // The ring: a short two-tone beep every two seconds while an offer waits.
  function ring() {
    if (ringing) return;
    var ctx = null;
    try { ctx = new (window.AudioContext || window.webkitAudioContext)(); } catch (e) { ctx = null; }
    function beep() {
      document.title = document.title === title ? W.ringing_title : title;
      if (!ctx) return;
      [660, 880].forEach(function (f, i) {
        var o = ctx.createOscillator(); var g = ctx.createGain();
        o.frequency.value = f; g.gain.value = 0.08;
        o.connect(g); g.connect(ctx.destination);
        o.start(ctx.currentTime + i * 0.2); o.stop(ctx.currentTime + i * 0.2 + 0.18);
      });
    }
    beep();
    ringing = { timer: setInterval(beep, 2000), ctx: ctx };
    if (window.Notification && Notification.permission === 'granted') {
      try { new Notification(W.new_conversation, { body: W.waiting }); } catch (e) { /* ignore */ }
    }
  }
  function stopRing() {
    if (!ringing || Object.keys(offers).length) return;
    clearInterval(ringing.timer);
    if (ringing.ctx) ringing.ctx.close();
    ringing = null;
    document.title = title;
  }

  function visitorName(v) { return (v && v.name) || W.visitor; }

  function addOffer(f) {
    if (offers[f.offer]) return;
    var div = document.createElement('div');
    div.className = 'offer';
    div.setAttribute('data-offer', String(f.offer));
    div.setAttribute('data-conversation', String(f.conversation));
    var p = document.createElement('p');
    p.textContent = W.from + visitorName(f.visitor) + (f.queue ? ' (' + f.queue + ')' : '');
    var b = document.createElement('button');
    b.type = 'button';
    b.className = 'accept';
    b.textContent = W.accept;
    b.addEventListener('click', function () { send({ type: 'accept', offer: f.offer }); b.disabled = true; });
    div.appendChild(p); div.appendChild(b);
    $('offers').appendChild(div);
    offers[f.offer] = div;
    b.focus();
    ring();
  }
  function dropOffer(id) {
    var el = offers[id];
    if (el && el.parentNode) el.parentNode.removeChild(el);
    delete offers[id];
    stopRing();
  }

  function renderMessage(m) {
    var li = document.createElement('li');
    li.className = 'msg ' + m.from;
    li.setAttribute('data-seq', String(m.seq));
    if (m.from !== 'system') {
      var who = document.createElement('span');
      who.className = 'who';
      who.textContent = m.from === 'agent' ? (m.name || W.you) : visitorName(convs[m.conversation] && convs[m.conversation].info.visitor);
      li.appendChild(who);
    }
    var text = document.createElement('span');
    text.className = 'text';
    text.textContent = m.text;
    li.appendChild(text);
    if (m.attachment) showFile(li, m.attachment);
    return li;
  }

  // A file: a download link and, for an image, its thumbnail (both from
  // ura's own origin, with the desk's session).
  function size(n) {
    if (n >= 1048576) return (n / 1048576).toFixed(1) + ' MB';
    return Math.max(1, Math.round(n / 1024)) + ' KB';
  }
  function showFile(li, a) {
    var url = '/desk/attachments/' + encodeURIComponent(a.id);
    var box = document.createElement('span');
    box.className = 'file';
    var link = document.createElement('a');
    link.href = url;
    link.download = a.name;
    link.textContent = W.download + ' (' + size(a.size) + ')';
    link.setAttribute('aria-label', W.download + ' ' + a.name + ' (' + size(a.size) + ')');
    box.appendChild(link);
    if (/^image\//.test(a.type)) {
      var img = document.createElement('img');
      img.className = 'thumb';
      img.alt = a.name;
      img.src = url;
      box.appendChild(img);
    }
    li.appendChild(box);
  }
  function uploadStatus(text, refused) {
    var el = $('upload-status');
    el.textContent = text || '';
    el.className = refused ? 'refused' : '';
  }
  function sendFile(file) {
    if (current === null) return;
    var x = new XMLHttpRequest();
    x.open('POST', '/desk/conversations/' + encodeURIComponent(current) + '/attachments');
    x.setRequestHeader('Content-Type', file.type || 'application/octet-stream');
    x.setRequestHeader('X-Ura-Desk', '1');
    x.setRequestHeader('X-Ura-Name', encodeURIComponent(file.name));
    x.upload.onprogress = function (ev) {
      if (ev.lengthComputable) uploadStatus(W.uploading + ' ' + Math.round(100 * ev.loaded / ev.total) + '%');
    };
    x.onload = function () {
      if (x.status === 201) { uploadStatus(W.uploaded); return; }
      var e = {};
      try { e = JSON.parse(x.responseText).error || {}; } catch (err) { e = {}; }
      uploadStatus(W[e.code] || (W.upload_failed + (e.message || x.status)), true);
    };
    x.onerror = function () { uploadStatus(W.upload_failed + W.no_answer, true); };
    uploadStatus(W.uploading);
    x.send(file);
  }

  function listEntry(c) {
    if (c.el) return c.el;
    var li = document.createElement('li');
    var b = document.createElement('button');
    b.type = 'button';
    b.className = 'conversation';
    b.setAttribute('data-conversation', String(c.info.conversation));
    b.textContent = visitorName(c.info.visitor);
    b.addEventListener('click', function () { select(c.info.conversation); });
    li.appendChild(b);
    $('conversations').appendChild(li);
    c.el = li;
    return li;
  }

  // What the visitor's page showed of the agent's messages; what this
  // desk showed of the visitor's (sent when the page is in view).
  function markRead(c) {
    if (!c || current !== c.info.conversation) return;
    document.querySelectorAll('#thread .msg.agent[data-seq]').forEach(function (li) {
      if (Number(li.getAttribute('data-seq')) > (c.readByVisitor || 0) || li.querySelector('.read-mark')) return;
      var mark = document.createElement('span');
      mark.className = 'read-mark';
      mark.textContent = '✓ ' + W.read;
      li.appendChild(mark);
    });
  }
  function sendRead() {
    var c = convs[current];
    if (!c || document.visibilityState !== 'visible' || c.lastSeq <= (c.readSent || 0)) return;
    c.readSent = c.lastSeq;
    send({ type: 'read', conversation: current, seq: c.lastSeq });
  }
  document.addEventListener('visibilitychange', sendRead);

  function showHold(c) {
    var on = !!(c && c.onHold);
    $('hold').textContent = on ? W.unhold : W.hold;
    $('hold').setAttribute('aria-pressed', on ? 'true' : 'false');
  }

  function select(id) {
    current = id;
    $('typing').textContent = '';
    var c = convs[id];
    document.querySelectorAll('#conversations button').forEach(function (b) {
      b.setAttribute('aria-current', b.getAttribute('data-conversation') === String(id) ? 'true' : 'false');
    });
    if (!c) { $('current').hidden = true; return; }
    c.el.querySelector('button').classList.remove('unread');
    $('current').hidden = false;
    $('current-title').textContent = visitorName(c.info.visitor);
    var v = c.info.visitor || {};
    $('current-info').textContent = [v.email, v.phone, v.document, c.info.channel, c.info.queue,
      c.info.identified ? W.identified + ' (' + c.info.customer + ')' : null]
      .filter(Boolean).join(' · ');
    showHistory(c);
    var thread = $('thread');
    thread.textContent = '';
    c.messages.forEach(function (m) { thread.appendChild(renderMessage(m)); });
    thread.scrollTop = thread.scrollHeight;
    markRead(c);
    sendRead();
    showHold(c);
    $('reply-text').focus();
  }

  // The customer's earlier conversations (read by ura from its store,
  // over HTTP with this desk's session), each one's messages on demand.
  function when(iso) {
    var d = new Date(iso);
    return isNaN(d) ? iso : d.toLocaleString(lang);
  }
  function historyGet(path) {
    return fetch(path, { credentials: 'same-origin' }).then(function (r) {
      if (!r.ok) throw new Error(String(r.status));
      return r.json();
    });
  }
  function historyEntry(c, h) {
    var li = document.createElement('li');
    var d = document.createElement('details');
    d.className = 'history-entry';
    d.setAttribute('data-record', h.id);
    var s = document.createElement('summary');
    var agent = h.agent ? W.agent_label + ' ' + (h.agent_name ? h.agent_name + ' (' + h.agent + ')' : h.agent) : null;
    s.textContent = [when(h.started_at), h.channel, h.queue, agent, W['o_' + h.outcome] || h.outcome]
      .filter(Boolean).join(' · ');
    var ol = document.createElement('ol');
    ol.className = 'history-thread';
    ol.setAttribute('aria-label', W.messages);
    d.appendChild(s);
    d.appendChild(ol);
    d.addEventListener('toggle', function () {
      if (!d.open || d.getAttribute('data-loaded')) return;
      d.setAttribute('data-loaded', '1');
      ol.textContent = W.history_loading;
      historyGet('/desk/history/' + encodeURIComponent(h.id) + '?conversation=' + c.info.conversation)
        .then(function (r) {
          ol.textContent = '';
          (r.messages || []).forEach(function (m) {
            var item = document.createElement('li');
            item.className = 'msg ' + m.from;
            if (m.from !== 'system') {
              var who = document.createElement('span');
              who.className = 'who';
              who.textContent = m.from === 'agent' ? (m.name || '') : visitorName(h.visitor);
              item.appendChild(who);
            }
            var text = document.createElement('span');
            text.className = 'text';
            text.textContent = m.text;
            item.appendChild(text);
            ol.appendChild(item);
          });
        })
        .catch(function () { ol.textContent = W.history_failed; d.removeAttribute('data-loaded'); });
    });
    li.appendChild(d);
    return li;
  }
  function renderHistory(c) {
    if (current !== c.info.conversation) return;
    var list = $('history-list');
    list.textContent = '';
    var items = (c.history && c.history.items) || [];
    $('history-title').textContent = W.history + (c.history ? ' (' + items.length + ')' : '');
    $('history-status').textContent = !c.history ? W.history_loading
      : c.history.failed ? W.history_failed : (items.length ? '' : W.history_none);
    items.forEach(function (h) { list.appendChild(historyEntry(c, h)); });
  }
  function showHistory(c) {
    $('history').hidden = false;
    renderHistory(c);
    if (c.history && !c.history.failed) return;
    c.history = null;
    renderHistory(c);
    historyGet('/desk/history?conversation=' + c.info.conversation)
      .then(function (r) { c.history = r; renderHistory(c); })
      .catch(function () { c.history = { failed: true, items: [] }; renderHistory(c); });
  }

  function onConversation(f) {
    var c = convs[f.conversation] || { messages: [], lastSeq: 0 };
    c.info = f;
    c.readByVisitor = Math.max(c.readByVisitor || 0, f.read_by_visitor || 0);
    c.onHold = !!f.on_hold;
    convs[f.conversation] = c;
    (f.messages || []).forEach(function (m) { addMessage(m); });
    listEntry(c);
    if (current === null || !convs[current]) select(f.conversation);
  }

  function addMessage(m) {
    var c = convs[m.conversation];
    if (!c || m.seq <= c.lastSeq) return;
    c.lastSeq = m.seq;
    c.messages.push(m);
    if (current === m.conversation) {
      if (m.from === 'visitor') $('typing').textContent = '';
      var thread = $('thread');
      thread.appendChild(renderMessage(m));
      thread.scrollTop = thread.scrollHeight;
      markRead(c);
      if (m.from === 'visitor') sendRead();
    } else if (c.el) {
      c.el.querySelector('button').classList.add('unread');
    }
  }

  function onClosed(id) {
    var c = convs[id];
    if (!c) return;
    if (c.el && c.el.parentNode) c.el.parentNode.removeChild(c.el);
    delete convs[id];
    if (current === id) {
      current = null;
      var next = Object.keys(convs)[0];
      if (next) select(Number(next)); else $('current').hidden = true;
    }
  }

  // Supervisors: every queue and agent, pushed by ura when it changes
  // (the 'live' frame); the waits count up here between frames.
  var liveAt = 0;
  function mmss(s) {
    s = Math.max(0, Math.floor(s));
    var m = Math.floor(s / 60), r = s % 60;
    return (m < 60 ? String(m) : Math.floor(m / 60) + 'h' + String(m % 60).padStart(2, '0')) +
      ':' + String(r).padStart(2, '0');
  }
  function cell(tr, text, cls) {
    var td = document.createElement(tr.childNodes.length ? 'td' : 'th');
    if (!tr.childNodes.length) td.scope = 'row';
    td.textContent = text;
    if (cls) td.className = cls;
    tr.appendChild(td);
    return td;
  }
  function waitCell(tr, s) {
    var td = cell(tr, s === null || s === undefined ? '—' : mmss(s), 'wait');
    if (s !== null && s !== undefined) td.setAttribute('data-waited', String(s));
  }
  function tickWaits() {
    var extra = (Date.now() - liveAt) / 1000;
    document.querySelectorAll('#supervision td[data-waited]').forEach(function (td) {
      td.textContent = mmss(Number(td.getAttribute('data-waited')) + extra);
    });
  }
  function fill(id, rows, cols, empty) {
    var body = document.querySelector('#' + id + ' tbody');
    body.textContent = '';
    if (!rows.length) {
      var tr = document.createElement('tr');
      var td = document.createElement('td');
      td.colSpan = cols;
      td.className = 'none';
      td.textContent = empty || '—';
      tr.appendChild(td);
      body.appendChild(tr);
    }
    rows.forEach(function (tr) { body.appendChild(tr); });
  }
  function onLive(f) {
    liveAt = Date.now();
    $('supervision').hidden = false;
    var queues = [], waiting = [], agents = [];
    (f.queues || []).forEach(function (q) {
      var w = q.waiting || [];
      var tr = document.createElement('tr');
      cell(tr, q.name);
      // The counts are of all; the list is the first in line.
      cell(tr, String(q.calls_waiting));
      cell(tr, String(q.chats_waiting));
      waitCell(tr, q.longest_wait_s);
      cell(tr, String(q.after_hours || 0));
      queues.push(tr);
      w.forEach(function (x) {
        var r = document.createElement('tr');
        r.setAttribute('data-channel', x.channel);
        if (x.conversation !== null && x.conversation !== undefined) r.setAttribute('data-conversation', String(x.conversation));
        cell(r, q.name);
        cell(r, String(x.position));
        cell(r, (x.channel === 'chat' ? W.c_chat + ' #' + x.conversation : W.c_voice) +
          (x.ringing ? ' (' + W.ringing_now + ')' : ''));
        waitCell(r, x.waited_s);
        if (x.waited_s >= 60) r.className = 'long';
        waiting.push(r);
      });
    });
    (f.agents || []).forEach(function (a) {
      var tr = document.createElement('tr');
      tr.setAttribute('data-agent', a.ext);
      tr.setAttribute('data-state', a.state);
      cell(tr, a.name + ' (' + a.ext + ')');
      cell(tr, a.state === 'paused' ? W.paused + (a.reason ? ' (' + a.reason + ')' : '') : stateText(a.state));
      cell(tr, String(a.chats_open || 0));
      agents.push(tr);
    });
    fill('live-queues', queues, 5);
    fill('live-waiting', waiting, 4, W.nobody_waiting);
    fill('live-agents', agents, 3);
  }
  setInterval(function () { if (liveAt) tickWaits(); }, 1000);

  function connect() {
    var url = (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/desk/ws';
    ws = new WebSocket(url);
    ws.onopen = function () { retry = 0; notice(''); };
    ws.onmessage = function (ev) {
      var f;
      try { f = JSON.parse(ev.data); } catch (e) { return; }
      if (f.type === 'hello') {
        me = f;
        var sel = $('transfer-to');
        sel.textContent = '';
        [[W.queues, (f.queues || []).map(function (q) { return [q, q]; })],
          [W.agents, (f.agents || []).map(function (a) { return [a.ext, a.name + ' (' + a.ext + ')']; })]]
          .forEach(function (group) {
            if (!group[1].length) return;
            var og = document.createElement('optgroup');
            og.label = group[0];
            group[1].forEach(function (o) {
              var opt = document.createElement('option');
              opt.value = o[0];
              opt.textContent = o[1];
              og.appendChild(opt);
            });
            sel.appendChild(og);
          });
        $('agent-name').textContent = f.name + ' (' + f.agent + ')';
        showState(f.state);
        $('supervision').hidden = !f.supervisor;
        if (window.Notification && Notification.permission === 'default') {
          try { Notification.requestPermission(); } catch (e) { /* ignore */ }
        }
      } else if (f.type === 'state') {
        showState(f.state);
      } else if (f.type === 'live') {
        onLive(f);
      } else if (f.type === 'supervisor') {
        $('supervision').hidden = !f.on;
        if (!f.on) liveAt = 0;
      } else if (f.type === 'offer') {
        addOffer(f);
      } else if (f.type === 'offer_cancelled') {
        dropOffer(f.offer);
      } else if (f.type === 'conversation') {
        Object.keys(offers).forEach(function (o) {
          var el = offers[o];
          if (el && el.getAttribute('data-conversation') === String(f.conversation)) dropOffer(o);
        });
        onConversation(f);
      } else if (f.type === 'message') {
        addMessage(f);
      } else if (f.type === 'hold') {
        var hc = convs[f.conversation];
        if (hc) { hc.onHold = f.on; if (current === f.conversation) showHold(hc); }
      } else if (f.type === 'read') {
        var rc = convs[f.conversation];
        if (rc) { rc.readByVisitor = Math.max(rc.readByVisitor || 0, f.seq); markRead(rc); }
      } else if (f.type === 'typing') {
        if (f.conversation === current) {
          var c = convs[current];
          $('typing').textContent = visitorName(c && c.info.visitor) + W.typing;
          clearTimeout(typingTimer);
          typingTimer = setTimeout(function () { $('typing').textContent = ''; }, 3000);
        }
      } else if (f.type === 'closed') {
        onClosed(f.conversation);
      } else if (f.type === 'error') {
        notice(f.message);
      }
    };
    ws.onclose = function () {
      ws = null;
      if (loggedOut) return;
      fetch('/desk/session', { credentials: 'same-origin' }).then(function (r) {
        if (r.status === 401) { showLogin(); return; }
        notice(W.reconnecting);
        retry = Math.min(retry + 1, 5);
        setTimeout(connect, Math.min(300 * Math.pow(2, retry), 5000));
      }).catch(function () { setTimeout(connect, 2000); });
    };
  }

  $('reply').addEventListener('submit', function (ev) {
    ev.preventDefault();
    var text = $('reply-text').value;
    if (!text.trim() || current === null) return;
    $('reply-text').value = '';
    send({ type: 'text', conversation: current, text: text });
  });
  $('attach').addEventListener('click', function () { $('reply-file').click(); });
  $('reply-file').addEventListener('change', function () {
    var f = $('reply-file').files[0];
    $('reply-file').value = '';
    if (f) sendFile(f);
  });
  $('reply-text').addEventListener('input', function () {
    if (current === null || Date.now() - typingSent < 2000) return;
    typingSent = Date.now();
    send({ type: 'typing', conversation: current });
  });
  $('reply-text').addEventListener('keydown', function (ev) {
    if (ev.key === 'Enter' && !ev.shiftKey) { ev.preventDefault(); $('reply').requestSubmit(); }
  });
  $('transfer').addEventListener('click', function () {
    if (current !== null && $('transfer-to').value) {
      send({ type: 'transfer', conversation: current, to: $('transfer-to').value });
    }
  });
  $('hold').addEventListener('click', function () {
    var c = convs[current];
    if (c) send({ type: 'hold', conversation: current, on: !c.onHold });
  });
  $('close-conversation').addEventListener('click', function () {
    if (current !== null) send({ type: 'close', conversation: current });
  });

  fetch('/desk/session', { credentials: 'same-origin' })
    .then(function (r) { if (r.ok) { showDesk(); connect(); } else { showLogin(); } })
    .catch(showLogin);
})();
