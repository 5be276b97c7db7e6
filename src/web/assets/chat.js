// ura web chat: the visitor's page (the direct test URL, and what the
// widget shows in its frame). Messages are shown as text, never as HTML.
// The socket reconnects by itself and resumes after the last message
// shown; messages not yet confirmed are sent again with the same id, so
// nothing is lost and nothing is shown twice.
(function () {
  'use strict';
  var channel = decodeURIComponent(location.pathname.split('/')[2] || '');
  var storeKey = 'ura-chat:' + channel;
  var T = {
    'pt-BR': {
      title: 'Atendimento', intro: 'Para começar, conte-nos quem é você.',
      name: 'Nome', email: 'E-mail', phone: 'Telefone', document: 'Documento (CPF)',
      optional: '(opcional)', start: 'Iniciar conversa', send: 'Enviar', message: 'Mensagem',
      log: 'Mensagens', end: 'Encerrar', you: 'Você', required: 'Preencha: ',
      unavailable: 'O chat não está disponível agora.', reconnecting: 'Reconectando…',
      closed: 'Conversa encerrada.', again: 'Nova conversa', busy: 'Muitas conversas agora: tente de novo em instantes.',
      sending: 'enviando…', typing: 'está digitando…', agent: 'O atendente', read: 'lida',
      afterHours: 'Fora do horário: sua conversa fica guardada até abrirmos.',
      attach: 'Anexar arquivo', uploading: 'Enviando arquivo…', uploaded: 'Arquivo enviado.',
      too_large: 'Arquivo grande demais: o máximo é ', type_not_allowed: 'Este tipo de arquivo não é aceito. Aceitos: ',
      content_mismatch: 'O conteúdo do arquivo não corresponde ao tipo dele.', upload_failed: 'O arquivo não foi enviado: ',
      download: 'Baixar',
      identity: 'Não foi possível confirmar quem você é; a conversa não foi iniciada. Você pode iniciar sem identificação.',
      survey: 'Como foi o atendimento?', scores: ['Péssimo', 'Ruim', 'Regular', 'Bom', 'Ótimo'],
      comment: 'Comentário (opcional)', rate: 'Enviar avaliação', pick: 'Escolha uma nota de 1 a 5.',
      thanks: 'Obrigado pela avaliação!', rateFailed: 'Não foi possível enviar a avaliação.',
    },
    en: {
      title: 'Chat', intro: 'To start, tell us who you are.',
      name: 'Name', email: 'E-mail', phone: 'Phone', document: 'Document',
      optional: '(optional)', start: 'Start chatting', send: 'Send', message: 'Message',
      log: 'Messages', end: 'End chat', you: 'You', required: 'Please fill in: ',
      unavailable: 'The chat is not available now.', reconnecting: 'Reconnecting…',
      closed: 'The conversation has ended.', again: 'New conversation', busy: 'Too many conversations now: try again in a moment.',
      sending: 'sending…', typing: 'is typing…', agent: 'The agent', read: 'read',
      afterHours: 'Closed now: your conversation is kept until we open.',
      attach: 'Attach a file', uploading: 'Sending the file…', uploaded: 'File sent.',
      too_large: 'The file is too large: the most is ', type_not_allowed: 'This kind of file is not accepted. Accepted: ',
      content_mismatch: 'The file\'s content does not match its type.', upload_failed: 'The file was not sent: ',
      download: 'Download',
      identity: 'We could not confirm who you are; the conversation was not started. You may start without it.',
      survey: 'How was our service?', scores: ['Very bad', 'Bad', 'Fair', 'Good', 'Excellent'],
      comment: 'Comment (optional)', rate: 'Send rating', pick: 'Choose a score from 1 to 5.',
      thanks: 'Thank you for your rating!', rateFailed: 'The rating could not be sent.',
    },
    es: {
      title: 'Atención', intro: 'Para empezar, díganos quién es usted.',
      name: 'Nombre', email: 'Correo electrónico', phone: 'Teléfono', document: 'Documento',
      optional: '(opcional)', start: 'Iniciar conversación', send: 'Enviar', message: 'Mensaje',
      log: 'Mensajes', end: 'Finalizar', you: 'Usted', required: 'Complete: ',
      unavailable: 'El chat no está disponible ahora.', reconnecting: 'Reconectando…',
      closed: 'Conversación finalizada.', again: 'Nueva conversación', busy: 'Demasiadas conversaciones: inténtelo en un momento.',
      sending: 'enviando…', typing: 'está escribiendo…', agent: 'El agente', read: 'leído',
      afterHours: 'Fuera de horario: su conversación queda guardada hasta que abramos.',
      attach: 'Adjuntar archivo', uploading: 'Enviando archivo…', uploaded: 'Archivo enviado.',
      too_large: 'El archivo es demasiado grande: el máximo es ', type_not_allowed: 'Este tipo de archivo no se acepta. Se aceptan: ',
      content_mismatch: 'El contenido del archivo no corresponde a su tipo.', upload_failed: 'El archivo no se envió: ',
      download: 'Descargar',
      identity: 'No pudimos confirmar quién es usted; la conversación no se inició. Puede iniciarla sin identificación.',
      survey: '¿Cómo fue la atención?', scores: ['Muy mala', 'Mala', 'Regular', 'Buena', 'Excelente'],
      comment: 'Comentario (opcional)', rate: 'Enviar evaluación', pick: 'Elija una nota de 1 a 5.',
      thanks: '¡Gracias por su evaluación!', rateFailed: 'No se pudo enviar la evaluación.',
    },
  };
  var t = T['pt-BR'];
  var $ = function (id) { return document.getElementById(id); };
  var cfg = null;
  var ws = null;
  var token = null;
  var lastSeq = 0;
  var phase = null;
  var outbox = [];            // {client_id, text, el}
  var retry = 0;
  var retryTimer = null;
  var color = /^#[0-9a-fA-F]{3}([0-9a-fA-F]{3})?$/;
  var typingTimer = null;
  var typingSent = 0;
  var readSent = 0;
  var readByAgent = 0;
  // The site's signed token for its logged-in user (from the widget, in
  // the fragment, which stays for "new conversation"): sent with start;
  // ura checks it.
  var identity = (/(?:^#|&)identity=([^&]*)/.exec(location.hash) || [])[1] || '';
  try { identity = decodeURIComponent(identity); } catch (e) { identity = ''; }

  // What the token says (for the form only: ura verifies the signature).
  function claims(token) {
    try {
      var part = token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
      var bytes = Uint8Array.from(atob(part), function (ch) { return ch.charCodeAt(0); });
      var c = JSON.parse(new TextDecoder().decode(bytes));
      return c && typeof c === 'object' ? c : {};
    } catch (e) { return {}; }
  }
  // The fields the identity fills are shown filled and read-only.
  function fillFromIdentity() {
    var c = identity ? claims(identity) : {};
    document.querySelectorAll('.field input').forEach(function (input) {
      var v = typeof c[input.name] === 'string' ? c[input.name] : '';
      if (v) input.value = v;
      input.readOnly = !!v;
    });
  }
  var rated = false;

  // Read marks: the agent's desk showed our messages up to readByAgent.
  function markRead() {
    document.querySelectorAll('#messages .msg.visitor[data-seq]').forEach(function (li) {
      if (Number(li.getAttribute('data-seq')) > readByAgent || li.querySelector('.read-mark')) return;
      var mark = document.createElement('span');
      mark.className = 'read-mark';
      mark.textContent = '✓ ' + t.read;
      li.appendChild(mark);
    });
  }
  // Tells the agent what this page showed (when it is in view).
  function sendRead() {
    if (document.visibilityState !== 'visible' || lastSeq <= readSent) return;
    if (send({ type: 'read', seq: lastSeq })) readSent = lastSeq;
  }
  document.addEventListener('visibilitychange', sendRead);

  function saved() {
    try { return JSON.parse(localStorage.getItem(storeKey) || 'null'); } catch (e) { return null; }
  }
  function save() {
    try {
      if (token) localStorage.setItem(storeKey, JSON.stringify({ token: token }));
      else localStorage.removeItem(storeKey);
    } catch (e) { /* storage refused: the conversation lasts as long as the page */ }
  }
  function newId() {
    var a = new Uint8Array(12);
    crypto.getRandomValues(a);
    return Array.prototype.map.call(a, function (b) { return ('0' + b.toString(16)).slice(-2); }).join('');
  }
  function notice(text) {
    var n = $('notice');
    n.textContent = text || '';
    n.hidden = !text;
  }

  function applySettings() {
    t = T[cfg.language] || t;
    document.documentElement.lang = cfg.language;
    var root = document.documentElement.style;
    var c = cfg.colors || {};
    if (color.test(c.background)) root.setProperty('--bg', c.background);
    if (color.test(c.font)) root.setProperty('--fg', c.font);
    if (color.test(c.visitor_message)) root.setProperty('--mine', c.visitor_message);
    if (color.test(c.button)) root.setProperty('--button', c.button);
    $('title').textContent = cfg.title || t.title;
    document.title = cfg.title || t.title;
    $('subtitle').textContent = cfg.subtitle || '';
    $('prechat-intro').textContent = t.intro;
    $('start').textContent = t.start;
    $('send').textContent = t.send;
    $('text-label').textContent = t.message;
    $('messages').setAttribute('aria-label', t.log);
    $('end').textContent = t.end;
    $('attach-label').textContent = t.attach;
    $('attach').title = t.attach;
    var rules = cfg.attachments || { types: [] };
    $('attach').hidden = !(rules.types && rules.types.length);
    $('file').setAttribute('accept', (rules.types || []).join(','));
    $('survey-legend').textContent = t.survey;
    $('survey-comment-label').textContent = t.comment;
    $('survey-send').textContent = t.rate;
    for (var i = 1; i <= 5; i++) {
      document.querySelector('label[for="score-' + i + '"]').textContent = i + ' – ' + t.scores[i - 1];
    }
    document.querySelectorAll('.field').forEach(function (div) {
      var name = div.getAttribute('data-field');
      var rule = (cfg.fields || {})[name] || 'off';
      var input = div.querySelector('input');
      var label = div.querySelector('label');
      div.hidden = rule === 'off';
      input.required = rule === 'required';
      label.textContent = t[name] + (rule === 'optional' ? ' ' + t.optional : '');
    });
  }

  function showForm() {
    $('prechat').hidden = false;
    $('conversation').hidden = true;
    $('end').hidden = true;
    var first = document.querySelector('.field:not([hidden]) input');
    if (first) first.focus();
  }
  function showConversation() {
    $('prechat').hidden = true;
    $('conversation').hidden = false;
    $('end').hidden = phase === 'closed';
  }

  function addMessage(m) {
    if (m.seq <= lastSeq) return;          // already shown
    lastSeq = m.seq;
    if (m.from === 'agent') $('typing').textContent = '';
    if (m.client_id) {
      outbox = outbox.filter(function (p) {
        if (p.client_id !== m.client_id) return true;
        if (p.el && p.el.parentNode) p.el.parentNode.removeChild(p.el);
        return false;
      });
    }
    var li = document.createElement('li');
    li.className = 'msg ' + m.from;
    li.setAttribute('data-seq', String(m.seq));
    if (m.from !== 'system') {
      var who = document.createElement('span');
      who.className = 'who';
      who.textContent = m.from === 'visitor' ? t.you : (m.name || '');
      li.appendChild(who);
    }
    var p = document.createElement('span');
    p.className = 'text';
    p.textContent = m.text;
    li.appendChild(p);
    if (m.attachment) showFile(li, m.attachment);
    var list = $('messages');
    var firstPending = list.querySelector('.pending');
    list.insertBefore(li, firstPending);
    list.scrollTop = list.scrollHeight;
  }

  // Files: fetched with the conversation's token (never in an address),
  // shown as a thumbnail (images) and saved on a click.
  function fileUrl(a) {
    return '/chat/' + encodeURIComponent(channel) + '/attachments/' + encodeURIComponent(a.id);
  }
  function fetchFile(a) {
    return fetch(fileUrl(a), { headers: { 'X-Ura-Conversation': token || '' } })
      .then(function (r) { if (!r.ok) throw new Error(String(r.status)); return r.blob(); });
  }
  function size(n) {
    if (n >= 1048576) return (n / 1048576).toFixed(1) + ' MB';
    return Math.max(1, Math.round(n / 1024)) + ' KB';
  }
  function showFile(li, a) {
    var box = document.createElement('span');
    box.className = 'file';
    var b = document.createElement('button');
    b.type = 'button';
    b.textContent = t.download + ' (' + size(a.size) + ')';
    b.setAttribute('aria-label', t.download + ' ' + a.name + ' (' + size(a.size) + ')');
    b.addEventListener('click', function () {
      fetchFile(a).then(function (blob) {
        var link = document.createElement('a');
        link.href = URL.createObjectURL(blob);
        link.download = a.name;
        document.body.appendChild(link);
        link.click();
        setTimeout(function () { URL.revokeObjectURL(link.href); link.remove(); }, 1000);
      }).catch(function (e) { uploadStatus(t.upload_failed + e.message, true); });
    });
    box.appendChild(b);
    li.appendChild(box);
    if (/^image\//.test(a.type)) {
      fetchFile(a).then(function (blob) {
        var img = document.createElement('img');
        img.className = 'thumb';
        img.alt = a.name;
        img.src = URL.createObjectURL(blob);
        box.appendChild(img);
      }).catch(function () { /* the link stays */ });
    }
  }
  function uploadStatus(text, refused) {
    var el = $('upload-status');
    el.textContent = text || '';
    el.className = refused ? 'refused' : '';
  }
  function refusalText(code, message) {
    var rules = (cfg && cfg.attachments) || { types: [], max_bytes: 0 };
    if (code === 'too_large') return t.too_large + size(rules.max_bytes) + '.';
    if (code === 'type_not_allowed') return t.type_not_allowed + rules.types.join(', ') + '.';
    if (code === 'content_mismatch') return t.content_mismatch;
    return t.upload_failed + (message || code);
  }
  function sendFile(file) {
    var rules = (cfg && cfg.attachments) || { types: [], max_bytes: 0 };
    if (!token) return;
    if (rules.types.indexOf(file.type) < 0) { uploadStatus(refusalText('type_not_allowed'), true); return; }
    if (file.size > rules.max_bytes) { uploadStatus(refusalText('too_large'), true); return; }
    var x = new XMLHttpRequest();
    x.open('POST', '/chat/' + encodeURIComponent(channel) + '/attachments');
    x.setRequestHeader('Content-Type', file.type);
    x.setRequestHeader('X-Ura-Conversation', token);
    x.setRequestHeader('X-Ura-Name', encodeURIComponent(file.name));
    x.setRequestHeader('X-Ura-Client-Id', newId());
    x.upload.onprogress = function (ev) {
      if (ev.lengthComputable) uploadStatus(t.uploading + ' ' + Math.round(100 * ev.loaded / ev.total) + '%');
    };
    x.onload = function () {
      if (x.status === 201) { uploadStatus(t.uploaded); return; }
      var e = {};
      try { e = JSON.parse(x.responseText).error || {}; } catch (err) { e = {}; }
      uploadStatus(refusalText(e.code || String(x.status), e.message), true);
    };
    x.onerror = function () { uploadStatus(t.upload_failed + t.reconnecting, true); };
    uploadStatus(t.uploading);
    x.send(file);
  }

  function setStatus(s) {
    phase = s.phase;
    var line = '';
    if (s.phase === 'waiting' && s.position_text) line = s.position_text;
    if (s.phase === 'after_hours') line = t.afterHours;
    if (s.phase === 'closed') line = t.closed;
    $('status').textContent = line;
    $('end').hidden = s.phase === 'closed';
    $('text').disabled = s.phase === 'closed';
    $('send').disabled = s.phase === 'closed';
    $('attach').disabled = s.phase === 'closed';
    var offer = s.phase === 'closed' && !!s.survey && !rated;
    $('composer').hidden = offer;          // room for the survey
    if (offer && $('survey').hidden) {
      $('survey').hidden = false;
      $('score-' + 5).focus();
    } else if (!offer) {
      $('survey').hidden = true;
    }
    if (s.phase === 'closed') {
      token = null;
      save();
      var again = $('again');
      if (!again) {
        again = document.createElement('button');
        again.type = 'button';
        again.id = 'again';
        again.textContent = t.again;
        again.addEventListener('click', function () { location.reload(); });
        $('status').after(again);
      }
    }
  }

  function send(frame) {
    if (ws && ws.readyState === 1) { ws.send(JSON.stringify(frame)); return true; }
    return false;
  }

  function flushOutbox() {
    outbox.forEach(function (p) { send({ type: 'text', text: p.text, client_id: p.client_id }); });
  }

  function connect(hello) {
    clearTimeout(retryTimer);
    var url = (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host +
      '/chat/' + encodeURIComponent(channel) + '/ws';
    ws = new WebSocket(url);
    ws.onopen = function () {
      retry = 0;
      notice('');
      ws.send(JSON.stringify(hello()));
    };
    ws.onmessage = function (ev) {
      var f;
      try { f = JSON.parse(ev.data); } catch (e) { return; }
      if (f.type === 'started') {
        token = f.conversation; save(); showConversation(); $('text').focus();
      } else if (f.type === 'resumed') {
        showConversation();
        (f.messages || []).forEach(addMessage);
        readByAgent = Math.max(readByAgent, f.read_by_agent || 0);
        markRead();
        readSent = 0;
        sendRead();
        flushOutbox();
      } else if (f.type === 'message') {
        addMessage(f);
        if (f.from !== 'visitor') sendRead();
        markRead();
      } else if (f.type === 'read') {
        readByAgent = Math.max(readByAgent, f.seq);
        markRead();
      } else if (f.type === 'status') {
        setStatus(f);
      } else if (f.type === 'typing') {
        $('typing').textContent = (f.name || t.agent) + ' ' + t.typing;
        clearTimeout(typingTimer);
        typingTimer = setTimeout(function () { $('typing').textContent = ''; }, 3000);
      } else if (f.type === 'rated') {
        rated = true;
        $('survey').hidden = true;
        $('survey-thanks').textContent = t.thanks;
        $('survey-thanks').hidden = false;
      } else if (f.type === 'error') {
        onError(f);
      }
    };
    ws.onclose = function () {
      ws = null;
      if (!token) return;                  // nothing to resume
      notice(t.reconnecting);
      retry = Math.min(retry + 1, 6);
      retryTimer = setTimeout(resume, Math.min(250 * Math.pow(2, retry), 5000));
    };
  }

  function onError(f) {
    if (!$('survey').hidden && (f.field === 'score' || f.field === 'comment' ||
        ['no_survey', 'already_rated', 'survey_over'].indexOf(f.code) >= 0)) {
      if (f.code === 'invalid_field') {
        $('survey-error').textContent = f.field === 'score' ? t.pick : t.rateFailed + ' ' + (f.message || '');
      } else {
        $('survey').hidden = true;
        $('survey-thanks').textContent = t.rateFailed + ' ' + (f.message || '');
        $('survey-thanks').hidden = false;
      }
      return;
    }
    if (f.code === 'unknown_conversation') {
      token = null; save(); lastSeq = 0; $('messages').textContent = ''; outbox = [];
      showForm();
    } else if (f.code === 'identity_refused') {
      // Refused: nothing started. The visitor may start without it.
      identity = '';
      if (ws) ws.close();
      fillFromIdentity();
      notice(t.identity);
      showForm();
    } else if (f.code === 'invalid_field') {
      $('prechat-error').textContent = t.required + (t[f.field] || f.field);
      showForm();
    } else if (f.code === 'unavailable') {
      notice(t.unavailable);
    } else if (f.code === 'busy' && !token) {
      notice(t.busy);
    } else if ((f.code === 'busy' || f.code === 'too_fast') && f.client_id) {
      setTimeout(flushOutbox, 1000);       // sent again with the same id
    } else if (f.client_id) {
      // Refused for good (too long, closed): not pending any more.
      outbox = outbox.filter(function (p) {
        if (p.client_id !== f.client_id) return true;
        if (p.el && p.el.parentNode) p.el.parentNode.removeChild(p.el);
        return false;
      });
      notice(f.message);
    } else {
      notice(f.message);
    }
  }

  function resume() {
    connect(function () { return { type: 'resume', conversation: token, last_seq: lastSeq }; });
  }

  $('prechat').addEventListener('submit', function (ev) {
    ev.preventDefault();
    var fields = {};
    var missing = null;
    document.querySelectorAll('.field:not([hidden]) input').forEach(function (input) {
      var v = input.value.trim();
      if (input.required && !v && !missing) missing = input;
      if (v) fields[input.name] = v;
    });
    if (missing) {
      $('prechat-error').textContent = t.required + t[missing.name];
      missing.focus();
      return;
    }
    $('prechat-error').textContent = '';
    connect(function () {
      var start = { type: 'start', fields: fields };
      if (identity) start.identity = identity;
      return start;
    });
  });

  $('composer').addEventListener('submit', function (ev) {
    ev.preventDefault();
    var text = $('text').value;
    if (!text.trim()) return;
    $('text').value = '';
    var li = document.createElement('li');
    li.className = 'msg visitor pending';
    var who = document.createElement('span');
    who.className = 'who';
    who.textContent = t.you + ' — ' + t.sending;
    li.appendChild(who);
    var p = document.createElement('span');
    p.className = 'text';
    p.textContent = text;
    li.appendChild(p);
    $('messages').appendChild(li);
    var item = { client_id: newId(), text: text, el: li };
    outbox.push(item);
    send({ type: 'text', text: text, client_id: item.client_id });
  });
  $('text').addEventListener('input', function () {
    // At most one "typing" every two seconds, and only with an agent.
    if (phase !== 'connected' || Date.now() - typingSent < 2000) return;
    typingSent = Date.now();
    send({ type: 'typing' });
  });
  $('text').addEventListener('keydown', function (ev) {
    if (ev.key === 'Enter' && !ev.shiftKey) {
      ev.preventDefault();
      $('composer').requestSubmit();
    }
  });
  $('end').addEventListener('click', function () { send({ type: 'close' }); });
  $('attach').addEventListener('click', function () { $('file').click(); });
  $('file').addEventListener('change', function () {
    var f = $('file').files[0];
    $('file').value = '';
    if (f) sendFile(f);
  });

  $('survey').addEventListener('submit', function (ev) {
    ev.preventDefault();
    var picked = document.querySelector('#survey input[name=score]:checked');
    if (!picked) {
      $('survey-error').textContent = t.pick;
      $('score-1').focus();
      return;
    }
    $('survey-error').textContent = '';
    var frame = { type: 'rate', score: Number(picked.value) };
    var comment = $('survey-comment').value.trim();
    if (comment) frame.comment = comment;
    if (!send(frame)) $('survey-error').textContent = t.rateFailed;
  });

  fetch('/chat/' + encodeURIComponent(channel) + '/settings')
    .then(function (r) { return r.json(); })
    .then(function (c) {
      cfg = c;
      applySettings();
      $('chat').setAttribute('aria-busy', 'false');
      if (!cfg.enabled) { notice(t.unavailable); return; }
      var s = saved();
      if (s && s.token) { token = s.token; showConversation(); resume(); } else { fillFromIdentity(); showForm(); }
    })
    .catch(function () { notice(t.unavailable); });
})();
