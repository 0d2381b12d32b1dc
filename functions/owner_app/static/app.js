// TelePay owner app: plain JavaScript; charts by Chart.js (chart.umd.min.js, served by the app itself,
// pinned in functions/owner_app/npm). Every API call carries Telegram's initData.
// Every visible text goes through tr(english, values): the owner's language comes from
// GET /api/texts (its English sources are APP_TEXTS in telepay/owners/app.py); amounts, numbers and
// dates are formatted here with Intl for that language, dates in UTC saying so.
"use strict";
(function () {
  const tg = window.Telegram && window.Telegram.WebApp;
  const view = document.getElementById("view");
  const picker = document.getElementById("channel");
  const tabs = document.getElementById("tabs");
  let initData = (tg && tg.initData) || fromHash();
  let channels = [];
  let token = null;
  let tab = "overview";
  let onMain = null;
  let TEXTS = {};
  let PLURALS = {};
  let period = 30; // -- dashboard: 7, 30 or 90 days --
  let charts = [];
  let LANG = "en";
  let LANGUAGES = {};
  const TAB_NAMES = { overview: "Overview", subscribers: "Subscribers", payouts: "Payouts", settings: "Settings",
    codes: "Codes" }; // -- promo codes --
  TAB_NAMES.support = "Support"; // -- support --

  // The text in the owner's language (English when the page has no translation), {name}s filled.
  function tr(text, values) {
    const found = TEXTS[text] || text;
    return found.replace(/\{(\w+)\}/g, (whole, name) => (values && name in values ? String(values[name]) : whole));
  }

  // A plural text: the language's form for n (Intl.PluralRules' category), {n} and {name}s filled.
  function trn(singular, n, values) {
    const forms = PLURALS[singular] || {};
    const form = forms[new Intl.PluralRules(LANG).select(n)] || forms.other || singular;
    return form.replace(/\{(\w+)\}/g, (whole, name) => name === "n" ? number(n) : (values && name in values ? String(values[name]) : whole));
  }

  function localize(dir) {
    const root = document.documentElement;
    root.setAttribute("lang", LANG);
    root.setAttribute("dir", dir || "ltr");
    document.title = tr("TelePay · Owner");
    picker.setAttribute("aria-label", tr("Channel"));
    for (const b of tabs.querySelectorAll("button")) b.textContent = tr(TAB_NAMES[b.dataset.tab]);
  }

  async function loadTexts() {
    const { body } = await json("/api/texts");
    TEXTS = body.texts || {};
    PLURALS = body.plurals || {};
    LANG = body.lang || "en";
    LANGUAGES = body.languages || {};
    localize(body.dir);
  }

  function fromHash() {
    // Outside Telegram (a browser opened from the local stack) the data is in the URL fragment.
    const params = new URLSearchParams(location.hash.slice(1));
    return params.get("tgWebAppData") || "";
  }

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === "class") node.className = v; else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
      else node.setAttribute(k, v);
    }
    for (const c of children.flat()) if (c !== null && c !== undefined) node.append(c instanceof Node ? c : String(c));
    return node;
  }

  function show(...nodes) { view.replaceChildren(...nodes.filter((n) => n !== null && n !== undefined)); }
  function state(text, kind) { show(el("p", { class: "state " + (kind || ""), id: kind || "state" }, text)); }

  async function api(path, options) {
    const response = await fetch(path, Object.assign({}, options, {
      headers: Object.assign({ Authorization: "tma " + initData }, (options && options.headers) || {}),
    }));
    if (response.status === 401) throw new Error(tr("This page only opens from the TelePay bot in Telegram."));
    return response;
  }
  async function json(path, options) {
    const response = await api(path, options);
    const body = await response.json();
    // A refusal (403) is worded for the owner by the API; other errors are codes, not sentences.
    if (response.status === 403 && body.error) throw new Error(body.error);
    if (!response.ok && response.status !== 422) throw new Error(tr("Something went wrong."));
    return { status: response.status, body };
  }

  function mainButton(text, handler) {
    if (!tg || !tg.MainButton) return;
    if (onMain) tg.MainButton.offClick(onMain);
    onMain = handler;
    if (handler) { tg.MainButton.setText(text); tg.MainButton.onClick(handler); tg.MainButton.show(); }
    else tg.MainButton.hide();
  }
  function backButton(visible) {
    if (!tg || !tg.BackButton) return;
    if (visible) tg.BackButton.show(); else tg.BackButton.hide();
  }

  const number = (n) => new Intl.NumberFormat(LANG).format(n);
  // A price or a sum: fiat with its symbol (USD), a coin (usdttrc20) with its code after the amount.
  const money = (v, currency) => {
    const code = String(currency || "USD").toUpperCase();
    if (code === "XTR") return "⭐" + number(Number(v)); // Telegram Stars, as the bot writes them
    if (/^[A-Z]{3}$/.test(code)) {
      try { return new Intl.NumberFormat(LANG, { style: "currency", currency: code }).format(Number(v)); } catch (e) { /* not ISO 4217 */ }
    }
    return new Intl.NumberFormat(LANG, { maximumFractionDigits: 8 }).format(Number(v)) + " " + code;
  };
  // In UTC and the Gregorian calendar, as the bot writes dates (Persian's own calendar is not the bot's).
  const date = (iso, options) => new Intl.DateTimeFormat(LANG, Object.assign({ timeZone: "UTC", calendar: "gregory" }, options)).format(new Date(iso));
  const day = (iso) => date(iso, { day: "numeric", month: "long", year: "numeric" });
  const shortDay = (iso) => date(iso, { day: "numeric", month: "short" });
  const when = (iso) => tr("{date}, {time} UTC", {
    date: date(iso, { weekday: "long", day: "numeric", month: "long", year: "numeric" }),
    time: date(iso, { hour: "2-digit", minute: "2-digit", hourCycle: "h23" }),
  });

  const card = (value, label, id, note) => el("div", { class: "card", id }, el("b", {}, value), el("span", {}, label),
    note ? el("small", { class: "change" }, note) : null);
  const pct = (v) => v === null || v === undefined ? "—" : new Intl.NumberFormat(LANG, { style: "percent", maximumFractionDigits: 1 }).format(Number(v) / 100);
  const signed = (v) => (Number(v) > 0 ? "+" : "") + pct(v);
  const against = (o, key) => o.change[key] === null
    ? tr("nothing the {n} days before", { n: number(o.days) })
    : tr("{change} against the {n} days before", { change: signed(o.change[key]), n: number(o.days) });
  const css = (name) => getComputedStyle(document.documentElement).getPropertyValue(name).trim();

  // -- dashboard: Chart.js with Telegram's theme colours; time runs left to right in every language --
  function drawChart(canvas, config) {
    const text = css("--hint");
    const base = {
      responsive: true, maintainAspectRatio: false, animation: false,
      interaction: { mode: "index", intersect: false },
      plugins: { legend: { labels: { color: css("--text"), boxWidth: 12 } },
        tooltip: { callbacks: { title: (items) => items.length ? day(items[0].label) : "",
          label: (item) => `${item.dataset.label}: ${config.tick(item.raw)}` } } },
      scales: {
        x: { stacked: config.stacked, ticks: { color: text, maxRotation: 0, autoSkip: true, maxTicksLimit: 6,
          callback: function (value) { return shortDay(this.getLabelForValue(value)); } }, grid: { display: false } },
        y: { stacked: config.stacked, beginAtZero: true, ticks: { color: text, precision: 0, callback: config.tick },
          grid: { color: css("--card") } },
      },
      onClick: config.onPick, onHover: (event, active) => { if (active.length && event.native && event.native.pointerType === "touch") config.onPick(event, active); },
    };
    const made = new window.Chart(canvas, { type: "bar", data: config.data, options: base });
    charts.push(made);
    return made;
  }

  async function overview() {
    const all = token === "all";
    const { body: o } = await json(all ? `/api/overview/${period}` : `/api/channels/${token}/overview/${period}`);
    mainButton(null);
    for (const c of charts) c.destroy();
    charts = [];
    const now = o.current;
    const switcher = el("div", { class: "periods", id: "period", role: "group" },
      ...[7, 30, 90].map((n) => el("button", { class: n === period ? "on" : "", "data-days": String(n), "aria-pressed": String(n === period),
        onclick: () => { period = n; open("overview"); } }, trn("Last {n} day", n))));
    const readout = el("p", { class: "hint readout", id: "day-value", "aria-live": "polite" }, tr("Tap a day, or use the arrow keys, to read it."));
    const labels = o.series.map((d) => d.day);
    // One day read out under the charts and shown in both charts' tooltips: a tap or a click on a
    // chart picks the day under it, the arrow keys (Home, End) move from day to day.
    let picked = null;
    const read = (index) => {
      const i = Math.max(0, Math.min(o.series.length - 1, index));
      const d = o.series[i];
      picked = i;
      readout.textContent = tr("{day}: {crypto} crypto, {stars} in Stars (≈ {usd})", {
        day: day(d.day), crypto: money(d.crypto, "USD"), stars: money(d.stars, "XTR"), usd: money(d.stars_usd, "USD") })
        + " · " + trn("{n} new subscriber", d.new) + " · " + trn("{n} renewal", d.renewed)
        + " · " + trn("{n} expiry", d.expired) + " · " + trn("{n} active member", d.active);
      readout.dataset.day = d.day;
      for (const c of charts) {
        const active = c.data.datasets.map((_, datasetIndex) => ({ datasetIndex, index: i }));
        c.setActiveElements(active);
        c.tooltip.setActiveElements(active, { x: 0, y: 0 });
        c.update();
      }
    };
    const pick = (event, active) => { if (active.length && active[0].index !== picked) read(active[0].index); };
    const keys = (event) => {
      const last = o.series.length - 1;
      const to = { ArrowLeft: (picked ?? last + 1) - 1, ArrowDown: (picked ?? last + 1) - 1,
        ArrowRight: (picked ?? -1) + 1, ArrowUp: (picked ?? -1) + 1, Home: 0, End: last }[event.key];
      if (to === undefined) return;
      event.preventDefault();
      read(to);
    };
    const chartCanvas = (id, label) => el("canvas", { id, role: "img", tabindex: "0", "aria-label": label,
      "aria-describedby": "day-value", onkeydown: keys });
    const revenueCanvas = chartCanvas("revenue-chart", tr("Revenue per day"));
    const membersCanvas = chartCanvas("members-chart", tr("Members per day"));
    const empty = o.empty ? el("div", { class: "state empty", id: "empty-state" },
      el("p", {}, trn("No sales, members or donations in the last {n} day.", o.days)),
      el("p", { class: "hint" }, tr("Share your link to get the first subscriber."))) : null;
    const tiers = o.tiers.length ? [el("h2", {}, tr("Per tier")), el("table", { id: "tiers" },
      el("tr", {}, el("th", {}, tr("Tier")), el("th", {}, tr("Sales")), el("th", {}, tr("Revenue"))),
      ...o.tiers.map((t) => el("tr", {}, el("td", {}, t.channel ? `${t.channel} · ${t.label}` : t.label),
        el("td", {}, number(t.sales)), el("td", {}, money(t.revenue, "USD") + (t.stars ? " + " + money(t.stars, "XTR") : "")))))] : [];
    show(
      switcher,
      all ? el("p", { class: "hint" }, tr("{count} channels together", { count: number(o.channels) })) : null,
      empty,
      el("div", { class: "cards" },
        card(money(now.revenue, "USD"), tr("revenue"), "revenue", against(o, "revenue")),
        card(number(now.sales), tr("sales"), "sales", against(o, "sales")),
        card(number(now.new), tr("new subscribers"), "new", against(o, "new")),
        card(number(now.renewed), tr("renewals"), "renewed", against(o, "renewed")),
        card(number(now.expired), tr("expiries"), "expired", against(o, "expired")),
        card(money(now.donations, "USD"), tr("donations"), "donations", against(o, "donations")),
        card(number(o.active), tr("active subscribers"), "active"),
        card(number(o.expiring_7d), tr("expire in 7 days"), "expiring"),
        card(pct(o.renewal_rate), tr("renewal rate"), "renewal-rate"),
        card(pct(o.churn), tr("churn"), "churn"),
        // -- owner grants: apart from sales --
        o.grants_30d !== undefined ? card(number(o.grants_30d || 0), tr("grants, 30 days"), "grants") : null,
        o.granted_days_30d !== undefined ? card(number(o.granted_days_30d || 0), tr("days given"), "granted-days") : null),
      // -- free trials --
      o.trials && (o.trials.days !== null || o.trials.started_30d > 0 || o.trials.running > 0) ? el("div", { class: "cards", id: "trials" },
        card(number(o.trials.running), tr("on a free trial"), "trials-running"),
        card(number(o.trials.started_30d), tr("free trials started, 30 days"), "trials-started"),
        card(number(o.trials.converted_30d), tr("trials converted to a purchase, 30 days"), "trials-converted")) : null,
      el("h2", {}, tr("Revenue per day")),
      el("div", { class: "chart" }, revenueCanvas),
      el("h2", {}, tr("Members per day")),
      el("div", { class: "chart" }, membersCanvas),
      readout,
      ...tiers,
      o.status === "paused" ? el("p", { class: "hint" }, tr("Sales are paused (Settings → Resume).")) : null,
      all ? null : await announcementsSection());  // -- announcements --
    const usd = (v) => money(v, "USD");
    drawChart(revenueCanvas, { stacked: true, onPick: pick, tick: (v) => usd(v), data: { labels, datasets: [
      { label: tr("Crypto"), data: o.series.map((d) => Number(d.crypto)), backgroundColor: css("--button") },
      { label: tr("Telegram Stars (≈ USD)"), data: o.series.map((d) => Number(d.stars_usd)), backgroundColor: css("--stars") },
    ] } });
    drawChart(membersCanvas, { stacked: false, onPick: pick, tick: (v) => number(v), data: { labels, datasets: [
      { type: "line", label: tr("Active members"), data: o.series.map((d) => d.active), borderColor: css("--link"), backgroundColor: css("--link"), pointRadius: 0, tension: 0.2 },
      { label: tr("New"), data: o.series.map((d) => d.new), backgroundColor: css("--button") },
      { label: tr("Renewals"), data: o.series.map((d) => d.renewed), backgroundColor: css("--stars") },
      { label: tr("Expiries"), data: o.series.map((d) => d.expired), backgroundColor: css("--hint") },
    ] } });
  }

  // -- announcements: the channel's announcements with their counts, and a text-only compose form
  // checked by the API as the bot checks an announcement --
  async function announcementsSection() {
    const { body } = await json(`/api/channels/${token}/announcements`);
    const message = el("p", { id: "announce-message" });
    const list = el("table", { id: "announcements" },
      el("tr", {}, el("th", {}, tr("Sent on")), el("th", {}, tr("Status")), el("th", {}, tr("Sent")), el("th", {}, tr("Blocked")), el("th", {}, tr("Failed"))),
      ...body.announcements.map((a) => el("tr", {},
        el("td", {}, day(a.created_at)), el("td", {}, tr(a.status)), el("td", {}, `${number(a.sent)} / ${number(a.total)}`),
        el("td", {}, number(a.blocked)), el("td", {}, number(a.failed)))));
    const form = el("form", { id: "announce-form", class: "grant" },
      el("label", {}, tr("Message"), el("textarea", { name: "text", maxlength: "4096", rows: "4", required: "" })),
      el("label", {}, tr("Who gets it"), el("select", { name: "audience" },
        el("option", { value: "active" }, tr("All active subscribers")),
        el("option", { value: "ending" }, tr("Ending within (days)")),
        el("option", { value: "lapsed" }, tr("Lapsed in the last (days)")),
        el("option", { value: "trial" }, tr("Members on a free trial")))),
      el("label", {}, tr("Days"), el("input", { name: "days", type: "number", min: "1", max: "365", value: "7" })),
      el("label", {}, tr("Button"), el("select", { name: "button" },
        el("option", { value: "" }, tr("No button")),
        el("option", { value: "renew" }, tr("Renew")),
        el("option", { value: "url" }, tr("Link")))),
      el("label", {}, tr("Link (https://…)"), el("input", { name: "url", type: "url" })),
      el("div", { class: "row" }, el("button", { class: "btn", type: "submit", id: "announce-send" }, tr("Send announcement"))),
      message);
    const newRequest = () => Array.from(crypto.getRandomValues(new Uint8Array(12)), (b) => b.toString(16).padStart(2, "0")).join("");
    let request = newRequest();
    form.addEventListener("input", () => { request = newRequest(); });
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const f = form.elements;
      const payload = { text: f.text.value, audience: f.audience.value, days: Number(f.days.value), button: f.button.value || null, url: f.url.value, request_id: request };
      try {
        const { status, body: answer } = await json(`/api/channels/${token}/announcements`, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(payload) });
        message.className = status === 200 ? "ok" : "errors";
        if (status === 422) message.textContent = answer.errors.map((e) => e.reason).join(" ");
        else if (status !== 200) message.textContent = answer.error || tr("Something went wrong.");
        else { request = newRequest(); message.textContent = tr("Sending to {count} subscribers…", { count: number(answer.recipients) }); }
      } catch (error) { message.className = "errors"; message.textContent = error.message; }
    });
    return el("section", { id: "announcements-section" }, el("h2", {}, tr("Announcements")), list, form);
  }

  // -- Subscribers: a page of 50 at a time from the API (active or ended), "Show more" for the next --
  let listed = "active";
  async function subscribersTab() {
    const first = await json(`/api/channels/${token}/subscribers?status=${listed}`);
    mainButton(null);
    const grants = grantForm();
    const switcher = el("div", { class: "periods", id: "sub-status", role: "group" },
      ...["active", "expired"].map((s) => el("button", { class: s === listed ? "on" : "", "data-status": s, "aria-pressed": String(s === listed),
        onclick: () => { listed = s; open("subscribers"); } }, tr(s))));
    const rows = first.body.subscribers;
    let next = first.body.next;
    if (!rows.length && listed === "active" && !next) {
      return show(switcher, el("p", { class: "state empty", id: "empty" }, tr("No subscribers yet. Share your link to get the first one.")), grants.form);
    }
    const search = el("input", { type: "search", id: "search", placeholder: tr("Search by name, tier or status") });
    const tbody = el("tbody");
    const more = el("button", { class: "btn secondary", id: "more", type: "button" }, tr("Show more"));
    const render = () => {
      const q = search.value.trim().toLowerCase();
      const shown = rows.filter((r) => !q || [r.name, r.tier, r.status, tr(r.status), String(r.user_id)].some((v) => v.toLowerCase().includes(q)));
      tbody.replaceChildren(...shown.map((r) => el("tr", { class: "sub" },
        el("td", {}, r.name), el("td", {}, r.tier), el("td", {}, day(r.since)), el("td", {}, day(r.until)),
        el("td", {}, el("span", { class: "tag " + r.status }, tr(r.status))), el("td", {}, r.in_channel ? "✓" : "—"),
        el("td", {}, el("button", { class: "btn secondary grant", type: "button", onclick: () => grants.pick(r.user_id) }, tr("Give days"))))));
      if (!shown.length) tbody.append(el("tr", {}, el("td", { colspan: 7, class: "hint" }, tr("No subscriber matches."))));
      more.hidden = !next;
    };
    more.addEventListener("click", async () => {
      more.disabled = true;
      try {
        const page = await json(`/api/channels/${token}/subscribers?status=${listed}&after=${encodeURIComponent(next)}`);
        rows.push(...page.body.subscribers);
        next = page.body.next;
        render();
      } finally { more.disabled = false; }
    });
    search.addEventListener("input", render);
    const exportButton = el("button", { class: "btn secondary", id: "export", onclick: exportCsv }, tr("CSV"));
    show(switcher, el("div", { class: "row" }, search, exportButton),
      el("table", {}, el("thead", {}, el("tr", {}, [...["Name", "Tier", "Since", "Until", "Status", "In"].map((h) => el("th", {}, tr(h))), el("th", {})])), tbody),
      more, grants.form);
    render();
  }

  // -- owner grants: days given to (or taken off) one member, checked by the API as the bot checks them --
  function grantForm() {
    const message = el("p", { id: "grant-message" });
    const form = el("form", { id: "grant-form", class: "grant" },
      el("h2", {}, tr("Grant to user id")),
      el("label", {}, tr("User id"), el("input", { name: "user_id", inputmode: "numeric", required: "" })),
      el("label", {}, tr("Days"), el("input", { name: "days", type: "number", min: "1", max: "3660", value: "7" })),
      el("label", {}, tr("Note (optional)"), el("input", { name: "reason", maxlength: "500" })),
      el("div", { class: "row" },
        el("button", { class: "btn", type: "submit", value: "give" }, tr("Give days")),
        el("button", { class: "btn secondary", type: "submit", value: "take" }, tr("Take days off")),
        el("button", { class: "btn secondary", type: "submit", value: "end" }, tr("End access"))),
      message);
    // One id per filled form: a double tap, or a retry after a lost answer, is the same grant (the API
    // makes it once); a new id once it is saved or the form is changed.
    const newRequest = () => Array.from(crypto.getRandomValues(new Uint8Array(12)), (b) => b.toString(16).padStart(2, "0")).join("");
    let request = newRequest();
    form.addEventListener("input", () => { request = newRequest(); });
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const how = (event.submitter && event.submitter.value) || "give";
      const payload = {
        user_id: Number(form.elements.user_id.value),
        days: how === "end" ? null : Number(form.elements.days.value),
        take: how !== "give",
        reason: form.elements.reason.value,
        request_id: `${how}-${request}`,
      };
      try {
        const { status, body } = await json(`/api/channels/${token}/grants`, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(payload) });
        if (status === 422) { message.className = "errors"; message.textContent = body.errors.map((e) => e.reason).join(" "); return; }
        request = newRequest();
        message.className = "ok";
        message.textContent = `${tr("Saved.")} ${tr("Until")}: ${day(body.until)}`;
      } catch (error) { message.className = "errors"; message.textContent = error.message; }
    });
    const pick = (userId) => { form.elements.user_id.value = String(userId); form.elements.days.focus(); };
    return { form, pick };
  }

  async function exportCsv() {
    const response = await api(`/api/channels/${token}/subscribers.csv`);
    const blob = await response.blob();
    const link = el("a", { href: URL.createObjectURL(blob), download: `subscribers-${token}.csv` });
    document.body.append(link); link.click(); link.remove();
  }

  // -- exports: a book of a period sent to the owner's chat with the bot as a CSV document (never a link) --
  function booksForm() {
    const today = new Date().toISOString().slice(0, 10);
    const message = el("p", { id: "books-message" });
    const form = el("form", { id: "books-form", class: "grant" },
      el("h2", {}, tr("Books")),
      el("label", {}, tr("Book"), el("select", { name: "book" },
        el("option", { value: "sales" }, tr("Sales")),
        el("option", { value: "ledger" }, tr("Ledger")),
        el("option", { value: "payouts" }, tr("Payouts")))),
      el("label", {}, tr("From"), el("input", { name: "from", type: "date", value: today.slice(0, 8) + "01", max: today })),
      el("label", {}, tr("To"), el("input", { name: "to", type: "date", value: today, max: today })),
      el("div", { class: "row" }, el("button", { class: "btn", type: "submit", id: "books-send" }, tr("Send to chat"))),
      message);
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const payload = { book: form.elements.book.value, from: form.elements.from.value, to: form.elements.to.value };
      try {
        const response = await api(`/api/channels/${token}/exports`, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(payload) });
        const body = await response.json();
        message.className = response.ok ? "ok" : "errors";
        if (response.status === 422) message.textContent = body.errors.map((e) => e.reason).join(" ");
        else if (!response.ok) message.textContent = body.error || tr("Something went wrong.");
        else message.textContent = body.sent ? tr("Sent to your chat with the bot.") : tr("Nothing in that period.");
      } catch (error) { message.className = "errors"; message.textContent = error.message; }
    });
    return form;
  }

  async function payoutsTab() {
    const { body: p } = await json("/api/payouts");
    mainButton(null);
    const sums = (m) => Object.entries(m).map(([c, v]) => money(v, c)).join(", ") || number(0);
    const stars = p.stars || {};
    const earned = Number(stars.held || 0) !== 0 || Number(stars.released || 0) !== 0;
    if (!p.history.length && !Object.keys(p.available).length && !Object.keys(p.pending).length && !earned)
      return show(el("p", { class: "state empty", id: "empty" }, tr("No payouts yet: they start with your first sale.")), booksForm());
    const held = (p.held || []).map((h) => el("p", { class: "errors held" },
      tr("🔒 {title}: payouts held until {until} (the payout wallet changed).", { title: h.title, until: when(h.until) })));
    // Stars apart: those Telegram still holds (paid out once each hold ends), and those released.
    const star = (n) => "⭐" + number(n);
    const starLines = [];
    if (Number(stars.held || 0) !== 0 && stars.held_first_until) {
      const values = { stars: star(stars.held), usd: money(stars.held_usd, "usd") };
      const first = day(stars.held_first_until), last = day(stars.held_last_until);
      starLines.push(el("p", { class: "hint", id: "stars-held" }, first === last
        ? tr("Stars earnings: {stars} (≈ {usd}), held until {day}", Object.assign({ day: last }, values))
        : tr("Stars earnings: {stars} (≈ {usd}), held until {first} to {last}", Object.assign({ first, last }, values))));
    }
    if (Number(stars.released || 0) !== 0)
      starLines.push(el("p", { class: "hint", id: "stars-released" },
        tr("Stars released: {stars} (≈ {usd}), counted above", { stars: star(stars.released), usd: money(stars.released_usd, "usd") })));
    show(...held, el("div", { class: "cards" }, card(sums(p.available), tr("balance"), "balance"), card(sums(p.pending), tr("pending"), "pending")),
      ...starLines,
      el("h2", {}, tr("History")),
      p.history.length ? el("table", {}, el("tbody", {}, p.history.map((h) => el("tr", {},
        el("td", {}, day(h.created_at)), el("td", {}, money(h.amount, h.currency)), el("td", {}, el("span", { class: "tag" }, tr(h.state)))))))
        : el("p", { class: "hint" }, tr("No payout sent yet.")),
      booksForm());  // -- exports --
  }

  async function settingsTab() {
    const { body: s } = await json(`/api/channels/${token}/settings`);
    const field = (name, label, value, tag) => [el("label", { for: name }, label),
      el(tag || "input", Object.assign({ id: name, name }, tag ? {} : { value }), tag ? value : null)];
    // A tier's Star price: empty takes the USD price converted (the placeholder shows it).
    const starsHint = (t) => (t.stars_auto === null ? tr("crypto only") : money(t.stars_auto, "XTR"));
    const tiers = el("div", { id: "tiers" }, s.tiers.map((t, i) => el("div", { class: s.stars_enabled ? "tier stars" : "tier" },
      el("input", { name: `price${i}`, "aria-label": tr("Price {number}", { number: number(i + 1) }), value: t.price, inputmode: "decimal" }),
      el("input", { name: `days${i}`, "aria-label": tr("Days {number}", { number: number(i + 1) }), value: t.days, inputmode: "numeric" }),
      s.stars_enabled ? el("input", { name: `stars${i}`, "aria-label": tr("Stars {number}", { number: number(i + 1) }),
        value: t.stars === null ? "" : t.stars, placeholder: starsHint(t), inputmode: "numeric" }) : null,
      el("input", { name: `label${i}`, "aria-label": tr("Label {number}", { number: number(i + 1) }), value: t.label }))));
    const language = el("select", { id: "language", name: "language" }, Object.entries(LANGUAGES).map(([code, name]) =>
      el("option", Object.assign({ value: code, lang: code.replace("_", "-") }, code === s.language ? { selected: "" } : {}), name)));
    const message = el("p", { id: "message" });
    const form = el("form", { id: "settings" },
      field("title", tr("Title"), s.title), field("description", tr("Description"), s.description, "textarea"),
      el("label", { for: "language" }, tr("Language of the posts")), language,
      el("label", {}, s.stars_enabled ? tr("Prices (USD), days, Stars, label") : tr("Prices (USD), days, label")), tiers,
      s.stars_enabled ? el("p", { class: "hint" }, tr("Leave Stars empty to convert the USD price (shown in grey); Telegram takes {low} to {high} Stars.", { low: number(1), high: number(10000) })) : null,
      field("donation_min", tr("Smallest donation (USD)"), s.donation_min), field("donation_max", tr("Largest donation (USD)"), s.donation_max),
      field("donation_message", tr("Donation post message"), s.donation_message, "textarea"),
      field("grace_period_minutes", tr("Grace period (minutes)"), s.grace_period_minutes),
      field("trial_days", tr("Free trial (days, 1 to 30; empty: none)"), s.trial_days === null ? "" : s.trial_days), // -- free trials --
      el("p", { class: "hint" }, tr("A new price applies to new invoices; invoices already sent keep theirs.")),
      el("button", { type: "submit", class: "btn", id: "save" }, tr("Save")), message,
      el("h2", {}, tr("Sales")),
      el("button", { type: "button", class: "btn secondary", id: "toggle", onclick: toggle }, s.status === "paused" ? tr("Resume sales") : tr("Pause sales")));
    const save = async (event) => {
      if (event) event.preventDefault();
      const v = (n) => form.elements[n].value;
      const payload = { title: v("title"), description: v("description"), language: v("language"), donation_min: v("donation_min"), donation_max: v("donation_max"),
        donation_message: v("donation_message"), grace_period_minutes: v("grace_period_minutes"), trial_days: v("trial_days"),
        tiers: s.tiers.map((_, i) => Object.assign({ price: v(`price${i}`), days: v(`days${i}`), label: v(`label${i}`) },
          s.stars_enabled ? { stars: v(`stars${i}`) } : {})) };
      message.className = ""; message.textContent = tr("Saving…");
      try {
        const { status, body } = await json(`/api/channels/${token}/settings`, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(payload) });
        if (status === 422) { message.className = "errors"; message.textContent = body.errors.map((e) => `${e.field}: ${e.reason}`).join(" "); return; }
        message.className = "ok";
        // The converted Star prices follow the saved USD prices.
        if (s.stars_enabled) body.tiers.forEach((t, i) => { form.elements[`stars${i}`].placeholder = starsHint(t); });
        message.textContent = [body.changed.length ? tr("Saved.") : tr("Nothing changed."), ...(body.notes || []).map((n) => n.note)].join(" ");
        if (tg && tg.HapticFeedback) tg.HapticFeedback.notificationOccurred("success");
      } catch (error) { message.className = "errors"; message.textContent = error.message; }
    };
    async function toggle() {
      const wanted = s.status === "paused" ? "active" : "paused";
      try {
        await json(`/api/channels/${token}/status`, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ status: wanted }) });
        s.status = wanted;
        document.getElementById("toggle").textContent = wanted === "paused" ? tr("Resume sales") : tr("Pause sales");
      } catch (error) { message.className = "errors"; message.textContent = error.message; }
    }
    form.addEventListener("submit", save);
    show(form);
    mainButton(tr("Save settings"), () => save());
  }

  // -- promo codes: the channel's codes (uses, revenue, state, share link), pause/resume/end, a new one;
  // the API checks everything as the bot's /promo and /promos do --
  async function codesTab() {
    const { body } = await json(`/api/channels/${token}/promos`);
    mainButton(null);
    const message = el("p", { id: "promo-message" });
    const post = (path, payload) => json(path, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(payload) });
    const failed = (text) => { message.className = "errors"; message.textContent = text; };
    const discount = (c) => (c.percent_off !== null ? tr("{percent}% off", { percent: number(c.percent_off) }) : tr("{amount} off", { amount: money(c.amount_off, body.currency) }));
    const details = (c) => [discount(c), c.tiers.length ? c.tiers.join(", ") : tr("all tiers"),
      c.ends_at ? tr("until {until}", { until: when(c.ends_at) }) : null,
      c.new_subscribers_only ? tr("new subscribers only") : null].filter(Boolean).join(" · ");
    const uses = (c) => (c.max_uses ? tr("{uses} of {limit}", { uses: number(c.uses), limit: number(c.max_uses) }) : number(c.uses));
    const revenue = (c) => money(c.revenue, body.currency) + (c.revenue_stars ? " + " + money(c.revenue_stars, "XTR") : "");
    async function change(code, status) {
      try {
        const { status: answer, body: reply } = await post(`/api/channels/${token}/promo_status`, { code, status });
        if (answer === 422) return failed(reply.errors.map((e) => e.reason).join(" "));
        await codesTab();
      } catch (error) { failed(error.message); }
    }
    const actions = (c) => {
      if (c.status === "ended") return [];
      const toggle = c.status === "active" ? ["paused", "Pause"] : ["active", "Resume"];
      return [el("button", { class: "btn secondary", type: "button", "data-action": toggle[0], onclick: () => change(c.code, toggle[0]) }, tr(toggle[1])),
        el("button", { class: "btn secondary", type: "button", "data-action": "ended", onclick: () => change(c.code, "ended") }, tr("End"))];
    };
    const list = body.codes.length
      ? el("table", { id: "codes" },
        el("thead", {}, el("tr", {}, ["Code", "Uses", "Revenue", "Status"].map((h) => el("th", {}, tr(h))), el("th", {}))),
        el("tbody", {}, body.codes.map((c) => el("tr", { class: "promo", "data-code": c.code },
          el("td", {}, el("b", {}, c.code), el("br"), el("span", { class: "hint" }, details(c)), el("br"),
            el("a", { class: "share", href: c.link, target: "_blank", rel: "noopener" }, c.link)),
          el("td", { class: "uses" }, uses(c)), el("td", { class: "promo-revenue" }, revenue(c)),
          el("td", {}, el("span", { class: "tag " + c.status }, tr(c.status))),
          el("td", {}, el("div", { class: "row" }, actions(c)))))))
      : el("p", { class: "state empty", id: "no-codes" }, tr("No promo codes yet: make one below (or send /promo to the bot)."));
    const field = (name, label, attrs) => el("label", {}, label, el("input", Object.assign({ name }, attrs || {})));
    const form = el("form", { id: "promo-form" },
      el("h2", {}, tr("New code")),
      field("code", tr("Code (4 to 32 letters and digits)"), { maxlength: "32", autocapitalize: "characters", required: "" }),
      field("discount", tr("Discount: 20% or an amount in USD"), { placeholder: "20%", required: "" }),
      el("label", {}, tr("Tiers"), el("select", { name: "tier" }, el("option", { value: "" }, tr("All tiers")),
        body.tiers.map((t) => el("option", { value: t.tier_id }, t.label)))),
      field("starts_at", tr("First day (optional, UTC)"), { type: "date" }),
      field("ends_at", tr("Last day (optional, UTC)"), { type: "date" }),
      field("max_uses", tr("Uses in all (optional)"), { inputmode: "numeric" }),
      field("max_uses_per_buyer", tr("Uses per buyer (optional)"), { inputmode: "numeric" }),
      el("label", { class: "check" }, el("input", { name: "new_subscribers_only", type: "checkbox" }), tr("New subscribers only")),
      el("button", { class: "btn", type: "submit", id: "create-code" }, tr("Create code")), message);
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const v = (n) => form.elements[n].value.trim();
      const payload = { code: v("code"), discount: v("discount"), tier_ids: v("tier") ? [v("tier")] : [],
        starts_at: v("starts_at"), ends_at: v("ends_at"), max_uses: v("max_uses"), max_uses_per_buyer: v("max_uses_per_buyer"),
        new_subscribers_only: form.elements.new_subscribers_only.checked };
      try {
        const { status, body: reply } = await post(`/api/channels/${token}/promos`, payload);
        if (status === 422) return failed(reply.errors.map((e) => e.reason).join(" "));
        await codesTab();
        const shown = document.getElementById("promo-message");
        shown.className = "ok";
        shown.textContent = [tr("Created."), ...(reply.notes || [])].join(" ");
        if (tg && tg.HapticFeedback) tg.HapticFeedback.notificationOccurred("success");
      } catch (error) { failed(error.message); }
    });
    show(list, form);
  }

  const TABS = { overview, subscribers: subscribersTab, payouts: payoutsTab, settings: settingsTab,
    codes: codesTab }; // -- promo codes --
  TABS.support = supportTab; // -- support --

  // -- support: the channel's threads with buyers (open ones first), each with its messages --
  async function supportTab() {
    const { body } = await json(`/api/channels/${token}/support`);
    if (!body.threads.length) return show(el("p", { class: "state empty", id: "empty" }, tr("No support conversations yet. Buyers reach you with /support or the Help button.")));
    show(el("p", { class: "hint" }, tr("Answer in the bot: reply to the buyer's message there.")),
      ...body.threads.map((thread) => el("section", { class: "thread " + thread.status, "data-thread": thread.thread_id },
        el("h3", {}, `${thread.buyer} · ${tr(thread.status)}`),
        thread.closed_by ? el("p", { class: "hint" }, tr("Closed by {who}", { who: tr(thread.closed_by) })) : null,
        ...thread.messages.map((m) => el("p", { class: "message " + m.from },
          el("small", {}, `${tr(m.from)} · ${when(m.at)}`), el("br", {}), m.text)))));
  }

  async function open(name) {
    tab = name;
    // All channels together is the overview's; the other tabs show one channel (the first).
    if (token === "all" && name !== "overview") { token = channels[0].token; picker.value = token; }
    for (const b of tabs.querySelectorAll("button")) b.classList.toggle("on", b.dataset.tab === name);
    backButton(name !== "overview");
    state(tr("Loading…"), "loading");
    try { await TABS[name](); } catch (error) { state(error.message, "error"); }
  }

  async function start() {
    if (tg) { tg.ready(); tg.expand(); if (tg.BackButton) tg.BackButton.onClick(() => open("overview")); }
    document.documentElement.toggleAttribute("data-tg", Boolean(tg && tg.themeParams && tg.themeParams.bg_color));
    if (!initData) return state(tr("This page only opens from the TelePay bot in Telegram."), "error");
    try {
      await loadTexts();
      const { body: me } = await json("/api/me");
      channels = me.channels;
      if (!channels.length) return state(tr("You have no channels yet. Send /newchannel to the bot."), "empty");
      picker.replaceChildren(...channels.map((c) => el("option", { value: c.token },
        c.status === "paused" ? tr("{title} (paused)", { title: c.title }) : c.title)),
        channels.length > 1 ? el("option", { value: "all" }, tr("All channels")) : null); // -- dashboard --
      picker.hidden = channels.length < 2; tabs.hidden = false;
      token = channels[0].token;
      picker.addEventListener("change", () => {
        token = picker.value;
        open(tab);
      });
      tabs.addEventListener("click", (e) => { if (e.target.dataset.tab) open(e.target.dataset.tab); });
      await open("overview");
    } catch (error) { state(error.message, "error"); }
  }
  start();
})();
