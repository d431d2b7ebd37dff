// Beacon playground: plays the Teams client. Sends real Bot Framework activities and invokes to
// /api/messages (unauthenticated, as the Emulator does) with serviceUrl = the playground
// connector, and shows what Beacon posts there, with cards drawn by the official renderer.
"use strict";

const SERVICE_URL = location.origin + "/playground/connector/";
const CHANNEL = "19:playground-incidents@thread.tacv2";
const TEAM = "19:playground-team@thread.tacv2";
const TENANT = "00000000-0000-4000-8000-00000000beac";
const ME = { id: "29:playground-user", name: "You (playground)", aadObjectId: "6d3c7a52-0000-4000-8000-00000000a11c" };
const BOT = { id: "28:beacon-playground", name: "Beacon" };
const CARD = "application/vnd.microsoft.card.adaptive";

const state = { seq: 0, messages: new Map(), mine: [], shown: new Map(), dialog: null };
let lastId = 0;
const nextId = () => String(lastId = Math.max(lastId + 1, Date.now()));

// Teams renders the card Markdown subset, honours CommonMark backslash escapes (so text Beacon
// escaped shows as typed) and draws <at>name</at> as a highlighted name; this is enough of it.
const renderer = typeof AdaptiveCards !== "undefined";
if (renderer) AdaptiveCards.AdaptiveCard.onProcessMarkdown = (text, result) => {
  const kept = [];
  const html = (value) => value.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
  const hidden = text.replace(/\\([!-\/:-@\[-`{-~])/g, (match, char) => `\u0000${kept.push(html(char)) - 1}\u0000`);
  result.outputHtml = html(hidden)
    .replace(/&lt;at&gt;(.*?)&lt;\/at&gt;/g, '<strong class="mention">@$1</strong>')
    .replace(/\*\*(.+?)\*\*/g, "<strong>$1</strong>")
    .replace(/(^|[^*])\*([^*]+?)\*/g, "$1<em>$2</em>")
    .replace(/(^|[^\w_])_([^_]+?)_(?![\w_])/g, "$1<em>$2</em>")
    .replace(/\[([^\]]+)\]\((https?:[^)\s]+)\)/g, '<a href="$2" target="_blank" rel="noopener">$1</a>')
    .replace(/\n/g, "<br>")
    .replace(/\u0000(\d+)\u0000/g, (match, index) => kept[Number(index)]);
  result.didProcess = true;
};

function envelope(type, conversationId, extra) {
  return Object.assign({
    type, channelId: "msteams", id: type === "invoke" ? "f:" + crypto.randomUUID() : nextId(),
    serviceUrl: SERVICE_URL, from: ME, recipient: BOT, timestamp: new Date().toISOString(),
    localTimezone: Intl.DateTimeFormat().resolvedOptions().timeZone, locale: navigator.language || "en-US",
    conversation: { id: conversationId, isGroup: true, conversationType: "channel", tenantId: TENANT },
    channelData: { teamsChannelId: CHANNEL, teamsTeamId: TEAM, channel: { id: CHANNEL }, team: { id: TEAM },
                   tenant: { id: TENANT } },
    entities: [{ type: "clientInfo", locale: navigator.language || "en-US", country: "US", platform: "Web",
                 timezone: Intl.DateTimeFormat().resolvedOptions().timeZone }],
  }, extra);
}

async function post(activity) {
  const response = await fetch("/api/messages", {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(activity) });
  const text = await response.text();
  let body = null;
  try { body = text ? JSON.parse(text) : null; } catch (e) { body = text; }
  if (response.status >= 400) notice(`Beacon answered ${response.status}: ${JSON.stringify(body)}`);
  return body;
}

// -- the compose box: "@Beacon …" --------------------------------------------------------------
async function say(raw) {
  const text = raw.replace(/^\s*@beacon\b\s*/i, "").trim();
  if (!text) return;
  const id = nextId();
  const conversationId = `${CHANNEL};messageid=${id}`;
  state.mine.push({ id, conversationId, text: "@Beacon " + text, at: state.seq });
  render();
  const mention = "<at>Beacon</at>";
  const activity = envelope("message", conversationId, {
    id, text: `${mention} ${text}`, textFormat: "plain",
    attachments: [{ contentType: "text/html", content: `<p><span itemtype="http://schema.skype.com/Mention" itemscope="" itemid="0">Beacon</span>&nbsp;${text}</p>` }],
  });
  activity.entities.unshift({ type: "mention", mentioned: BOT, text: mention });
  await post(activity);
  poll();
}

// -- cards and their buttons -----------------------------------------------------------------
// Teams shows up to six buttons in a card's action bar; the renderer's default is five. The
// renderer's default host config keeps its container colours (a bare HostConfig has none, so a
// severity badge or an attention container would show white, unlike Teams).
const TEAMS_HOST = renderer ? AdaptiveCards.defaultHostConfig : null;
if (TEAMS_HOST) TEAMS_HOST.actions.maxActions = 6;

function renderCard(content, onAction) {
  const card = new AdaptiveCards.AdaptiveCard();
  card.hostConfig = TEAMS_HOST;
  card.onExecuteAction = onAction;
  card.parse(content);
  const element = card.render();
  element.classList.add("card");
  return element;
}

function actionData(action) {
  const data = action.data;
  return data && typeof data === "object" ? Object.assign({}, data) : {};
}

async function cardAction(action, message) {
  if (action instanceof AdaptiveCards.OpenUrlAction) { window.open(action.url, "_blank"); return; }
  const data = actionData(action);
  if (action instanceof AdaptiveCards.ExecuteAction) {
    const answer = await post(envelope("invoke", message.conversationId, {
      name: "adaptiveCard/action", replyToId: message.id,
      value: { action: { type: "Action.Execute", verb: action.verb, data }, trigger: "manual" } }));
    showInvokeAnswer(answer, message);
  } else if (data.msteams && data.msteams.type === "task/fetch") {
    const answer = await post(envelope("invoke", message.conversationId, {
      name: "task/fetch", replyToId: message.id, value: { type: "task/fetch", data, context: { theme: "default" } } }));
    showTask(answer, message);
  } else if (action instanceof AdaptiveCards.SubmitAction) {
    const text = (data.msteams && (data.msteams.text || data.msteams.displayText)) || "";
    await post(envelope("message", message.conversationId, { text, value: data, replyToId: message.id }));
  }
  poll();
}

// Teams runs a card's refresh action by itself for the users its `userIds` lists (Universal
// Actions user-specific views) and shows each of them the card the bot answers.
const refreshed = new Set();
function refreshFor(message, content) {
  const refresh = content && content.refresh;
  if (!refresh || !refresh.action || !(refresh.userIds || []).includes(ME.id)) return;
  const key = `${message.id}:${message.seq}`;
  if (refreshed.has(key)) return;
  refreshed.add(key);
  post(envelope("invoke", message.conversationId, {
    name: "adaptiveCard/action", replyToId: message.id,
    value: { action: { type: "Action.Execute", verb: refresh.action.verb, data: refresh.action.data || {} },
             trigger: "automatic" } }))
    .then((answer) => {
      const newest = state.messages.get(message.id);
      if (answer && answer.type === CARD && answer.value && newest && newest.seq === message.seq) {
        state.shown.set(message.id, { card: answer.value, seq: message.seq });
        render();
      }
    });
}

function showInvokeAnswer(answer, message) {
  if (!answer) return;
  if (answer.type === CARD && answer.value) {
    // Teams swaps the clicked card for the answer until Beacon updates the message itself.
    state.shown.set(message.id, { card: answer.value, seq: message.seq });
    render();
  } else if (answer.type === "application/vnd.microsoft.error" && answer.value) {
    // Teams shows a Universal Action error beside the card and leaves the card as it was.
    notice(answer.value.message || "Beacon could not do that.");
  } else if (answer.value && typeof answer.value === "string") {
    notice(answer.value);
  }
}

function showTask(answer, message) {
  const task = answer && answer.task;
  if (!task) { closeDialog(); return; }
  if (task.type === "message") { closeDialog(); notice(task.value); return; }
  const value = task.value || {};
  const content = value.card && value.card.content;
  if (!content) { closeDialog(); return; }
  const dialog = document.getElementById("dialog");
  document.getElementById("dialog-title").textContent = value.title || "Beacon";
  const body = document.getElementById("dialog-body");
  body.replaceChildren(renderCard(content, (action) => dialogAction(action, message)));
  if (!dialog.open) dialog.showModal();
}

async function dialogAction(action, message) {
  if (action instanceof AdaptiveCards.OpenUrlAction) { window.open(action.url, "_blank"); return; }
  const data = actionData(action);
  if (action instanceof AdaptiveCards.ExecuteAction) {
    closeDialog();
    return cardAction(action, message);
  }
  const answer = await post(envelope("invoke", message.conversationId, {
    name: "task/submit", replyToId: message.id, value: { type: "task/submit", data, context: { theme: "default" } } }));
  showTask(answer, message);
  poll();
}

function closeDialog() {
  const dialog = document.getElementById("dialog");
  if (dialog.open) dialog.close();
}

// -- the channel view ------------------------------------------------------------------------
function notice(text) {
  const element = document.getElementById("notice");
  element.textContent = text;
  element.hidden = false;
  clearTimeout(notice.timer);
  notice.timer = setTimeout(() => { element.hidden = true; }, 6000);
}

function messageElement(message, mine) {
  const element = document.createElement("article");
  element.className = "message" + (mine ? " mine" : "") + (message.replyToId ? " reply" : "");
  element.dataset.id = message.id;
  const author = document.createElement("div");
  author.className = "author";
  author.textContent = mine ? ME.name : "Beacon";
  if (message.updates) {
    const edited = document.createElement("span");
    edited.className = "edited";
    edited.textContent = "Edited";
    author.append(edited);
  }
  element.append(author);
  if (message.text) {
    const text = document.createElement("div");
    text.className = "text";
    text.textContent = message.text.replace(/<at>(.*?)<\/at>/g, "@$1");
    element.append(text);
  }
  if (mine) return element;
  const shown = state.shown.get(message.id);
  if (shown && shown.seq < message.seq) state.shown.delete(message.id);  // Beacon updated it since
  const override = state.shown.get(message.id);
  (message.attachments || []).forEach((attachment, index) => {
    if (attachment.contentType !== CARD) return;
    const content = index === 0 && override ? override.card : attachment.content;
    if (index === 0 && !override) refreshFor(message, attachment.content);
    element.append(renderCard(content, (action) => cardAction(action, message)));
  });
  return element;
}

// Each message is drawn again only when it changed, so a form someone is filling in on one
// card survives other messages arriving (as in Teams).
const drawn = new Map();  // message id → { key, element }

function render() {
  const channel = document.getElementById("channel");
  const entries = [...state.messages.values()].filter((m) => !m.deleted).map((m) => ({ m, mine: false }))
    .concat(state.mine.map((m) => ({ m, mine: true })));
  entries.sort((a, b) => (BigInt(a.m.id) < BigInt(b.m.id) ? -1 : 1));
  const wanted = entries.map(({ m, mine }) => {
    const id = (mine ? "mine:" : "") + m.id;
    const shown = mine ? undefined : state.shown.get(m.id);
    let entry = drawn.get(id);
    if (!entry || entry.message !== m || entry.shown !== shown) {
      const element = messageElement(m, mine);  // may drop an answer card Beacon has since replaced
      entry = { message: m, shown: mine ? undefined : state.shown.get(m.id), element };
      drawn.set(id, entry);
    }
    return entry.element;
  });
  wanted.forEach((element, index) => {
    if (channel.children[index] !== element) channel.insertBefore(element, channel.children[index] || null);
  });
  while (channel.children.length > wanted.length) channel.lastElementChild.remove();
}

let polling = null;
async function poll() {
  if (polling) return polling;
  polling = (async () => {
    try {
      const response = await fetch(`/playground/feed?since=${state.seq}`);
      const feed = await response.json();
      if (feed.messages.length) {
        feed.messages.forEach((m) => state.messages.set(m.id, m));
        state.seq = feed.seq;
        render();
      }
    } catch (e) { /* Beacon restarting; try again */ }
    polling = null;
  })();
  return polling;
}

// Teams tells Beacon who is in its team (Beacon keeps the roster and decides clicks from it): the
// person at the keyboard joins the playground's team as a member, as Teams would announce it.
const joined = post(envelope("conversationUpdate", TEAM, {
  channelData: { team: { id: TEAM, name: "Playground" }, eventType: "teamMemberAdded", tenant: { id: TENANT } },
  membersAdded: [Object.assign({ userRole: "user", tenantId: TENANT }, ME)] }));

document.getElementById("compose").addEventListener("submit", async (event) => {
  event.preventDefault();
  const input = document.getElementById("say");
  const text = input.value;
  input.value = "@Beacon ";
  await joined;
  say(text);
});
document.getElementById("dialog-close").addEventListener("click", closeDialog);
if (!renderer) document.getElementById("missing").hidden = false;
setInterval(poll, 700);
poll();
