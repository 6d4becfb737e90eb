// The phoneauth demo page: plain JavaScript, no framework, no build step.
// It calls the API with relative URLs (client/login from /demo is
// /client/login, and /prefix/client/login under a path prefix), keeps the
// session in this page's memory only, and writes every request and answer
// to the protocol panel. Nothing here writes HTML from text: every value
// reaches the page through textContent.
"use strict";

(function () {
  const $ = (id) => document.getElementById(id);

  // The page's whole state, in memory: a reload forgets it.
  const state = {
    registration: { phone: "", token: "" },
    reset: { phone: "" },
    // session: { phone, token, refreshToken, expiresAt, refreshExpiresAt } (ms)
    session: null,
    // revokedToken: the access token given up at the last logout, to show
    // that the service refuses it.
    revokedToken: "",
    seq: 0,
  };

  // Fields whose value the protocol panel never shows.
  const SECRET_FIELDS = new Set(["password", "password_confirm"]);
  const MASK = "••••••••";

  // ---- the API ----------------------------------------------------------

  // api sends one request and returns {status, body} (body {} when the
  // answer is not JSON), or null when the service could not be reached.
  async function api(method, path, body, options) {
    const opts = options || {};
    const headers = {};
    if (body !== undefined) headers["Content-Type"] = "application/json";
    if (opts.token) headers["Authorization"] = "Bearer " + opts.token;
    const entry = logRequest(method, path, headers, body, opts.note);
    const started = performance.now();
    let res;
    let text;
    try {
      res = await fetch(path, {
        method: method,
        headers: headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        credentials: "omit",
        cache: "no-store",
        redirect: "error",
      });
      text = await res.text();
    } catch (err) {
      logNoAnswer(entry, err);
      showNotice(false, "The service did not answer (" + err.message + "). Is it still running?", "");
      return null;
    }
    let json = null;
    try {
      json = JSON.parse(text);
    } catch (_) {
      json = null;
    }
    logAnswer(entry, res.status, json, text, performance.now() - started);
    return { status: res.status, body: json && typeof json === "object" ? json : {} };
  }

  // answered shows the service's message as it sent it and reports
  // whether the answer is a success (code 1).
  function answered(a) {
    if (!a) return false;
    const ok = a.body.code === 1;
    let reason = a.body.error || "";
    if (a.body.retry_after) reason += (reason ? " · " : "") + "retry in " + humanDuration(a.body.retry_after);
    const message = typeof a.body.message === "string" ? a.body.message : "HTTP " + a.status;
    showNotice(ok, message, reason);
    return ok;
  }

  // ---- the notice: the service's message, verbatim -----------------------

  function showNotice(ok, message, reason) {
    const n = $("notice");
    n.classList.toggle("ok", ok);
    n.classList.toggle("fail", !ok);
    $("notice-message").textContent = message;
    const r = $("notice-reason");
    r.textContent = reason;
    r.hidden = !reason;
    n.hidden = false;
  }

  function hideNotice() {
    $("notice").hidden = true;
  }

  // ---- screens and steps ---------------------------------------------------

  const SCREENS = ["register", "login", "account", "reset"];

  let currentScreen = "";

  function showScreen(name, keepNotice, initial) {
    // A finished flow starts again when its screen is opened anew.
    if (name !== currentScreen) {
      for (const flow of ["register", "reset"]) {
        if (name === flow && !$(flow + "-done").hidden) showStep(flow, 1, true);
      }
    }
    currentScreen = name;
    for (const s of SCREENS) {
      $("screen-" + s).hidden = s !== name;
      const tab = $("tab-" + s);
      tab.classList.toggle("active", s === name);
      if (s === name) tab.setAttribute("aria-current", "page");
      else tab.removeAttribute("aria-current");
    }
    if (!keepNotice) hideNotice();
    if (name === "account") renderAccount(true);
    // A number typed on one screen is offered on the next.
    if (name === "login" && !$("login-phone").value) {
      $("login-phone").value = state.registration.phone || state.reset.phone || "";
    }
    if (name === "reset" && !$("reset-phone").value) {
      $("reset-phone").value = value("login-phone") || state.registration.phone || "";
    }
    if (!initial) focusFirst($("screen-" + name));
  }

  // showStep shows one step of a screen's forms (1, 2, … or "done") and
  // marks the stepper: steps before it done, it current.
  function showStep(screen, step, quiet) {
    const root = $("screen-" + screen);
    for (const el of root.querySelectorAll(".step[data-step]")) {
      el.hidden = el.dataset.step !== String(step);
    }
    for (const li of root.querySelectorAll(".stepper li")) {
      const n = Number(li.dataset.step);
      const current = step === "done" ? Infinity : Number(step);
      li.classList.toggle("done", n < current);
      li.classList.toggle("current", n === current);
    }
    for (const el of root.querySelectorAll(".echo-phone")) {
      el.textContent = screen === "reset" ? state.reset.phone : state.registration.phone;
    }
    if (!quiet) focusFirst(root);
  }

  // focusFirst puts the cursor in the first field shown under root.
  function focusFirst(root) {
    for (const input of root.querySelectorAll("input")) {
      if (!input.closest("[hidden]")) {
        input.focus();
        return;
      }
    }
  }

  // busy disables a form's buttons while its request is out.
  async function busy(form, fn) {
    const buttons = form.querySelectorAll("button");
    for (const b of buttons) b.disabled = true;
    form.setAttribute("aria-busy", "true");
    try {
      await fn();
    } finally {
      for (const b of buttons) b.disabled = false;
      form.removeAttribute("aria-busy");
    }
  }

  function onSubmit(id, fn) {
    const form = $(id);
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      busy(form, fn);
    });
  }

  function onClick(id, fn) {
    const button = $(id);
    button.addEventListener("click", async () => {
      button.disabled = true;
      try {
        await fn();
      } finally {
        button.disabled = false;
      }
    });
  }

  const value = (id) => $(id).value.trim();

  // ---- registration ---------------------------------------------------------

  onSubmit("register-1", async () => {
    const phone = value("register-phone");
    const a = await api("POST", "client/register-step-1", { phone_number: phone });
    if (!answered(a)) return;
    state.registration = { phone: phone, token: "" };
    $("register-code").value = "";
    showStep("register", 2);
  });

  onSubmit("register-2", async () => {
    const reg = state.registration;
    const a = await api("POST", "client/register-step-2", { phone_number: reg.phone, validate_number: value("register-code") }, {
      note: "Success answers a registration_token: this page sends it back at steps 3 and 4, so that only the client that verified may continue.",
    });
    if (!answered(a)) return;
    reg.token = a.body.registration_token || "";
    showStep("register", 3);
  });

  onSubmit("register-3", async () => {
    const reg = state.registration;
    const a = await api("POST", "client/register-step-3", {
      phone_number: reg.phone,
      password: $("register-password").value,
      password_confirm: $("register-confirm").value,
      registration_token: reg.token,
    });
    if (!answered(a)) return;
    $("register-password").value = "";
    $("register-confirm").value = "";
    showStep("register", 4);
  });

  onSubmit("register-4", async () => {
    const reg = state.registration;
    const a = await api("POST", "client/register-step-4", { phone_number: reg.phone, email: value("register-email"), registration_token: reg.token });
    if (!answered(a)) return;
    reg.token = "";
    $("login-phone").value = reg.phone;
    showStep("register", "done");
  });

  // ---- login: the proof is computed here ------------------------------------

  function hex(bytes) {
    return Array.from(new Uint8Array(bytes), (b) => b.toString(16).padStart(2, "0")).join("");
  }

  // proof is the login proof of password: a fresh random_str, the current
  // Unix time in seconds as text, and lowercase hex SHA-256 of the UTF-8
  // bytes of password ‖ random_str ‖ time_stamp.
  async function proof(password) {
    const random = new Uint8Array(16);
    crypto.getRandomValues(random);
    const randomStr = hex(random);
    const timeStamp = String(Math.floor(Date.now() / 1000));
    const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(password + randomStr + timeStamp));
    return { random_str: randomStr, time_stamp: timeStamp, encryption_str: hex(digest) };
  }

  onSubmit("login-form", async () => {
    if (!window.isSecureContext || !window.crypto || !crypto.subtle) {
      showNotice(false, "This browser offers Web Crypto only on a secure page: open the demo at localhost or over HTTPS.", "");
      return;
    }
    const phone = value("login-phone");
    const p = await proof($("login-password").value);
    $("proof-random").textContent = p.random_str;
    $("proof-time").textContent = p.time_stamp;
    $("proof-hash").textContent = p.encryption_str;
    $("proof").hidden = false;
    const a = await api("POST", "client/login", { phone_number: phone, encryption_str: p.encryption_str, random_str: p.random_str, time_stamp: p.time_stamp }, {
      note: "encryption_str = SHA-256(password ‖ random_str ‖ time_stamp), computed in this browser: the password itself is not sent.",
    });
    if (!answered(a)) return;
    $("login-password").value = "";
    startSession(phone, a.body);
    showScreen("account", true);
  });

  function startSession(phone, b) {
    const now = Date.now();
    state.session = {
      phone: phone,
      token: b.token,
      refreshToken: b.refresh_token || "",
      expiresAt: now + (b.expires_in || 0) * 1000,
      refreshExpiresAt: now + (b.refresh_expires_in || 0) * 1000,
    };
    state.revokedToken = "";
  }

  // ---- the account -------------------------------------------------------------

  function renderAccount(load) {
    const s = state.session;
    $("account-none").hidden = !!s;
    $("account-view").hidden = !s;
    $("revoked").hidden = !!s || !state.revokedToken;
    if (!s) return;
    $("session-token").textContent = shorten(s.token, 18);
    $("session-token-exp").textContent = "expires in " + humanDuration((s.expiresAt - Date.now()) / 1000);
    $("session-refresh").textContent = s.refreshToken ? shorten(s.refreshToken, 18) : "none";
    $("session-refresh-exp").textContent = s.refreshToken ? "expires in " + humanDuration((s.refreshExpiresAt - Date.now()) / 1000) : "";
    if (load) loadAccount();
  }

  async function loadAccount() {
    const s = state.session;
    const a = await api("GET", "client", undefined, { token: s.token });
    if (!a) return;
    if (a.status === 401) {
      answered(a);
      endSession("");
      return;
    }
    if (!answered(a)) return;
    $("account-phone").textContent = a.body.phone_number || "—";
    $("account-email").textContent = a.body.email || "—";
    $("account-created").textContent = a.body.created_at || "—";
  }

  function endSession(revoked) {
    state.session = null;
    state.revokedToken = revoked;
    for (const id of ["account-phone", "account-email", "account-created"]) $(id).textContent = "—";
    renderAccount(false);
  }

  onClick("reload-account", () => loadAccount());

  onClick("refresh-session", async () => {
    const s = state.session;
    const a = await api("POST", "client/token/refresh", { refresh_token: s.refreshToken }, {
      note: "A refresh token is good for one refresh: the answer carries the next pair, which replaces the one held.",
    });
    if (!a) return;
    if (!answered(a)) {
      if (a.status === 401) endSession("");
      return;
    }
    startSession(s.phone, a.body);
    renderAccount(false);
  });

  async function logout(all) {
    const s = state.session;
    const a = await api("POST", "client/logout", all ? { all: true } : {}, {
      token: s.token,
      note: all ? "\"all\": true ends every session of the account, on every device." : "Ends this session: its access token and its refresh chain.",
    });
    if (!answered(a)) return;
    endSession(s.token);
  }

  onClick("logout", () => logout(false));
  onClick("logout-all", () => logout(true));

  onClick("check-old-token", async () => {
    const a = await api("GET", "client", undefined, {
      token: state.revokedToken,
      note: "The access token given up at logout: refused at once (401, code 2).",
    });
    answered(a);
  });

  // ---- password reset ---------------------------------------------------------------

  onSubmit("reset-1", async () => {
    const phone = value("reset-phone");
    const a = await api("POST", "client/reset-password-step-1", { phone_number: phone });
    if (!answered(a)) return;
    state.reset.phone = phone;
    $("reset-code").value = "";
    showStep("reset", 2);
  });

  onSubmit("reset-2", async () => {
    const phone = state.reset.phone;
    const a = await api("POST", "client/reset-password-step-2", {
      phone_number: phone,
      validate_number: value("reset-code"),
      password: $("reset-password").value,
      password_confirm: $("reset-confirm").value,
    }, { note: "A reset revokes every session of the account; it answers no tokens: log in with the new password." });
    if (!answered(a)) return;
    $("reset-password").value = "";
    $("reset-confirm").value = "";
    if (state.session) endSession(state.session.token);
    $("login-phone").value = phone;
    showStep("reset", "done");
  });

  // ---- the protocol panel -------------------------------------------------------------

  // shorten keeps the head and the tail of a long value (a token), so the
  // panel stays readable and two tokens still look different; the length
  // tells what was left out.
  function shorten(s, keep) {
    if (typeof s !== "string" || s.length <= keep + 16) return s;
    return s.slice(0, keep) + "…" + s.slice(-8) + " (" + s.length + " chars)";
  }

  function forDisplay(v) {
    if (Array.isArray(v)) return v.map(forDisplay);
    if (v && typeof v === "object") {
      const out = {};
      for (const k of Object.keys(v)) out[k] = SECRET_FIELDS.has(k) ? MASK : forDisplay(v[k]);
      return out;
    }
    // A proof or a registration token is shown whole; tokens are long.
    return typeof v === "string" && v.length > 80 ? shorten(v, 28) : v;
  }

  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }

  function logRequest(method, path, headers, body, note) {
    $("log-empty").hidden = true;
    state.seq += 1;
    const li = el("li", "exchange pending");
    const head = el("div", "exchange-head");
    head.append(el("span", "seq", "#" + state.seq), el("span", "method", method), el("code", "path", new URL(path, document.baseURI).pathname));
    const status = el("span", "status", "…");
    const elapsed = el("span", "elapsed", "");
    head.append(status, elapsed);
    li.append(head);
    if (note) li.append(el("p", "exchange-note", note));
    const lines = Object.keys(headers).map((k) => k + ": " + (k === "Authorization" ? "Bearer " + shorten(headers[k].slice(7), 18) : headers[k]));
    let text = lines.join("\n");
    if (body !== undefined) text += (text ? "\n\n" : "") + JSON.stringify(forDisplay(body), null, 2);
    li.append(part("Request", text || "(no body)"));
    const log = $("log");
    log.prepend(li);
    return { li: li, status: status, elapsed: elapsed };
  }

  function part(label, text) {
    const d = el("div", "exchange-part");
    d.append(el("span", "part-label", label), el("pre", "part-body", text));
    return d;
  }

  function logAnswer(entry, status, json, text, ms) {
    entry.status.textContent = String(status);
    entry.elapsed.textContent = Math.max(1, Math.round(ms)) + " ms";
    let kind = "fail";
    if (status >= 200 && status < 300 && json && json.code === 1) kind = "ok";
    else if (status >= 200 && status < 300) kind = "refused";
    entry.li.classList.remove("pending");
    entry.li.classList.add(kind);
    entry.status.classList.add(kind);
    entry.li.append(part("Answer", json ? JSON.stringify(forDisplay(json), null, 2) : text || "(empty)"));
  }

  function logNoAnswer(entry, err) {
    entry.status.textContent = "no answer";
    entry.li.classList.remove("pending");
    entry.li.classList.add("fail");
    entry.li.append(part("Answer", String(err)));
  }

  $("clear-log").addEventListener("click", () => {
    $("log").replaceChildren();
    $("log-empty").hidden = false;
  });

  // ---- small things ---------------------------------------------------------------------

  function humanDuration(seconds) {
    const s = Math.max(0, Math.round(seconds));
    if (s >= 2 * 86400) return Math.round(s / 86400) + " days";
    if (s >= 2 * 3600) return Math.round(s / 3600) + " hours";
    if (s >= 120) return Math.round(s / 60) + " minutes";
    return s + " s";
  }

  // Buttons that lead to a screen (the tabs, "Log in") or back to a step.
  for (const b of document.querySelectorAll("[data-screen]")) {
    b.addEventListener("click", () => showScreen(b.dataset.screen));
  }
  for (const b of document.querySelectorAll("[data-goto-step]")) {
    b.addEventListener("click", () => {
      const screen = b.closest(".screen").id.replace("screen-", "");
      hideNotice();
      showStep(screen, b.dataset.gotoStep);
    });
  }

  showStep("register", 1, true);
  showStep("reset", 1, true);
  showScreen("register", false, true);
})();
