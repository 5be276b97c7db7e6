// ura web chat: the loader a site pastes in its pages.
//   <script async src="https://URA/chat/widget.js" data-ura-channel="ID"></script>
// It adds a button and, when opened, the chat page of the channel in a
// frame (served by ura, so the site's styles and scripts never mix with it).
// A site that logs its users in passes the token its backend signed for
// the one on the page: data-ura-identity="TOKEN" on the tag, or
// window.uraChat.identify(TOKEN) later (the frame is loaded again). The
// token goes to the chat page in the address's fragment, never to a server
// log.
(function () {
  'use strict';
  var script = document.currentScript;
  if (!script) return;
  var channel = script.getAttribute('data-ura-channel') || '';
  var base = new URL(script.src).origin;
  var identity = script.getAttribute('data-ura-identity') || '';
  function page() {
    return base + '/chat/' + encodeURIComponent(channel) + '?embedded=1' +
      (identity ? '#identity=' + encodeURIComponent(identity) : '');
  }
  var labels = {
    'pt-BR': { open: 'Fale conosco', close: 'Fechar o chat' },
    en: { open: 'Chat with us', close: 'Close the chat' },
    es: { open: 'Hable con nosotros', close: 'Cerrar el chat' },
  };
  var color = /^#[0-9a-fA-F]{3}([0-9a-fA-F]{3})?$/;
  var button = document.createElement('button');
  button.type = 'button';
  button.id = 'ura-chat-button';
  button.setAttribute('aria-expanded', 'false');
  button.textContent = labels['pt-BR'].open;
  var s = button.style;
  s.position = 'fixed'; s.right = '16px'; s.bottom = '16px'; s.zIndex = '2147483000';
  s.padding = '12px 18px'; s.border = '0'; s.borderRadius = '24px';
  s.background = '#1d4ed8'; s.color = '#ffffff'; s.font = '600 15px system-ui, sans-serif';
  s.cursor = 'pointer'; s.boxShadow = '0 2px 8px rgba(0,0,0,.3)';
  var frame = null;
  var words = labels['pt-BR'];
  function open() {
    if (!frame) {
      frame = document.createElement('iframe');
      frame.id = 'ura-chat-frame';
      frame.src = page();
      frame.title = button.getAttribute('data-title') || 'Chat';
      var f = frame.style;
      f.position = 'fixed'; f.right = '16px'; f.bottom = '72px'; f.zIndex = '2147483000';
      f.width = '360px'; f.maxWidth = 'calc(100vw - 32px)';
      f.height = '540px'; f.maxHeight = 'calc(100vh - 96px)';
      f.border = '0'; f.borderRadius = '12px'; f.background = '#fff';
      f.boxShadow = '0 4px 24px rgba(0,0,0,.3)';
      document.body.appendChild(frame);
    }
    frame.hidden = false;
    button.setAttribute('aria-expanded', 'true');
    button.textContent = words.close;
  }
  function close() {
    if (frame) frame.hidden = true;
    button.setAttribute('aria-expanded', 'false');
    button.textContent = words.open;
  }
  button.addEventListener('click', function () {
    if (frame && !frame.hidden) close(); else open();
  });
  function mount() {
    document.body.appendChild(button);
    fetch(base + '/chat/' + encodeURIComponent(channel) + '/settings')
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (cfg) {
        if (!cfg) return;
        words = labels[cfg.language] || words;
        button.textContent = frame && !frame.hidden ? words.close : (cfg.title || words.open);
        words = { open: cfg.title || words.open, close: words.close };
        button.setAttribute('data-title', cfg.title || 'Chat');
        if (cfg.colors && color.test(cfg.colors.button)) s.background = cfg.colors.button;
        if (cfg.auto_open) open();
      })
      .catch(function () {});
  }
  window.uraChat = window.uraChat || {};
  window.uraChat.identify = function (token) {
    identity = typeof token === 'string' ? token : '';
    if (frame) frame.src = page();
  };
  if (document.body) mount(); else document.addEventListener('DOMContentLoaded', mount);
})();
