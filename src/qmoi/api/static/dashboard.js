// QMOI dashboard: fills the server-rendered page from the JSON API and keeps it live
// through server-sent events. Every request carries the dashboard header (CSRF guard);
// the session itself is an HttpOnly cookie this script never sees.
"use strict";

const HEADERS = { "X-QMOI-Dashboard": "1" };
// the enabled providers, as the server lists them (a disabled one is never asked about)
let providers = [];
const REV = "/api/qmoi/accounts";
const charts = {};
const kes = (value) =>
  Number(value).toLocaleString("en-KE", { minimumFractionDigits: 0, maximumFractionDigits: 2 });

async function getJson(url) {
  const answer = await fetch(url, { headers: HEADERS, credentials: "same-origin" });
  if (answer.status === 401) { window.location.assign("/"); throw new Error("signed out"); }
  return answer.json();
}

function put(id, value, shown) {
  const node = document.getElementById(id);
  if (!node) return;
  node.dataset.value = String(value);
  node.textContent = shown === undefined ? String(value) : shown;
}

function row(cells) {
  const tr = document.createElement("tr");
  for (const cell of cells) {
    const td = document.createElement("td");
    td.textContent = cell === null || cell === undefined ? "" : String(cell);
    tr.appendChild(td);
  }
  return tr;
}

function chart(id, config) {
  if (typeof Chart === "undefined") return;
  if (charts[id]) {
    charts[id].data = config.data;
    charts[id].update("none");
  } else {
    charts[id] = new Chart(document.getElementById(id), config);
  }
}

function renderProvider(name, m, hourly) {
  put(`earned-${name}`, m.dailyEarnings, kes(m.dailyEarnings));
  put(`target-${name}`, m.target, kes(m.target));
  put(`progress-${name}`, m.targetProgress);
  put(`minimum-${name}`, m.minimum, kes(m.minimum));
  put(`transferred-${name}`, m.transferredToday, kes(m.transferredToday));
  put(`auto-${name}`, m.autoTransferStatus);
  put(`goal-${name}`, m.growth.goal, String(Math.round(m.growth.goal * 1000) / 10));
  const growth = m.growth.vsYesterday;
  put(`growth-${name}`, growth === null ? "" : growth, growth === null ? "n/a" : `${growth}%`);
  document.getElementById(`fill-${name}`).style.width = `${Math.min(100, m.targetProgress)}%`;
  const minimumAt = m.target > 0 ? Math.min(100, (100 * m.minimum) / m.target) : 0;
  document.getElementById(`min-${name}`).style.left = `${minimumAt}%`;
  const body = document.getElementById(`streams-${name}`);
  const streams = Object.entries(m.streamPerformance);
  body.replaceChildren(...streams.map(([s, v]) => row([s, kes(v.earned), kes(v.target)])));
  chart(`streams-chart-${name}`, {
    type: "bar",
    data: {
      labels: streams.map(([s]) => s),
      datasets: [
        { label: "earned", data: streams.map(([, v]) => v.earned), backgroundColor: "#0b6e4f" },
        { label: "target", data: streams.map(([, v]) => v.target), backgroundColor: "#c9d2dd" },
      ],
    },
    options: { animation: false, responsive: true, maintainAspectRatio: false },
  });
  chart(`hourly-chart-${name}`, {
    type: "line",
    data: {
      labels: [...Array(24).keys()].map((h) => `${h}h`),
      datasets: [
        { label: "today", data: hourly.today, borderColor: "#0b6e4f" },
        { label: "yesterday", data: hourly.yesterday, borderColor: "#8d99ae", borderDash: [4, 4] },
      ],
    },
    options: { animation: false, responsive: true, maintainAspectRatio: false },
  });
}

async function loadTransfers() {
  const lists = await Promise.all(
    providers.map((p) =>
      getJson(`${REV}/${p}/transactions?kind=transfer&limit=10`).then((a) =>
        a.items.map((x) => ({ provider: p, ...x }))),
    ),
  );
  const items = lists.flat().sort((a, b) => (a.created_at < b.created_at ? 1 : -1)).slice(0, 15);
  document.getElementById("transfer-rows").replaceChildren(
    ...items.map((x) => row([x.provider, x.id, x.trigger, kes(x.amount), x.status,
      x.provider_reference, x.created_at.slice(11, 19)])),
  );
}

async function loadTransactions() {
  const provider = document.getElementById("filter-provider").value;
  const query = new URLSearchParams({ limit: "15" });
  for (const f of ["kind", "status"]) {
    const value = document.getElementById(`filter-${f}`).value;
    if (value) query.set(f, value);
  }
  const page = await getJson(`${REV}/${provider}/transactions?${query}`);
  document.getElementById("transaction-rows").replaceChildren(
    ...page.items.map((x) => row([x.created_at.slice(11, 19), x.kind, x.stream, kes(x.amount),
      x.status, x.msisdn, x.id])),
  );
}

async function load() {
  const board = await getJson("/dashboard/data");
  providers = board.providers.map((p) => p.key);
  const c = board.metrics.combined;
  put("combined-earned", c.combined, `KES ${kes(c.combined)}`);
  put("combined-target", c.target, kes(c.target));
  put("combined-progress", c.progress);
  put("combined-day", c.day);
  for (const name of providers) {
    if (board.metrics.accounts[name]) {
      renderProvider(name, board.metrics.accounts[name], board.hourly[name]);
    }
  }
  // the owner's own conversion, shown as such (QMOI never fetches a rate)
  const r = c.reporting;
  const reportingLine = document.getElementById("reporting");
  if (r) {
    const rates = r.rates.map((x) => `${x.currency} ${x.rate} of ${x.asOf}`).join(", ");
    reportingLine.textContent = r.earned === null
      ? `No ${r.currency} total: no rate given for ${r.missing.join(", ")}`
      : `≈ ${r.currency} ${kes(r.earned)} of ${kes(r.target)} in all currencies, at your rates (${rates})`;
    reportingLine.hidden = false;
  }
  // each currency's own total: amounts in different currencies are never added
  for (const [currency, t] of Object.entries(c.byCurrency || {})) {
    put(`currency-earned-${currency}`, t.earned, `${currency} ${kes(t.earned)}`);
    put(`currency-target-${currency}`, t.target, kes(t.target));
    put(`currency-progress-${currency}`, t.progress);
  }
  const failing = Object.entries(board.failing_channels);
  document.getElementById("failing-channels").textContent = failing.length
    ? `Notification channels failing: ${failing.map(([c, n]) => `${c} (${n})`).join(", ")}`
    : "";
  document.getElementById("alert-list").replaceChildren(
    ...board.alerts.map((a) => {
      const li = document.createElement("li");
      li.textContent = `${a.created_at.slice(0, 19).replace("T", " ")} — ${a.message}`;
      return li;
    }),
  );
  await Promise.all([loadTransfers(), loadTransactions()]);
  document.body.dataset.loaded = board.metrics.combined.lastUpdate;
}

function listen() {
  const events = new EventSource("/dashboard/events");
  const live = document.getElementById("live");
  events.addEventListener("open", () => live.classList.add("on"));
  events.addEventListener("error", () => live.classList.remove("on"));
  events.addEventListener("changed", () => { load().catch(() => {}); });
}

function transferForm() {
  const form = document.getElementById("transfer-form");
  if (!form) return;
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const choice = document.getElementById("transfer-provider");
    const provider = choice.value;
    const currency = choice.selectedOptions[0].dataset.currency;
    const amount = document.getElementById("transfer-amount").value.trim();
    const result = document.getElementById("transfer-result");
    if (!window.confirm(`Transfer ${currency} ${amount} to the owner's ${provider} wallet now?`)) {
      return;
    }
    const answer = await fetch(`${REV}/${provider}/transfer`, {
      method: "POST",
      credentials: "same-origin",
      headers: { ...HEADERS, "Content-Type": "application/json",
        "Idempotency-Key": crypto.randomUUID() },
      body: JSON.stringify({ amount }),
    });
    const body = await answer.json();
    result.className = answer.ok ? "" : "error";
    result.textContent = answer.ok
      ? `Transfer ${body.id} is ${body.status}.`
      : body.error.message;
    load().catch(() => {});
  });
}

// one account's view: the other cards (and currencies left empty) are hidden, and the
// transactions and the transfer form follow the choice
function accountView() {
  const view = document.getElementById("account-view");
  if (!view) return;
  view.addEventListener("change", () => {
    const chosen = view.value;
    for (const card of document.querySelectorAll("[data-account]")) {
      card.hidden = Boolean(chosen) && card.dataset.account !== chosen;
    }
    for (const group of document.querySelectorAll("section.currency")) {
      group.hidden = ![...group.querySelectorAll("[data-account]")].some((c) => !c.hidden);
    }
    if (chosen) {
      document.getElementById("filter-provider").value = chosen;
      const form = document.getElementById("transfer-provider");
      if (form) form.value = chosen;
      loadTransactions().catch(() => {});
    }
  });
}

document.addEventListener("DOMContentLoaded", () => {
  accountView();
  for (const f of ["provider", "kind", "status"]) {
    document.getElementById(`filter-${f}`).addEventListener("change", () => loadTransactions());
  }
  transferForm();
  load().then(listen);
});
