// One WebSocket for the whole app (docs/realtime.md). Tracks the last seq per channel, resubscribes
// with `since` after a drop, drops anything already seen, and asks views to refetch on `reset`.

import { api, isLoggedIn } from "./api.js";

const MAX_BACKOFF_MS = 15000;

export class Realtime {
  constructor() {
    this.ws = null;
    this.channels = new Map(); // name -> {lastSeq, handlers:Set, resetHandlers:Set, forbidden}
    this.status = "connecting";
    this.statusListeners = new Set();
    this.attempt = 0;
    this.timer = null;
    this.held = false; // a test or the user took us offline on purpose
    this.stats = { received: 0, duplicates: 0, reconnects: 0, resets: 0, byType: {} };
    this.generation = 0;
    this.ephemeralListeners = new Set(); // frames without seq (typing): not tracked, not replayed
  }

  /** Listen to ephemeral frames such as `typing`; returns a function that stops listening. */
  onEphemeral(fn) { this.ephemeralListeners.add(fn); return () => this.ephemeralListeners.delete(fn); }

  onStatus(fn) { this.statusListeners.add(fn); fn(this.status); return () => this.statusListeners.delete(fn); }

  setStatus(status) {
    this.status = status;
    this.statusListeners.forEach((fn) => fn(status));
  }

  /** Listen to a channel; returns a function that stops listening. */
  subscribe(channel, handler, { onReset } = {}) {
    let entry = this.channels.get(channel);
    if (!entry) {
      entry = { lastSeq: null, handlers: new Set(), resetHandlers: new Set(), forbidden: false };
      this.channels.set(channel, entry);
      this.sendSubscribe(channel, entry);
    }
    entry.handlers.add(handler);
    if (onReset) entry.resetHandlers.add(onReset);
    return () => {
      entry.handlers.delete(handler);
      if (onReset) entry.resetHandlers.delete(onReset);
      if (entry.handlers.size === 0) {
        this.channels.delete(channel);
        this.send({ op: "unsubscribe", channel });
      }
    };
  }

  send(frame) {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(frame));
  }

  sendSubscribe(channel, entry) {
    const frame = { op: "subscribe", channel };
    if (entry.lastSeq !== null) frame.since = entry.lastSeq;
    this.send(frame);
  }

  /** (Re)connect now, e.g. after logging in or out: private channels need a fresh ticket. */
  async connect() {
    clearTimeout(this.timer);
    const generation = ++this.generation;
    if (this.ws) {
      const old = this.ws;
      this.ws = null;
      old.close(1000, "reconnecting");
    }
    if (this.held) { this.setStatus("offline"); return; }
    this.setStatus(this.attempt === 0 ? "connecting" : "reconnecting");
    let query = "";
    if (isLoggedIn()) {
      try {
        const { ticket } = await api("/api/realtime/ticket", { method: "POST" });
        query = `?ticket=${encodeURIComponent(ticket)}`;
      } catch {
        if (generation === this.generation) this.scheduleReconnect();
        return;
      }
    }
    if (generation !== this.generation) return;
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    const ws = new WebSocket(`${scheme}//${location.host}/ws${query}`);
    this.ws = ws;
    ws.addEventListener("open", () => {
      if (ws !== this.ws) return;
      if (this.attempt > 0) this.stats.reconnects += 1;
      this.attempt = 0;
      this.setStatus("live");
      for (const [channel, entry] of this.channels) this.sendSubscribe(channel, entry);
    });
    ws.addEventListener("message", (message) => { if (ws === this.ws) this.receive(message.data); });
    ws.addEventListener("close", () => {
      if (ws !== this.ws) return;
      this.ws = null;
      this.scheduleReconnect();
    });
  }

  scheduleReconnect() {
    clearTimeout(this.timer);
    if (this.held) { this.setStatus("offline"); return; }
    this.setStatus("reconnecting");
    const delay = Math.min(MAX_BACKOFF_MS, 300 * 2 ** this.attempt) * (0.75 + Math.random() / 2);
    this.attempt += 1;
    this.timer = setTimeout(() => this.connect(), delay);
  }

  receive(text) {
    let frame;
    try { frame = JSON.parse(text); } catch { return; }
    const entry = frame.channel ? this.channels.get(frame.channel) : null;
    switch (frame.op) {
      case "subscribed":
        // Fresh subscription: start after the current seq. Resumed: the replay follows from our own seq.
        if (entry && entry.lastSeq === null) entry.lastSeq = frame.seq;
        break;
      case "event":
        if (!entry) return;
        if (entry.lastSeq !== null && frame.seq <= entry.lastSeq) { this.stats.duplicates += 1; return; }
        entry.lastSeq = frame.seq;
        this.stats.received += 1;
        this.stats.byType[frame.type] = (this.stats.byType[frame.type] || 0) + 1;
        for (const handler of [...entry.handlers]) {
          try { handler(frame); } catch (err) { console.error(err); }
        }
        break;
      case "reset":
        if (!entry) return;
        this.stats.resets += 1;
        entry.lastSeq = typeof frame.seq === "number" ? frame.seq : null;
        for (const handler of [...entry.resetHandlers]) {
          try { handler(frame); } catch (err) { console.error(err); }
        }
        break;
      case "error":
        if (entry && frame.code === "forbidden") entry.forbidden = true;
        break;
      case "typing":
        for (const fn of [...this.ephemeralListeners]) {
          try { fn(frame); } catch (err) { console.error(err); }
        }
        break;
      default:
        break;
    }
  }

  /** Drop the socket and stay offline until goOnline() (tests, and a manual "pause" switch). */
  goOffline() {
    this.held = true;
    clearTimeout(this.timer);
    if (this.ws) { const ws = this.ws; this.ws = null; ws.close(4000, "client offline"); }
    this.setStatus("offline");
  }

  goOnline() {
    this.held = false;
    this.attempt = Math.max(this.attempt, 1);
    this.connect();
  }

  lastSeq(channel) { return this.channels.get(channel)?.lastSeq ?? null; }
}

export const realtime = new Realtime();
// Keep pings flowing so idle proxies do not cut a dashboard that stays open all day.
setInterval(() => realtime.send({ op: "ping" }), 25000);
