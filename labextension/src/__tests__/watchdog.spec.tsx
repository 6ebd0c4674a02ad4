/**
 * Runaway cells and terminals in the panel: the Interrupt button on a watchdog warning (shown
 * while the server's status names it), the model's interrupt request, terminal conversations
 * routed to the terminal endpoints, and following a terminal widget.
 */
import { ServerConnection } from '@jupyterlab/services';
import { nullTranslator } from '@jupyterlab/translation';
import { Widget } from '@lumino/widgets';
import { act } from 'react';
import * as React from 'react';
import { createRoot } from 'react-dom/client';

import { ITutorMessage, TutorApiError, TutorClient } from '../api';
import { TutorChatModel, toChatContent } from '../model';
import { badgeLabels } from '../panel';
import {
  conversationLabel,
  conversationTarget,
  followTerminals,
  terminalConversation,
  terminalName,
  terminalOf
} from '../terminal';
import { createInterruptPreamble } from '../watchdog';

(globalThis as any).IS_REACT_ACT_ENVIRONMENT = true;

const trans = nullTranslator.load('ltt_ext');

class FakeSocket {
  constructor(readonly url: string) {}
  onopen: (() => void) | null = null;
  onclose: (() => void) | null = null;
  onmessage: ((event: { data: string }) => void) | null = null;
  onerror: (() => void) | null = null;
  close(): void {
    /* never opened */
  }
}

function fakeClient(result: any) {
  return {
    history: jest.fn(async () => []),
    interrupt: jest.fn(async (path: string) => {
      if (result instanceof Error) {
        throw result;
      }
      return result;
    }),
    streamUrl: (path: string) => `ws://tutor.test/stream?path=${path}`,
    settings: { WebSocket: FakeSocket }
  };
}

function warning(): ITutorMessage {
  return {
    id: 'w1',
    path: 'loop.ipynb',
    role: 'tutor',
    kind: 'watchdog',
    text: 'Cell [3] has been running for 30 s without any output.',
    level: 1,
    status: 'done',
    created: 1,
    updated: 1
  };
}

describe('the Interrupt button', () => {
  it('shows on the warning while its cell runs, and interrupts', async () => {
    const client = fakeClient({ interrupted: true, caller: 'learner' });
    const model = new TutorChatModel({
      path: 'loop.ipynb',
      client: client as unknown as TutorClient
    });
    const Preamble = createInterruptPreamble(trans);
    const message = toChatContent(warning(), trans);
    const node = document.createElement('div');
    document.body.appendChild(node);
    const root = createRoot(node);
    await act(async () => {
      root.render(<Preamble model={model} message={message} />);
    });
    expect(node.querySelector('.ltt-InterruptButton')).toBeNull(); // no status yet
    await act(async () => {
      model.handleFrame({
        type: 'status',
        kernel_state: 'busy',
        watchdog: 'w1'
      });
    });
    const button = node.querySelector<HTMLButtonElement>(
      '.ltt-InterruptButton'
    );
    expect(button?.textContent).toBe('Interrupt');
    await act(async () => {
      button!.click();
    });
    expect(client.interrupt).toHaveBeenCalledWith('loop.ipynb');
    // the cell ended: the next status has no `watchdog`, the button goes
    await act(async () => {
      model.handleFrame({ type: 'status', kernel_state: 'idle' });
    });
    expect(node.querySelector('.ltt-InterruptButton')).toBeNull();
    // other messages never get one
    const hint = toChatContent({ ...warning(), id: 'h1', kind: 'hint' }, trans);
    await act(async () => {
      root.render(<Preamble model={model} message={hint} />);
    });
    expect(node.querySelector('.ltt-Watchdog')).toBeNull();
    await act(async () => {
      root.unmount();
    });
    model.dispose();
  });

  it('says when nothing was interrupted, or why it failed', async () => {
    const idle = fakeClient({
      interrupted: false,
      reason: 'Nothing is running (the kernel is idle).'
    });
    const model = new TutorChatModel({
      path: 'loop.ipynb',
      client: idle as unknown as TutorClient
    });
    expect(await model.interrupt()).toBe(false);
    expect(model.notice?.kind).toBe('info');
    expect(model.notice?.text).toContain('Nothing is running');
    model.dispose();

    const off = fakeClient(
      new TutorApiError(
        403,
        'Interrupting cells from the tutor panel is turned off'
      )
    );
    const model2 = new TutorChatModel({
      path: 'loop.ipynb',
      client: off as unknown as TutorClient
    });
    expect(await model2.interrupt()).toBe(false);
    expect(model2.notice?.kind).toBe('error');
    expect(model2.notice?.text).toContain('turned off');
    model2.dispose();
  });

  it('labels the warning', () => {
    expect(
      badgeLabels({ kind: 'watchdog', level: 1, status: 'done' }, trans)
    ).toEqual({
      kind: 'Runaway cell',
      status: null
    });
  });
});

describe('terminal conversations', () => {
  it('are named terminal:<name> and routed to the terminal endpoints', async () => {
    expect(terminalConversation('3')).toBe('terminal:3');
    expect(terminalName('terminal:3')).toBe('3');
    expect(terminalName('lesson.ipynb')).toBeNull();
    expect(conversationTarget('terminal:3')).toEqual({
      api: 'terminal',
      field: 'terminal',
      value: '3'
    });
    expect(conversationTarget('a/b.ipynb')).toEqual({
      api: '',
      field: 'path',
      value: 'a/b.ipynb'
    });
    expect(conversationLabel('terminal:3', trans)).toBe('Terminal 3');
    expect(conversationLabel('a/b.ipynb', trans)).toBe('a/b.ipynb');

    const sent: Array<{ url: string; body: any }> = [];
    const fetch = async (input: RequestInfo, init?: RequestInit) => {
      const request =
        input instanceof Request ? input : new Request(input, init);
      const text = await request.text();
      sent.push({ url: request.url, body: text ? JSON.parse(text) : null });
      const reply = request.url.includes('history')
        ? { messages: [] }
        : request.url.includes('interrupt')
          ? { interrupted: true }
          : request.url.includes('stop')
            ? { stopped: false }
            : { question: {}, reply: {} };
      return new Response(JSON.stringify(reply), { status: 200 });
    };
    const client = new TutorClient(
      ServerConnection.makeSettings({
        baseUrl: 'http://tutor.test/',
        wsUrl: 'ws://tutor.test/',
        fetch: fetch as any
      })
    );
    await client.history('terminal:3', 5);
    await client.more('terminal:3');
    await client.ask('terminal:3', 'why?');
    await client.stop('terminal:3', 'm1');
    await client.interrupt('loop.ipynb');
    await client.history('loop.ipynb');
    // (ServerConnection adds a cache-busting number)
    expect(sent.map(s => s.url.replace(/[?&]\d+$/, ''))).toEqual([
      'http://tutor.test/ltt/api/tutor/terminal/history?terminal=3&since=5',
      'http://tutor.test/ltt/api/tutor/terminal/more',
      'http://tutor.test/ltt/api/tutor/terminal/ask',
      'http://tutor.test/ltt/api/tutor/terminal/stop',
      'http://tutor.test/ltt/api/tutor/interrupt',
      'http://tutor.test/ltt/api/tutor/history?path=loop.ipynb'
    ]);
    expect(sent[1].body).toEqual({ terminal: '3' });
    expect(sent[2].body).toEqual({ terminal: '3', text: 'why?' });
    expect(sent[3].body).toEqual({ terminal: '3', id: 'm1' });
    expect(sent[4].body).toEqual({ path: 'loop.ipynb' });
    expect(client.streamUrl('terminal:3')).toBe(
      'ws://tutor.test/ltt/api/tutor/terminal/stream?terminal=3'
    );
  });

  it('follow the terminal in front', () => {
    const terminal = new Widget();
    terminal.addClass('jp-Terminal');
    (terminal as any).session = { name: '2' };
    const wrapper = new Widget();
    (wrapper as any).content = terminal;
    const other = new Widget();
    expect(terminalOf(wrapper)).toBe('2');
    expect(terminalOf(terminal)).toBe('2');
    expect(terminalOf(other)).toBeNull();
    expect(terminalOf(null)).toBeNull();

    const listeners: Array<(sender: any, args: any) => void> = [];
    const app = {
      shell: {
        currentWidget: null,
        currentChanged: {
          connect: (fn: any) => listeners.push(fn) > 0,
          disconnect: (fn: any) => {
            listeners.splice(listeners.indexOf(fn), 1);
            return true;
          }
        }
      }
    };
    const seen: string[] = [];
    const stop = followTerminals(
      app as any,
      name => seen.push(`terminal ${name}`),
      widget => seen.push(widget === other ? 'other' : 'none')
    );
    listeners.forEach(fn => fn(null, { newValue: wrapper }));
    listeners.forEach(fn => fn(null, { newValue: other }));
    stop();
    expect(listeners).toHaveLength(0);
    expect(seen).toEqual(['terminal 2', 'other']);
    expect(
      followTerminals(
        { shell: {} } as any,
        () => 0,
        () => 0
      )()
    ).toBeUndefined();
  });
});
