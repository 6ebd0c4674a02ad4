/**
 * The ltt-ext tutor API (docs/api.md), spoken through JupyterLab's ServerConnection
 * so that authentication (token, cookie, XSRF) is handled the Jupyter way.
 */
import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

import { conversationTarget } from './terminal';

export type Role = 'learner' | 'tutor' | 'system';
export type Kind =
  'question' | 'more' | 'hint' | 'answer' | 'notice' | 'watchdog';
export type Status = 'streaming' | 'done' | 'stopped' | 'error';

/** A tutor conversation message, exactly as the server sends it. */
export interface ITutorMessage {
  id: string;
  path: string;
  role: Role;
  kind: Kind;
  text: string;
  cell_id?: string | null;
  kernel_id?: string | null;
  level?: number | null;
  engine?: 'builtin' | 'llm' | null;
  model?: string | null;
  status: Status;
  prompt_tokens?: number;
  completion_tokens?: number;
  created: number;
  updated: number;
}

export interface ITutorInfo {
  engine: 'builtin' | 'llm' | string;
  model?: string | null;
  proactive?: boolean;
  allow_solutions?: boolean;
  consent_required?: boolean;
}

export interface IAskReply {
  question: ITutorMessage;
  reply: ITutorMessage;
}

/** Server → client websocket frames. */
export type StreamFrame =
  | { type: 'hello'; info: ITutorInfo }
  | { type: 'message'; message: ITutorMessage }
  | { type: 'update'; message: ITutorMessage }
  | { type: 'delta'; id: string; text: string }
  | {
      type: 'status';
      kernel_state?: string | null;
      thinking?: boolean;
      /** The runaway-cell warning whose cell still runs (Interrupt is offered on it). */
      watchdog?: string | null;
      /** A terminal conversation: whether its terminal is still open. */
      terminal?: 'running' | 'closed';
    };

/** What an Interrupt did (`interrupted: false` with a `reason` when there was nothing to stop). */
export interface IInterruptResult {
  interrupted: boolean;
  kernel_id?: string | null;
  caller?: string;
  state?: string | null;
  reason?: string;
  refused?: boolean;
}

/** An HTTP error from the tutor API, with the server's JSON message when there is one. */
export class TutorApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly reason?: string | null
  ) {
    super(message);
  }
}

const API = 'ltt/api/tutor';

export class TutorClient {
  constructor(readonly settings: ServerConnection.ISettings) {}

  private async request<T>(
    endpoint: string,
    init: RequestInit = {},
    query: Record<string, string> = {}
  ): Promise<T> {
    let url = URLExt.join(this.settings.baseUrl, API, endpoint);
    const q = URLExt.objectToQueryString(query);
    if (q && q !== '?') {
      url += q;
    }
    let response: Response;
    try {
      response = await ServerConnection.makeRequest(url, init, this.settings);
    } catch (err) {
      throw new TutorApiError(0, `The server could not be reached (${err}).`);
    }
    let data: any = null;
    const text = await response.text();
    if (text) {
      try {
        data = JSON.parse(text);
      } catch {
        data = null;
      }
    }
    if (!response.ok) {
      const message =
        (data && typeof data.message === 'string' && data.message) ||
        response.statusText ||
        `HTTP ${response.status}`;
      throw new TutorApiError(response.status, message, data?.reason ?? null);
    }
    return data as T;
  }

  info(): Promise<ITutorInfo> {
    return this.request<ITutorInfo>('info');
  }

  async history(path: string, since?: number): Promise<ITutorMessage[]> {
    const target = conversationTarget(path);
    const query: Record<string, string> = { [target.field]: target.value };
    if (since !== undefined && since > 0) {
      query.since = String(since);
    }
    const data = await this.request<{ messages: ITutorMessage[] }>(
      URLExt.join(target.api, 'history'),
      {},
      query
    );
    return data?.messages ?? [];
  }

  ask(
    path: string,
    text: string,
    cellId?: string | null,
    consent = false
  ): Promise<IAskReply> {
    return this.post('ask', { path, text }, cellId, consent);
  }

  more(
    path: string,
    cellId?: string | null,
    consent = false
  ): Promise<IAskReply> {
    return this.post('more', { path }, cellId, consent);
  }

  /** A question or "more help": the optional cell and consent go in only when set. */
  private post(
    endpoint: 'ask' | 'more',
    fields: Record<string, string>,
    cellId?: string | null,
    consent = false
  ): Promise<IAskReply> {
    const target = conversationTarget(fields.path);
    const body: Record<string, string | boolean> = { ...fields };
    if (target.field === 'terminal') {
      delete body.path;
      body.terminal = target.value;
    }
    if (cellId) {
      body.cell_id = cellId;
    }
    if (consent) {
      body.consent = true;
    }
    return this.request<IAskReply>(URLExt.join(target.api, endpoint), {
      method: 'POST',
      body: JSON.stringify(body)
    });
  }

  stop(path: string, id: string): Promise<{ stopped: boolean }> {
    const target = conversationTarget(path);
    return this.request<{ stopped: boolean }>(URLExt.join(target.api, 'stop'), {
      method: 'POST',
      body: JSON.stringify({ [target.field]: target.value, id })
    });
  }

  /** Interrupt the cell running in a notebook's kernel (the learner's click on a runaway-cell warning). */
  interrupt(path: string): Promise<IInterruptResult> {
    return this.request<IInterruptResult>('interrupt', {
      method: 'POST',
      body: JSON.stringify({ path })
    });
  }

  /** The websocket URL of a notebook's live stream (with the token when Jupyter appends it). */
  streamUrl(path: string): string {
    const target = conversationTarget(path);
    let url =
      URLExt.join(this.settings.wsUrl, API, target.api, 'stream') +
      `?${target.field}=${encodeURIComponent(target.value)}`;
    if (this.settings.appendToken && this.settings.token) {
      url += `&token=${encodeURIComponent(this.settings.token)}`;
    }
    return url;
  }
}
