/**
 * One tutor conversation (one notebook) as a @jupyter/chat model.
 *
 * History comes over REST, live changes over the notebook's websocket; every message is
 * upserted by its id so reconnects and catch-ups never duplicate anything.
 */
import {
  AbstractChatContext,
  AbstractChatModel,
  IChatContext,
  IChatModel,
  IMessageContent,
  INewMessage,
  IUser
} from '@jupyter/chat';
import {
  ITranslator,
  nullTranslator,
  TranslationBundle
} from '@jupyterlab/translation';
import { ISignal, Signal } from '@lumino/signaling';

import {
  IAskReply,
  ITutorInfo,
  ITutorMessage,
  StreamFrame,
  TutorApiError,
  TutorClient
} from './api';
import { TRANSLATION_DOMAIN } from './i18n';

declare module '@jupyter/chat' {
  interface IMessageMetadata {
    ltt?: Pick<
      ITutorMessage,
      'role' | 'kind' | 'level' | 'status' | 'cell_id' | 'engine' | 'model'
    >;
  }
}

export { TRANSLATION_DOMAIN };

/** The three senders of a conversation. */
export interface IChatUsers {
  learner: IUser;
  tutor: IUser;
  system: IUser;
}

const usersByBundle = new WeakMap<TranslationBundle, IChatUsers>();

/** The senders with their names in the learner's language (one set per bundle). */
export function chatUsers(
  trans: TranslationBundle = nullTranslator.load(TRANSLATION_DOMAIN)
): IChatUsers {
  let users = usersByBundle.get(trans);
  if (!users) {
    users = {
      learner: {
        username: 'ltt-learner',
        display_name: trans.__('You'),
        initials: trans.__('Y'),
        color: 'var(--jp-accept-color-normal, var(--jp-success-color1))'
      },
      tutor: {
        username: 'ltt-tutor',
        display_name: trans.__('Tutor'),
        initials: trans.__('T'),
        color: 'var(--jp-brand-color1)',
        bot: true
      },
      system: {
        username: 'ltt-system',
        display_name: trans.__('Tutor notice'),
        initials: '!',
        color: 'var(--jp-warn-color1)',
        bot: true
      }
    };
    usersByBundle.set(trans, users);
  }
  return users;
}

export type ConnectionState = 'connecting' | 'live' | 'reconnecting' | 'closed';

export interface INotice {
  kind: 'budget' | 'unavailable' | 'error' | 'info';
  text: string;
}

export interface IContextCell {
  id: string;
  label: string;
}

/** Convert a server message into chat content. */
export function toChatContent(
  m: ITutorMessage,
  trans: TranslationBundle = nullTranslator.load(TRANSLATION_DOMAIN)
): IMessageContent {
  let body = m.text ?? '';
  if (m.role === 'learner' && m.kind === 'more' && !body.trim()) {
    body = trans.__('_More help, please._');
  }
  if (!body && m.status === 'streaming') {
    body = '…';
  }
  const users = chatUsers(trans);
  const sender =
    m.role === 'learner'
      ? users.learner
      : m.role === 'system'
        ? users.system
        : users.tutor;
  return {
    type: 'msg',
    id: m.id,
    body,
    time: m.created,
    sender,
    raw_time: false,
    metadata: {
      ltt: {
        role: m.role,
        kind: m.kind,
        level: m.level ?? null,
        status: m.status,
        cell_id: m.cell_id ?? null,
        engine: m.engine ?? null,
        model: m.model ?? null
      }
    }
  };
}

/** Reconnection delay (ms) for a given failed attempt: exponential with a cap, plus jitter. */
export function backoffDelay(attempt: number, random = Math.random): number {
  const base = Math.min(10000, 500 * Math.pow(2, Math.max(0, attempt)));
  return Math.round(base * (0.8 + 0.4 * random()));
}

class TutorChatContext extends AbstractChatContext {
  get users(): IUser[] {
    const users = (this._model as TutorChatModel).users;
    return [users.learner, users.tutor];
  }
}

export class TutorChatModel extends AbstractChatModel {
  constructor(options: TutorChatModel.IOptions) {
    super({
      ...options,
      id: `ltt-ext:${options.path}`,
      config: {
        sendWithShiftEnter: false,
        stackMessages: false,
        unreadNotifications: false,
        enableCodeToolbar: false,
        sendTypingNotification: false,
        ...(options.config ?? {})
      }
    });
    this.path = options.path;
    this.name = options.path;
    this._client = options.client;
    this._info = options.info ?? null;
    this._consent = options.consent ?? (() => false);
    this._trans = (options.translator ?? nullTranslator).load(
      TRANSLATION_DOMAIN
    );
    this._users = chatUsers(this._trans);
    this.setReady();
    window.addEventListener('online', this._onOnline);
  }

  readonly path: string;

  get user(): IUser {
    return this._users.learner;
  }

  /** The senders of this conversation (names translated). */
  get users(): IChatUsers {
    return this._users;
  }

  get info(): ITutorInfo | null {
    return this._info;
  }
  set info(value: ITutorInfo | null) {
    this._info = value;
    this._emit();
  }

  get connection(): ConnectionState {
    return this._connection;
  }
  /** Whether the tutor is working on something (server status, a pending request, or a stream). */
  get thinking(): boolean {
    return (
      this._serverThinking || this._pending > 0 || this._streaming.size > 0
    );
  }
  /** Ids of the tutor replies still streaming. */
  get streamingIds(): string[] {
    return Array.from(this._streaming);
  }
  get serverKernelState(): string | null {
    return this._serverKernelState;
  }
  get notice(): INotice | null {
    return this._notice;
  }
  set notice(value: INotice | null) {
    this._notice = value;
    this._emit();
  }
  get contextCell(): IContextCell | null {
    return this._contextCell;
  }
  set contextCell(value: IContextCell | null) {
    this._contextCell = value;
    this._emit();
  }
  get historyLoaded(): boolean {
    return this._historyLoaded;
  }
  /** The raw server message of an id. */
  getRaw(id: string): ITutorMessage | undefined {
    return this._raw.get(id);
  }

  /** Emitted when a new hint arrives live (e.g. the tutor reacting to an error). */
  get hintArrived(): ISignal<this, ITutorMessage> {
    return this._hintArrived;
  }

  /** Emitted whenever something the header shows changes. */
  get stateChanged(): ISignal<this, void> {
    return this._stateChanged;
  }

  /** Load the history and open the live stream. */
  start(): void {
    if (this._started || this.isDisposed) {
      return;
    }
    this._started = true;
    void this.catchUp();
    this._connect();
  }

  /** Fetch what happened since the newest update seen (everything the first time). */
  async catchUp(): Promise<void> {
    if (this.isDisposed) {
      return;
    }
    // One second of slack: upserting by id makes any overlap harmless.
    const since = this._maxUpdated > 0 ? this._maxUpdated - 1 : undefined;
    try {
      const messages = await this._client.history(this.path, since);
      if (this.isDisposed) {
        return;
      }
      for (const m of messages) {
        this.upsert(m, false);
      }
      this._historyLoaded = true;
      if (this._notice?.kind === 'unavailable') {
        this._notice = null;
      }
      this._emit();
    } catch (err) {
      if (!this.isDisposed) {
        this._setError(err, message =>
          this._trans.__(
            'The tutor could not load the conversation: %1',
            message
          )
        );
      }
    }
  }

  async sendMessage(message: INewMessage): Promise<boolean> {
    const text = (message.body ?? '').trim();
    if (!text) {
      return false;
    }
    const ok = await this._request(
      message => this._trans.__('The tutor could not answer: %1', message),
      () =>
        this._client.ask(
          this.path,
          text,
          this._contextCell?.id,
          this._consent()
        )
    );
    if (!ok && !this.input.value) {
      // Give the learner their words back.
      this.input.value = message.body;
    }
    return ok;
  }

  /** Climb the hint ladder ("More help"). */
  async more(): Promise<boolean> {
    return this._request(
      message =>
        this._trans.__('The tutor could not give more help: %1', message),
      () => this._client.more(this.path, this._contextCell?.id, this._consent())
    );
  }

  /** One tutor request (a question or "more help"): pending state, reply, or a clear error. */
  private async _request(
    failure: (message: string) => string,
    send: () => Promise<IAskReply>
  ): Promise<boolean> {
    this._pending++;
    this._emit();
    try {
      const reply = await send();
      this._notice = null;
      // Snapshots taken when the reply started: never shorter than the deltas already here.
      this.upsert(reply.question, false);
      this.upsert(reply.reply, false);
      this._noticeFromReply(reply.reply);
      return true;
    } catch (err) {
      this._setError(err, failure);
      return false;
    } finally {
      this._pending--;
      this._emit();
    }
  }

  /** The runaway-cell warning whose cell still runs: the panel offers Interrupt on it. */
  get runawayId(): string | null {
    return this._runawayId;
  }

  /** Interrupt the cell running in this notebook's kernel (the learner's click). */
  async interrupt(): Promise<boolean> {
    try {
      const result = await this._client.interrupt(this.path);
      if (!result.interrupted) {
        this._notice = {
          kind: 'info',
          text: this._trans.__(
            'Nothing was interrupted: %1',
            result.reason || this._trans.__('nothing is running')
          )
        };
        this._emit();
      }
      return result.interrupted;
    } catch (err) {
      this._setError(err, message =>
        this._trans.__('The cell could not be interrupted: %1', message)
      );
      return false;
    }
  }

  /** Stop every reply that is still streaming. */
  async stop(): Promise<void> {
    const ids = this.streamingIds;
    await Promise.all(
      ids.map(async id => {
        try {
          await this._client.stop(this.path, id);
        } catch (err) {
          this._setError(err, message =>
            this._trans.__('The tutor could not stop: %1', message)
          );
        }
      })
    );
  }

  createChatContext(): IChatContext {
    return new TutorChatContext({ model: this as IChatModel });
  }

  /**
   * Insert a message or update it in place (by id); stale versions are ignored.
   *
   * Live frames are authoritative (an update's text replaces the deltas); a snapshot (history,
   * the answer to ask/more) of a still-streaming message never shortens what the deltas built.
   */
  upsert(m: ITutorMessage, authoritative = true): void {
    if (!m || !m.id || (m.path && m.path !== this.path)) {
      return;
    }
    const previous = this._raw.get(m.id);
    if (previous) {
      if ((m.updated ?? 0) < (previous.updated ?? 0)) {
        return;
      }
      if (
        !authoritative &&
        m.updated === previous.updated &&
        m.status === 'streaming' &&
        previous.status === 'streaming' &&
        (m.text ?? '').length < (previous.text ?? '').length
      ) {
        // An older snapshot of a stream whose deltas we already have.
        return;
      }
    }
    const copy = { ...m };
    this._raw.set(m.id, copy);
    this._maxUpdated = Math.max(this._maxUpdated, m.updated || m.created || 0);
    if (m.status === 'streaming') {
      this._streaming.add(m.id);
    } else {
      this._streaming.delete(m.id);
    }
    const content = toChatContent(copy, this._trans);
    const existing = this.messages.find(msg => msg.id === m.id);
    if (existing) {
      existing.update({ body: content.body, metadata: content.metadata });
    } else {
      this.messageAdded(content);
      if (authoritative && this._historyLoaded && m.kind === 'hint') {
        this._hintArrived.emit(copy);
      }
    }
    this._updateWriters();
    this._emit();
  }

  /** Append streamed tokens to a message. */
  appendDelta(id: string, text: string): void {
    const raw = this._raw.get(id);
    if (!raw) {
      // A delta for a message we have not seen: fetch it (debounced).
      this._scheduleCatchUp();
      return;
    }
    raw.text = (raw.text ?? '') + text;
    const existing = this.messages.find(msg => msg.id === id);
    existing?.update({ body: toChatContent(raw, this._trans).body });
  }

  /** Handle one websocket frame (public for tests). */
  handleFrame(frame: StreamFrame): void {
    switch (frame.type) {
      case 'hello':
        this._info = frame.info ?? this._info;
        this._emit();
        break;
      case 'message':
      case 'update':
        this.upsert(frame.message);
        break;
      case 'delta':
        this.appendDelta(frame.id, frame.text ?? '');
        break;
      case 'status':
        if ('kernel_state' in frame) {
          this._serverKernelState = frame.kernel_state ?? null;
        }
        if (typeof frame.thinking === 'boolean') {
          this._serverThinking = frame.thinking;
        }
        // a status is a snapshot: no `watchdog` key, no runaway cell
        this._runawayId = frame.watchdog ?? null;
        this._updateWriters();
        this._emit();
        break;
      default:
        break;
    }
  }

  dispose(): void {
    if (this.isDisposed) {
      return;
    }
    this._connection = 'closed';
    window.removeEventListener('online', this._onOnline);
    if (this._reconnectTimer) {
      clearTimeout(this._reconnectTimer);
    }
    if (this._catchUpTimer) {
      clearTimeout(this._catchUpTimer);
    }
    const ws = this._ws;
    this._ws = null;
    if (ws) {
      ws.onclose = null;
      ws.onmessage = null;
      ws.close();
    }
    super.dispose();
    Signal.clearData(this);
  }

  private _connect(): void {
    if (this.isDisposed) {
      return;
    }
    let ws: WebSocket;
    try {
      ws = new this._client.settings.WebSocket(
        this._client.streamUrl(this.path)
      );
    } catch {
      this._scheduleReconnect();
      return;
    }
    this._ws = ws;
    ws.onopen = () => {
      this._attempt = 0;
      this._connection = 'live';
      if (this._notice?.kind === 'unavailable') {
        this._notice = null;
      }
      this._emit();
      // Whatever happened while the socket was not there (or before it opened).
      void this.catchUp();
    };
    ws.onmessage = (event: MessageEvent) => {
      let frame: StreamFrame;
      try {
        frame = JSON.parse(String(event.data));
      } catch {
        return;
      }
      this.handleFrame(frame);
    };
    ws.onclose = () => {
      if (this._ws === ws) {
        this._ws = null;
      }
      if (this.isDisposed) {
        return;
      }
      // Streams in flight may have ended while we were away: the catch-up settles them.
      this._serverThinking = false;
      this._scheduleReconnect();
    };
    ws.onerror = () => {
      /* a close event follows */
    };
  }

  private _scheduleReconnect(): void {
    if (this.isDisposed) {
      return;
    }
    this._connection = 'reconnecting';
    if (this._attempt >= 3 && !this._notice) {
      this._notice = {
        kind: 'unavailable',
        text: this._trans.__(
          'The tutor is unreachable right now; reconnecting…'
        )
      };
    }
    this._emit();
    const delay = backoffDelay(this._attempt++);
    this._reconnectTimer = setTimeout(() => {
      this._reconnectTimer = null;
      this._connect();
    }, delay);
  }

  /** The network is back: reconnect now rather than at the end of the backoff. */
  private _onOnline = (): void => {
    if (this._reconnectTimer && !this.isDisposed) {
      clearTimeout(this._reconnectTimer);
      this._reconnectTimer = null;
      this._connect();
    }
  };

  private _scheduleCatchUp(): void {
    if (this._catchUpTimer) {
      return;
    }
    this._catchUpTimer = setTimeout(() => {
      this._catchUpTimer = null;
      void this.catchUp();
    }, 200);
  }

  /** A system notice answering a request (e.g. the budget is spent) also goes to the header. */
  private _noticeFromReply(reply: ITutorMessage): void {
    if (reply && reply.role === 'system' && reply.kind === 'notice') {
      this._notice = { kind: 'budget', text: reply.text };
      this._emit();
    }
  }

  /** Turn a failed request into the header's notice (`failure` words the generic case). */
  private _setError(err: unknown, failure: (message: string) => string): void {
    if (err instanceof TutorApiError) {
      if (err.status === 429) {
        this._notice = {
          kind: 'budget',
          text: this._trans.__('Your tutor budget is used up: %1', err.message)
        };
      } else if (err.status === 0 || err.status === 502 || err.status === 503) {
        this._notice = {
          kind: 'unavailable',
          text: this._trans.__('The tutor is unavailable: %1', err.message)
        };
      } else {
        this._notice = { kind: 'error', text: failure(err.message) };
      }
    } else {
      this._notice = { kind: 'error', text: failure(String(err)) };
    }
    this._emit();
  }

  private _updateWriters(): void {
    const busy = this.thinking;
    if (busy !== this.writers.length > 0) {
      this.updateWriters(busy ? [{ user: this._users.tutor }] : []);
    }
  }

  private _emit(): void {
    if (!this.isDisposed) {
      this._updateWriters();
      this._stateChanged.emit();
    }
  }

  private _client: TutorClient;
  private _consent: () => boolean;
  private _trans: TranslationBundle;
  private _users: IChatUsers;
  private _info: ITutorInfo | null;
  private _raw = new Map<string, ITutorMessage>();
  private _streaming = new Set<string>();
  private _maxUpdated = 0;
  private _ws: WebSocket | null = null;
  private _attempt = 0;
  private _started = false;
  private _historyLoaded = false;
  private _reconnectTimer: ReturnType<typeof setTimeout> | null = null;
  private _catchUpTimer: ReturnType<typeof setTimeout> | null = null;
  private _connection: ConnectionState = 'connecting';
  private _serverThinking = false;
  private _serverKernelState: string | null = null;
  private _runawayId: string | null = null;
  private _pending = 0;
  private _notice: INotice | null = null;
  private _contextCell: IContextCell | null = null;
  private _stateChanged = new Signal<this, void>(this);
  private _hintArrived = new Signal<this, ITutorMessage>(this);
}

export namespace TutorChatModel {
  export interface IOptions extends IChatModel.IOptions {
    path: string;
    /** The tutor API (anything with TutorClient's shape; tests pass a fake). */
    client: TutorClient;
    info?: ITutorInfo | null;
    /** Whether the learner consents to share the notebook with a remote LLM (asked per request). */
    consent?: () => boolean;
    translator?: ITranslator;
  }
}
