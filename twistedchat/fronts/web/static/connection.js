// The WebSocket to the server's /ws, kept open: one JSON object per message
// each way; when it closes (the server restarts, the network drops) it is
// opened again after 1, 2, 4… seconds (at most 15), with the state said as
// it changes: "connecting", "connected", "reconnecting" (and in how many
// seconds). A stop() (the user quits, or the server put us out) ends it.

const FIRST_DELAY = 1;
const LONGEST_DELAY = 15;

export class ServerConnection {
  /**
   * listener: { opened(), received(object), closed(), state(name, seconds) }.
   */
  constructor(url, listener) {
    this.url = url;
    this.listener = listener;
    this.socket = null;
    this.delay = FIRST_DELAY;
    this.timer = null;
    this.stopped = false;
  }

  open() {
    this.stopped = false;
    this.listener.state("connecting", 0);
    const socket = new WebSocket(this.url);
    this.socket = socket;
    socket.addEventListener("open", () => {
      this.delay = FIRST_DELAY;
      this.listener.state("connected", 0);
      this.listener.opened();
    });
    socket.addEventListener("message", (event) => {
      let object;
      try {
        object = JSON.parse(event.data);
      } catch {
        return; // the server speaks JSON only: nothing else to show
      }
      if (object && typeof object === "object" && typeof object.type === "string") {
        this.listener.received(object);
      }
    });
    socket.addEventListener("close", () => {
      if (this.socket !== socket) return;
      this.socket = null;
      this.listener.closed();
      if (!this.stopped) this.retry();
    });
  }

  retry() {
    let seconds = this.delay;
    this.delay = Math.min(this.delay * 2, LONGEST_DELAY);
    const tick = () => {
      if (this.stopped) return;
      if (seconds <= 0) {
        this.timer = null;
        this.open();
        return;
      }
      this.listener.state("reconnecting", seconds);
      seconds -= 1;
      this.timer = setTimeout(tick, 1000);
    };
    tick();
  }

  get connected() {
    return this.socket !== null && this.socket.readyState === WebSocket.OPEN;
  }

  send(object) {
    if (!this.connected) return false;
    this.socket.send(JSON.stringify(object));
    return true;
  }

  /** No more reconnections: the user left, or the server put them out. */
  stop(state = "closed") {
    this.stopped = true;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    if (this.socket !== null) this.socket.close();
    this.listener.state(state, 0);
  }
}
