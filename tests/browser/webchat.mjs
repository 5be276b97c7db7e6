// The web chat in Debian's Chromium (never a downloaded browser): a
// visitor on a page of another site opens the widget from the activation
// snippet, fills the pre-chat form, picks a service in the text menu and
// sees the position; an agent logged in at the desk (a second browser
// context, on a phone-sized screen) gets the conversation ringing and
// takes it; they talk; HTML in a message is shown as text; the visitor
// leaves and comes back mid-conversation and sees every message once; the
// agent closes and the visitor sees the closing message, then rates the
// conversation (the survey, with the keyboard). They exchange files: a
// picture from the visitor (thumbnails on both pages), a PDF from the
// agent (downloaded by the visitor), and a refused one. The demo's agent
// is a supervisor: the desk's queue table shows the conversation waiting,
// then the agents table shows it taken.
//
//   node webchat.mjs http://127.0.0.1:PORT EXT PASSWORD [IDENTITY]
//
// With IDENTITY (a token signed with the channel's identity secret, no
// name or e-mail in it) the site's tag carries it: after the close the
// visitor starts again as the same customer, and the agent sees the first
// conversation in the desk's history.
//
// With URA_SHOTS=DIR it also leaves screenshots of both pages there.
//
// Prints one line per step and a summary; exits 0 only when all is well.
import { chromium } from 'playwright-core';
import { createServer } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const [base, ext, password, identity] = process.argv.slice(2);
if (!base || !base.startsWith('http://127.0.0.1:') || !ext || !password) {
  console.error('usage: node webchat.mjs http://127.0.0.1:PORT EXT PASSWORD');
  process.exit(2);
}
const T = 20000;
const step = (s) => console.log(`step: ${s}`);

// The customer's site: another origin, with the activation snippet.
const site = createServer((req, res) => {
  res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
  res.end(`<!doctype html><html lang="pt-BR"><head><meta charset="utf-8"><title>Loja</title></head>
<body><h1>Loja de teste</h1><p>Uma página qualquer de um cliente.</p>
<script async src="${base}/chat/widget.js" data-ura-channel="site"${identity ? ` data-ura-identity="${identity}"` : ''}></script></body></html>`);
});
await new Promise((ok) => site.listen(0, '127.0.0.1', ok));
const siteUrl = `http://127.0.0.1:${site.address().port}/`;

const userDataDir = mkdtempSync(join(tmpdir(), 'ura-webchat-chromium-'));
const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  headless: true,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', '--autoplay-policy=no-user-gesture-required'],
});
const requests = [];
const errors = [];
let ok = true;
const fail = (why) => { console.log(`FAILED: ${why}`); ok = false; };
const XSS = '<img src=x onerror="window.__xss=1"><script>window.__xss=1</script> & <b>negrito</b>';

try {
  const visitorCtx = await browser.newContext({ viewport: { width: 1000, height: 800 } });
  const deskCtx = await browser.newContext({ viewport: { width: 390, height: 844 }, locale: 'pt-BR' });
  for (const c of [visitorCtx, deskCtx]) c.on('request', (r) => requests.push(r.url()));
  const visitor = await visitorCtx.newPage();
  visitor.on('pageerror', (e) => errors.push(`visitor: ${e}`));
  const desk = await deskCtx.newPage();
  desk.on('pageerror', (e) => errors.push(`desk: ${e}`));

  // 1. The visitor opens the widget from the snippet and fills the form.
  await visitor.goto(siteUrl, { waitUntil: 'load', timeout: T });
  const button = visitor.locator('#ura-chat-button');
  await button.waitFor({ timeout: T });
  await visitor.waitForFunction(() => document.querySelector('#ura-chat-button').textContent === 'Fale conosco', null, { timeout: T });
  await button.click();
  const chat = visitor.frameLocator('#ura-chat-frame');
  await chat.getByLabel('Nome').fill('Maria Silva', { timeout: T });
  await chat.getByLabel('E-mail (opcional)').fill('maria@example.com');
  await chat.locator('#start').click();
  await chat.locator('#messages .msg', { hasText: 'Digite 1 para vendas, 2 para suporte.' }).waitFor({ timeout: T });
  step('pre-chat form sent; the text menu is shown');

  // 2. An invalid option, then the service.
  await chat.getByLabel('Mensagem').fill('quero comprar');
  await chat.getByLabel('Mensagem').press('Enter');
  await chat.locator('#messages .msg', { hasText: 'Opção inválida.' }).waitFor({ timeout: T });
  await chat.getByLabel('Mensagem').fill('1');
  await chat.locator('#send').click();
  await chat.locator('#status', { hasText: 'Você é o próximo a ser atendido.' }).waitFor({ timeout: T });
  step('service chosen; the position is shown');

  // 3. The agent logs in at the desk; the conversation rings there.
  await desk.goto(`${base}/desk`, { waitUntil: 'load', timeout: T });
  await desk.getByLabel('Ramal').fill(ext);
  await desk.getByLabel('Senha').fill(password);
  await desk.getByLabel('Senha').press('Enter');
  // Logged in: the state shows (available, or already ringing).
  await desk.locator('#state', { hasText: /Disponível|Tocando/ }).waitFor({ timeout: T });
  const offer = desk.locator('.offer', { hasText: 'Maria Silva' });
  await offer.waitFor({ timeout: T });
  if (!(await desk.title()).includes('Nova conversa') && !(await desk.title()).includes('ura')) fail('the desk title does not ring');
  // The demo's 2001 is a supervisor: the queue table (named by its
  // caption) shows the waiting conversation, on a phone-sized screen.
  const waitingRow = desk.getByRole('table', { name: 'Em espera' })
    .locator('tbody tr[data-channel="chat"]', { hasText: 'vendas' });
  await waitingRow.waitFor({ timeout: T });
  if (!(await waitingRow.textContent()).includes('Chat #')) fail(`the waiting row says ${await waitingRow.textContent()}`);
  if ((await desk.getByRole('columnheader', { name: 'Espera', exact: true }).count()) !== 1) fail('no header for the wait');
  if (!(await desk.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth))) fail('the desk is wider than the phone');
  if (process.env.URA_SHOTS) await desk.locator('#supervision').screenshot({ path: join(process.env.URA_SHOTS, 'desk-queues.png') });
  step('the supervisor\'s queue table shows the waiting conversation');
  await offer.getByRole('button', { name: 'Atender' }).click();
  await desk.locator('#state', { hasText: 'Em atendimento' }).waitFor({ timeout: T });
  await waitingRow.waitFor({ state: 'detached', timeout: T });
  await desk.locator(`#live-agents tr[data-agent="${ext}"] td:nth-child(3)`, { hasText: /^1$/ }).waitFor({ timeout: T });
  step('taken: out of the queue table, one open chat in the agents table');
  await desk.locator('#thread .msg', { hasText: 'quero comprar' }).waitFor({ timeout: T });
  await chat.locator('#messages .msg', { hasText: 'Você está sendo atendido por' }).waitFor({ timeout: T });
  step('the agent took the conversation and sees what was said before');

  // 4. They talk; HTML is shown as text on both sides.
  await desk.getByLabel('Resposta').fill('Olá Maria! Em que posso ajudar?');
  await chat.locator('#typing', { hasText: 'está digitando…' }).waitFor({ timeout: T });
  await desk.getByLabel('Resposta').press('Enter');
  await chat.locator('#messages .msg.agent', { hasText: 'Olá Maria! Em que posso ajudar?' }).waitFor({ timeout: T });
  await chat.getByLabel('Mensagem').fill(XSS);
  await chat.getByLabel('Mensagem').press('Enter');
  const shown = desk.locator('#thread .msg.visitor .text', { hasText: 'negrito' });
  await shown.waitFor({ timeout: T });
  if ((await shown.textContent()) !== XSS) fail(`the desk shows ${await shown.textContent()}`);
  if ((await desk.locator('#thread img, #thread b, #thread script').count()) !== 0) fail('markup rendered at the desk');
  const visitorXss = chat.locator('#messages .msg.visitor:not(.pending) .text', { hasText: 'negrito' });
  await visitorXss.waitFor({ timeout: T });
  if ((await visitorXss.textContent()) !== XSS) fail('the visitor sees other text');
  if ((await chat.locator('#messages img, #messages b, #messages script').count()) !== 0) fail('markup rendered for the visitor');
  if (await desk.evaluate(() => window.__xss) !== undefined) fail('script ran at the desk');
  // On hold and back, from the desk's button.
  await desk.getByRole('button', { name: 'Em espera' }).click();
  await chat.locator('#messages .msg.system', { hasText: 'Você foi colocado em espera' }).waitFor({ timeout: T });
  await desk.getByRole('button', { name: 'Retomar' }).click();
  await chat.locator('#messages .msg.system', { hasText: 'O atendente retomou a conversa.' }).waitFor({ timeout: T });
  // Read marks: each side's page showed the other's messages.
  await chat.locator('#messages .msg.visitor .read-mark').first().waitFor({ timeout: T });
  await desk.locator('#thread .msg.agent .read-mark').first().waitFor({ timeout: T });
  step('messages exchanged (typing shown, read marks); HTML shown as text');

  // 4b. Files: the visitor attaches a picture with the paperclip (from the
  //     keyboard); both pages show its thumbnail from ura; the agent sends
  //     a PDF with the desk's paperclip and the visitor downloads it; a
  //     file whose content is not its type is refused, said as text.
  const PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==', 'base64');
  const PDF = Buffer.from('%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n', 'latin1');
  const chooseFile = async (page, button, file) => {
    const [chooser] = await Promise.all([page.waitForEvent('filechooser', { timeout: T }), button.press('Enter')]);
    await chooser.setFiles(file);
  };
  await chooseFile(visitor, chat.getByRole('button', { name: 'Anexar arquivo' }), { name: 'foto do pedido.png', mimeType: 'image/png', buffer: PNG });
  const loaded = (img) => img.evaluate((el) => el.complete && el.naturalWidth > 0);
  const deskThumb = desk.locator('#thread .msg.visitor img.thumb[alt="foto do pedido.png"]');
  await deskThumb.waitFor({ timeout: T });
  await desk.waitForFunction(() => { const i = document.querySelector('#thread img.thumb'); return i && i.complete && i.naturalWidth > 0; }, null, { timeout: T });
  const visitorThumb = chat.locator('#messages .msg.visitor img.thumb');
  await visitorThumb.waitFor({ timeout: T });
  if (!(await loaded(visitorThumb))) fail('the visitor\'s thumbnail did not load');
  await chat.locator('#upload-status', { hasText: 'Arquivo enviado.' }).waitFor({ timeout: T });
  step('the visitor attached a picture; both pages show its thumbnail');
  await chooseFile(desk, desk.getByRole('button', { name: 'Anexar arquivo' }), { name: 'boleto.pdf', mimeType: 'application/pdf', buffer: PDF });
  const pdfButton = chat.locator('#messages .msg.agent .file button', { hasText: 'Baixar' });
  await pdfButton.waitFor({ timeout: T });
  const [download] = await Promise.all([visitor.waitForEvent('download', { timeout: T }), pdfButton.click()]);
  if (download.suggestedFilename() !== 'boleto.pdf') fail(`the visitor downloaded ${download.suggestedFilename()}`);
  const path = await download.path();
  const got = path ? (await import('node:fs')).readFileSync(path) : Buffer.alloc(0);
  if (!got.equals(PDF)) fail(`the downloaded PDF has ${got.length} bytes, not ${PDF.length}`);
  step('the agent sent a PDF; the visitor downloaded it whole');
  await chooseFile(visitor, chat.getByRole('button', { name: 'Anexar arquivo' }), { name: 'nota.png', mimeType: 'image/png', buffer: Buffer.from('<!doctype html><script>alert(1)</script>') });
  await chat.locator('#upload-status', { hasText: 'O conteúdo do arquivo não corresponde ao tipo dele.' }).waitFor({ timeout: T });
  if ((await desk.locator('#thread .msg .text', { hasText: 'nota.png' }).count()) !== 0) fail('a refused file reached the desk');
  step('a file that is not its type is refused, said as text');
  if (process.env.URA_SHOTS) {
    await visitor.screenshot({ path: join(process.env.URA_SHOTS, 'visitor-files.png') });
    await desk.screenshot({ path: join(process.env.URA_SHOTS, 'desk-files.png') });
  }
  if (process.env.URA_SHOTS) {
    await visitor.screenshot({ path: join(process.env.URA_SHOTS, 'visitor.png') });
    await desk.screenshot({ path: join(process.env.URA_SHOTS, 'desk.png') });
  }

  // 5. The visitor leaves mid-conversation; the agent writes meanwhile;
  //    the visitor comes back: every message once, in order.
  await visitor.goto('about:blank');
  await desk.getByLabel('Resposta').fill('Ainda está aí?');
  await desk.getByLabel('Resposta').press('Enter');
  await desk.locator('#thread .msg.agent', { hasText: 'Ainda está aí?' }).waitFor({ timeout: T });
  await visitor.goto(siteUrl, { waitUntil: 'load', timeout: T });
  await visitor.locator('#ura-chat-button').click();
  await chat.locator('#messages .msg', { hasText: 'Ainda está aí?' }).waitFor({ timeout: T });
  await chat.getByLabel('Mensagem').fill('Sim, voltei.');
  await chat.getByLabel('Mensagem').press('Enter');
  await desk.locator('#thread .msg.visitor', { hasText: 'Sim, voltei.' }).waitFor({ timeout: T });
  await chat.locator('#messages .msg.visitor:not(.pending)', { hasText: 'Sim, voltei.' }).waitFor({ timeout: T });
  const seqs = await chat.locator('#messages .msg').evaluateAll((els) => els.map((e) => Number(e.getAttribute('data-seq'))));
  const expected = seqs.map((_, i) => i + 1);
  if (JSON.stringify(seqs) !== JSON.stringify(expected)) fail(`after the reload the visitor sees ${JSON.stringify(seqs)}`);
  for (const text of ['Olá Maria! Em que posso ajudar?', 'Ainda está aí?', 'quero comprar']) {
    const n = await chat.locator('#messages .msg .text', { hasText: text }).count();
    if (n !== 1) fail(`"${text}" shown ${n} times after the reload`);
  }
  step(`came back: ${seqs.length} messages, each once and in order`);

  // 6. The agent closes: the visitor sees the closing message.
  await desk.getByRole('button', { name: 'Encerrar conversa' }).click();
  await chat.locator('#messages .msg.system', { hasText: 'Este atendimento foi finalizado' }).waitFor({ timeout: T });
  await chat.locator('#status', { hasText: 'Conversa encerrada.' }).waitFor({ timeout: T });
  await desk.locator('#current').waitFor({ state: 'hidden', timeout: T });
  step('the agent closed; the visitor saw the closing message');

  // 6a. The visitor rates, with the keyboard: the survey takes the focus
  //     on "5", the arrow moves to "4", a comment, then send.
  await chat.locator('#survey legend', { hasText: 'Como foi o atendimento?' }).waitFor({ timeout: T });
  await chat.getByLabel('5 – Ótimo').waitFor({ timeout: T });
  if (!(await chat.getByLabel('5 – Ótimo').evaluate((e) => e === document.activeElement))) fail('the survey does not take the focus');
  await chat.getByLabel('5 – Ótimo').press('ArrowLeft');
  if (!(await chat.getByLabel('4 – Bom').isChecked())) fail('the arrow key did not pick 4');
  await chat.getByLabel('Comentário (opcional)').fill('Atendimento rápido.');
  if (process.env.URA_SHOTS) await visitor.screenshot({ path: join(process.env.URA_SHOTS, 'survey.png') });
  await chat.getByRole('button', { name: 'Enviar avaliação' }).press('Enter');
  await chat.locator('#survey-thanks', { hasText: 'Obrigado pela avaliação!' }).waitFor({ timeout: T });
  await chat.locator('#survey').waitFor({ state: 'hidden', timeout: T });
  step('the visitor rated the conversation 4 with a comment');
  // 6b. The same customer (the site's identity) starts again: the agent
  //     sees the first conversation in the history, its messages on demand.
  if (identity) {
    await chat.locator('#again').click();
    await chat.getByLabel('Nome').fill('Maria Silva', { timeout: T });
    await chat.locator('#start').click();
    await chat.locator('#messages .msg', { hasText: 'Digite 1 para vendas' }).waitFor({ timeout: T });
    await chat.getByLabel('Mensagem').fill('1');
    await chat.getByLabel('Mensagem').press('Enter');
    const again = desk.locator('.offer', { hasText: 'Maria Silva' });
    await again.waitFor({ timeout: T });
    await again.getByRole('button', { name: 'Atender' }).click();
    await desk.locator('#history-title', { hasText: 'Conversas anteriores deste cliente (1)' }).waitFor({ timeout: T });
    await desk.locator('#history-title').click();
    await desk.locator('.history-entry summary', { hasText: 'encerrada pelo agente' }).click();
    await desk.locator('.history-entry .msg', { hasText: 'Ainda está aí?' }).waitFor({ timeout: T });
    await desk.getByRole('button', { name: 'Encerrar conversa' }).click();
    step('the same customer again: the desk shows the earlier conversation');
  }

  // 7. A browser in English gets the desk in English.
  const enCtx = await browser.newContext({ locale: 'en-US' });
  enCtx.on('request', (r) => requests.push(r.url()));
  const en = await enCtx.newPage();
  en.on('pageerror', (e) => errors.push(`desk (en): ${e}`));
  await en.goto(`${base}/desk`, { waitUntil: 'load', timeout: T });
  await en.getByLabel('Extension').waitFor({ timeout: T });
  await en.getByLabel('Password').waitFor({ timeout: T });
  if ((await en.getAttribute('html', 'lang')) !== 'en') fail('the English desk is not lang=en');
  // The supervisor's panel in English too.
  await en.getByLabel('Extension').fill(ext);
  await en.getByLabel('Password').fill(password);
  await en.getByLabel('Password').press('Enter');
  await en.getByRole('heading', { name: 'Queues' }).waitFor({ timeout: T });
  await en.getByRole('table', { name: 'Agents' }).getByRole('columnheader', { name: 'Open chats' }).waitFor({ timeout: T });
  await enCtx.close();
  step('the desk speaks English to an English browser');
  await visitorCtx.close();
  await deskCtx.close();
} catch (e) {
  fail(String(e));
} finally {
  await browser.close();
  site.close();
  rmSync(userDataDir, { recursive: true, force: true });
}

const outside = requests.filter((u) => {
  if (u.startsWith('data:') || u.startsWith('about:')) return false;
  // A blob: address is the page's own (thumbnails, downloads).
  try { return new URL(u.startsWith('blob:') ? u.slice(5) : u).hostname !== '127.0.0.1'; } catch { return true; }
});
for (const u of outside) fail(`request outside 127.0.0.1: ${u}`);
for (const e of errors) fail(`page error: ${e}`);
console.log(`requests: ${requests.length}, outside 127.0.0.1: ${outside.length}, page errors: ${errors.length}`);
console.log(ok ? 'webchat: ok' : 'webchat: FAILED');
process.exit(ok ? 0 : 1);
