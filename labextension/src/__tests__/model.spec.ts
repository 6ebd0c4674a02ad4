/**
 * The chat model's logic: server messages → chat content, the reconnection backoff, the
 * requests it makes (through a fake TutorClient) and what it does with their answers.
 */
import { IAskReply, ITutorMessage, TutorApiError, TutorClient } from '../api';
import {
  backoffDelay,
  chatUsers,
  toChatContent,
  TutorChatModel
} from '../model';

let clock = 1000;

function message(fields: Partial<ITutorMessage> = {}): ITutorMessage {
  clock += 1;
  return {
    id: `m${clock}`,
    path: 'lesson.ipynb',
    role: 'tutor',
    kind: 'answer',
    text: 'Look at line 2.',
    status: 'done',
    created: clock,
    updated: clock,
    ...fields
  };
}

/** A WebSocket that never connects (the model's live stream is tested with frames). */
class FakeSocket {
  static instances: FakeSocket[] = [];
  constructor(readonly url: string) {
    FakeSocket.instances.push(this);
  }
  onopen: (() => void) | null = null;
  onclose: (() => void) | null = null;
  onmessage: ((event: { data: string }) => void) | null = null;
  onerror: (() => void) | null = null;
  close(): void {
    this.closed = true;
  }
  closed = false;
}

/** A TutorClient double recording every call; replies are queued per endpoint. */
class FakeClient {
  calls: Array<{ method: string; args: unknown[] }> = [];
  history = jest.fn(async (path: string, since?: number) => {
    this.calls.push({ method: 'history', args: [path, since] });
    return this.historyReply;
  });
  ask = jest.fn(
    async (
      path: string,
      text: string,
      cellId?: string | null,
      consent = false
    ) => {
      this.calls.push({ method: 'ask', args: [path, text, cellId, consent] });
      return this.next();
    }
  );
  more = jest.fn(
    async (path: string, cellId?: string | null, consent = false) => {
      this.calls.push({ method: 'more', args: [path, cellId, consent] });
      return this.next();
    }
  );
  stop = jest.fn(async (path: string, id: string) => {
    this.calls.push({ method: 'stop', args: [path, id] });
    return { stopped: true };
  });
  streamUrl = (path: string) => `ws://tutor.test/stream?path=${path}`;
  settings = { WebSocket: FakeSocket };

  historyReply: ITutorMessage[] = [];
  replies: Array<IAskReply | Error> = [];

  private async next(): Promise<IAskReply> {
    const reply = this.replies.shift();
    if (!reply) {
      throw new Error('no reply queued');
    }
    if (reply instanceof Error) {
      throw reply;
    }
    return reply;
  }
}

function makeModel(
  client: FakeClient,
  consent: () => boolean = () => false
): TutorChatModel {
  return new TutorChatModel({
    path: 'lesson.ipynb',
    client: client as unknown as TutorClient,
    consent
  });
}

function reply(text = 'Where does y get its value?'): IAskReply {
  return {
    question: message({ role: 'learner', kind: 'question', text: 'why?' }),
    reply: message({ role: 'tutor', kind: 'answer', text, status: 'streaming' })
  };
}

describe('toChatContent', () => {
  const users = chatUsers();

  it('maps roles to senders and keeps the tutor metadata', () => {
    const m = message({
      role: 'tutor',
      kind: 'hint',
      level: 2,
      cell_id: 'cell-1',
      engine: 'llm',
      model: 'fake-tutor'
    });
    const content = toChatContent(m);
    expect(content).toMatchObject({
      type: 'msg',
      id: m.id,
      body: 'Look at line 2.',
      time: m.created,
      raw_time: false,
      sender: users.tutor
    });
    expect(content.metadata?.ltt).toEqual({
      role: 'tutor',
      kind: 'hint',
      level: 2,
      status: 'done',
      cell_id: 'cell-1',
      engine: 'llm',
      model: 'fake-tutor'
    });
    expect(toChatContent(message({ role: 'learner' })).sender).toBe(
      users.learner
    );
    expect(toChatContent(message({ role: 'system' })).sender).toBe(
      users.system
    );
    expect(users.tutor.bot).toBe(true);
    expect(users.learner.bot).toBeFalsy();
  });

  it('fills in what the server leaves out', () => {
    const content = toChatContent(message({ kind: 'answer' }));
    expect(content.metadata?.ltt).toMatchObject({
      level: null,
      cell_id: null,
      engine: null,
      model: null
    });
  });

  it('words an empty "more help" request and an empty stream', () => {
    expect(
      toChatContent(message({ role: 'learner', kind: 'more', text: '  ' })).body
    ).toBe('_More help, please._');
    expect(toChatContent(message({ text: '', status: 'streaming' })).body).toBe(
      '…'
    );
    // A finished empty message stays empty; a learner's question is never rewritten.
    expect(toChatContent(message({ text: '', status: 'done' })).body).toBe('');
    expect(
      toChatContent(message({ role: 'learner', kind: 'question', text: 'hi' }))
        .body
    ).toBe('hi');
  });
});

describe('backoffDelay', () => {
  it('doubles from 500 ms and stops at 10 s', () => {
    const middle = () => 0.5; // no jitter
    expect(
      [0, 1, 2, 3, 4, 5, 10, 50].map(a => backoffDelay(a, middle))
    ).toEqual([500, 1000, 2000, 4000, 8000, 10000, 10000, 10000]);
  });

  it('adds ±20% jitter', () => {
    expect(backoffDelay(1, () => 0)).toBe(800);
    expect(backoffDelay(1, () => 0.999999)).toBe(1200);
    for (let i = 0; i < 50; i++) {
      const d = backoffDelay(3);
      expect(d).toBeGreaterThanOrEqual(3200);
      expect(d).toBeLessThanOrEqual(4800);
    }
  });

  it('treats a negative attempt as the first', () => {
    expect(backoffDelay(-3, () => 0.5)).toBe(500);
  });
});

describe('TutorChatModel requests', () => {
  let client: FakeClient;
  let model: TutorChatModel;
  let consent: boolean;

  beforeEach(() => {
    client = new FakeClient();
    consent = false;
    model = makeModel(client, () => consent);
  });

  afterEach(() => {
    model.dispose();
  });

  it('asks with the trimmed text, the cell in context and the consent', async () => {
    client.replies.push(reply(), reply());
    expect(await model.sendMessage({ body: '  why?  ' })).toBe(true);
    expect(client.ask).toHaveBeenLastCalledWith(
      'lesson.ipynb',
      'why?',
      undefined,
      false
    );

    model.contextCell = { id: 'cell-3', label: 'cell [3]' };
    consent = true;
    expect(await model.sendMessage({ body: 'and now?' })).toBe(true);
    expect(client.ask).toHaveBeenLastCalledWith(
      'lesson.ipynb',
      'and now?',
      'cell-3',
      true
    );
  });

  it('sends nothing for an empty message', async () => {
    expect(await model.sendMessage({ body: '   ' })).toBe(false);
    expect(client.ask).not.toHaveBeenCalled();
  });

  it('asks for more help with the cell and the consent', async () => {
    client.replies.push(reply(), reply());
    expect(await model.more()).toBe(true);
    expect(client.more).toHaveBeenLastCalledWith(
      'lesson.ipynb',
      undefined,
      false
    );
    model.contextCell = { id: 'cell-0', label: 'cell 1' };
    consent = true;
    await model.more();
    expect(client.more).toHaveBeenLastCalledWith(
      'lesson.ipynb',
      'cell-0',
      true
    );
  });

  it('shows the question and the streaming reply, and is thinking meanwhile', async () => {
    const r = reply('Look at');
    client.replies.push(r);
    const pending = model.sendMessage({ body: 'why?' });
    expect(model.thinking).toBe(true);
    await pending;
    expect(model.messages.map(m => m.id)).toEqual([r.question.id, r.reply.id]);
    expect(model.messages[1].body).toBe('Look at');
    expect(model.streamingIds).toEqual([r.reply.id]);
    expect(model.thinking).toBe(true); // the reply still streams
    expect(model.writers.map(w => w.user.username)).toEqual(['ltt-tutor']);

    model.handleFrame({ type: 'delta', id: r.reply.id, text: ' line 2.' });
    expect(model.messages[1].body).toBe('Look at line 2.');

    model.handleFrame({
      type: 'update',
      message: {
        ...r.reply,
        text: 'Look at line 2.',
        status: 'done',
        updated: r.reply.updated + 1
      }
    });
    expect(model.streamingIds).toEqual([]);
    expect(model.thinking).toBe(false);
    expect(model.writers).toEqual([]);
    expect(model.getRaw(r.reply.id)?.status).toBe('done');
  });

  it('stops every streaming reply', async () => {
    const r = reply();
    client.replies.push(r);
    await model.sendMessage({ body: 'why?' });
    await model.stop();
    expect(client.stop).toHaveBeenCalledWith('lesson.ipynb', r.reply.id);
  });

  it('turns a full budget, an unavailable tutor and other errors into notices', async () => {
    client.replies.push(
      new TutorApiError(429, 'Try again in an hour.'),
      new TutorApiError(503, 'The tutor is turned off on this server.'),
      new TutorApiError(400, 'Too long.'),
      new Error('boom')
    );
    expect(await model.sendMessage({ body: 'why?' })).toBe(false);
    expect(model.notice).toEqual({
      kind: 'budget',
      text: 'Your tutor budget is used up: Try again in an hour.'
    });
    await model.more();
    expect(model.notice).toEqual({
      kind: 'unavailable',
      text: 'The tutor is unavailable: The tutor is turned off on this server.'
    });
    await model.sendMessage({ body: 'why?' });
    expect(model.notice).toEqual({
      kind: 'error',
      text: 'The tutor could not answer: Too long.'
    });
    await model.more();
    expect(model.notice).toEqual({
      kind: 'error',
      text: 'The tutor could not give more help: Error: boom'
    });
    expect(model.thinking).toBe(false);
  });

  it('gives the learner their words back when a question fails', async () => {
    client.replies.push(
      new TutorApiError(0, 'The server could not be reached.')
    );
    await model.sendMessage({ body: 'why is y undefined?' });
    expect(model.input.value).toBe('why is y undefined?');
    expect(model.notice?.kind).toBe('unavailable');
  });

  it('puts a budget notice from the server in the header', async () => {
    client.replies.push({
      question: message({ role: 'learner', kind: 'more', text: '' }),
      reply: message({
        role: 'system',
        kind: 'notice',
        text: 'Budget used up.'
      })
    });
    await model.more();
    expect(model.notice).toEqual({ kind: 'budget', text: 'Budget used up.' });
    expect(model.messages[0].body).toBe('_More help, please._');
  });
});

describe('TutorChatModel history and live frames', () => {
  let client: FakeClient;
  let model: TutorChatModel;

  beforeEach(() => {
    client = new FakeClient();
    model = makeModel(client);
  });

  afterEach(() => {
    model.dispose();
    jest.useRealTimers();
  });

  it('loads the history, then only what changed since (with a second of slack)', async () => {
    const first = message({ updated: 5000, created: 5000 });
    client.historyReply = [first];
    await model.catchUp();
    expect(client.history).toHaveBeenLastCalledWith('lesson.ipynb', undefined);
    expect(model.historyLoaded).toBe(true);
    expect(model.messages.map(m => m.id)).toEqual([first.id]);

    // The same message again (overlap) is not duplicated.
    await model.catchUp();
    expect(client.history).toHaveBeenLastCalledWith('lesson.ipynb', 4999);
    expect(model.messages).toHaveLength(1);
  });

  it('ignores stale updates and other notebooks', () => {
    const m = message({ text: 'new', updated: 10 });
    model.upsert(m);
    model.upsert({ ...m, text: 'old', updated: 9 });
    model.upsert(message({ path: 'other.ipynb' }));
    expect(model.messages.map(x => x.body)).toEqual(['new']);
  });

  it('never shortens a stream with an older snapshot', () => {
    const m = message({ text: 'Look', status: 'streaming', updated: 7 });
    model.upsert(m);
    model.appendDelta(m.id, ' closer');
    // A snapshot taken before the delta (history, the answer to ask) arrives late.
    model.upsert({ ...m, text: 'Look' }, false);
    expect(model.messages[0].body).toBe('Look closer');
    // A live frame is authoritative.
    model.upsert({ ...m, text: 'Look' }, true);
    expect(model.messages[0].body).toBe('Look');
  });

  it('signals hints that arrive live, not those of the history', async () => {
    const hints: ITutorMessage[] = [];
    model.hintArrived.connect((_, hint) => hints.push(hint));
    client.historyReply = [message({ kind: 'hint', level: 1 })];
    await model.catchUp();
    expect(hints).toEqual([]);
    const live = message({ kind: 'hint', level: 2 });
    model.handleFrame({ type: 'message', message: live });
    expect(hints.map(h => h.id)).toEqual([live.id]);
    // Its update is not a new hint.
    model.handleFrame({
      type: 'update',
      message: { ...live, updated: live.updated + 1 }
    });
    expect(hints).toHaveLength(1);
  });

  it('follows the server status and hello frames', () => {
    model.handleFrame({ type: 'status', kernel_state: 'busy', thinking: true });
    expect(model.serverKernelState).toBe('busy');
    expect(model.thinking).toBe(true);
    model.handleFrame({ type: 'status', thinking: false });
    expect(model.serverKernelState).toBe('busy');
    expect(model.thinking).toBe(false);
    model.handleFrame({ type: 'hello', info: { engine: 'builtin' } });
    expect(model.info).toEqual({ engine: 'builtin' });
  });

  it('catches up (once) on a delta for a message it has not seen', async () => {
    jest.useFakeTimers();
    model.handleFrame({ type: 'delta', id: 'unknown', text: 'a' });
    model.handleFrame({ type: 'delta', id: 'unknown', text: 'b' });
    expect(client.history).not.toHaveBeenCalled();
    jest.advanceTimersByTime(200);
    expect(client.history).toHaveBeenCalledTimes(1);
  });
});

describe('TutorChatModel live stream', () => {
  beforeEach(() => {
    FakeSocket.instances = [];
    jest.useFakeTimers();
  });

  afterEach(() => {
    jest.useRealTimers();
  });

  it('reconnects with backoff and says so after three failures', () => {
    const client = new FakeClient();
    const model = makeModel(client);
    jest.spyOn(Math, 'random').mockReturnValue(0.5);
    model.start();
    expect(FakeSocket.instances).toHaveLength(1);
    expect(FakeSocket.instances[0].url).toBe(
      'ws://tutor.test/stream?path=lesson.ipynb'
    );
    expect(model.connection).toBe('connecting');

    // Each closed socket is retried after 500, 1000, 2000 ms...
    const delays = [500, 1000, 2000, 4000];
    delays.forEach((delay, i) => {
      FakeSocket.instances[i].onclose?.();
      expect(model.connection).toBe('reconnecting');
      jest.advanceTimersByTime(delay - 1);
      expect(FakeSocket.instances).toHaveLength(i + 1);
      jest.advanceTimersByTime(1);
      expect(FakeSocket.instances).toHaveLength(i + 2);
    });
    expect(model.notice?.kind).toBe('unavailable');

    // An open socket resets the backoff, clears the notice and catches up.
    const live = FakeSocket.instances[FakeSocket.instances.length - 1];
    live.onopen?.();
    expect(model.connection).toBe('live');
    expect(model.notice).toBeNull();
    expect(client.history).toHaveBeenCalled();
    live.onmessage?.({
      data: JSON.stringify({ type: 'status', kernel_state: 'idle' })
    });
    expect(model.serverKernelState).toBe('idle');
    live.onmessage?.({ data: 'not json' }); // ignored

    live.onclose?.();
    jest.advanceTimersByTime(500);
    expect(FakeSocket.instances).toHaveLength(delays.length + 2);

    model.dispose();
    expect(model.connection).toBe('closed');
    expect(FakeSocket.instances[FakeSocket.instances.length - 1].closed).toBe(
      true
    );
    jest.advanceTimersByTime(60000);
    expect(FakeSocket.instances).toHaveLength(delays.length + 2);
    jest.restoreAllMocks();
  });

  it('reconnects at once when the network comes back', () => {
    const model = makeModel(new FakeClient());
    model.start();
    FakeSocket.instances[0].onclose?.();
    expect(FakeSocket.instances).toHaveLength(1);
    window.dispatchEvent(new Event('online'));
    expect(FakeSocket.instances).toHaveLength(2);
    model.dispose();
  });
});
