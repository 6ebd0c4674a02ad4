/**
 * "Try it" under the tutor's code examples: which blocks get it, what it says, and that it runs
 * the example through the server and renders the output as untrusted content.
 */
import {
  RenderMimeRegistry,
  standardRendererFactories
} from '@jupyterlab/rendermime';
import { ServerConnection } from '@jupyterlab/services';
import { nullTranslator } from '@jupyterlab/translation';
import { DisposableSet } from '@lumino/disposable';

import { interruptPermission } from '../permissions';
import {
  attachTryIt,
  isTryable,
  ITryResult,
  renderOutputs,
  serverTryRunner,
  statusText
} from '../tryit';

const trans = nullTranslator.load('ltt_ext');

function pre(code: string, language?: string): HTMLElement {
  const node = document.createElement('pre');
  const inner = document.createElement('code');
  if (language) {
    inner.className = `language-${language}`;
  }
  inner.textContent = code;
  node.appendChild(inner);
  return node;
}

function message(index: number, ...blocks: HTMLElement[]): HTMLElement {
  const container = document.createElement('div');
  container.className = 'jp-chat-message-container';
  container.dataset.index = String(index);
  const rendered = document.createElement('div');
  rendered.className = 'jp-chat-rendered-message';
  rendered.append(...blocks);
  container.appendChild(rendered);
  return container;
}

const flush = () => new Promise(resolve => setTimeout(resolve, 0));

describe('tryit', () => {
  it('offers Python and unlabelled examples, not other languages or tracebacks', () => {
    expect(isTryable(pre('print(1)', 'python'))).toBe(true);
    expect(isTryable(pre('print(1)'))).toBe(true);
    expect(isTryable(pre('console.log(1)', 'javascript'))).toBe(false);
    expect(
      isTryable(pre('Traceback (most recent call last):\n  File ...'))
    ).toBe(false);
    expect(isTryable(pre('   '))).toBe(false);
  });

  it('says what happened, and that the notebook was not touched', () => {
    const ok: ITryResult = { status: 'ok', outputs: [], fresh: true };
    expect(statusText(ok, trans)).toContain('Ran in a scratch kernel.');
    expect(statusText(ok, trans)).toContain('your variables are not there');
    const slow: ITryResult = {
      status: 'timeout',
      outputs: [],
      timed_out: true,
      restarted: true,
      truncated: true
    };
    const text = statusText(slow, trans);
    expect(text).toContain('ran too long');
    expect(text).toContain('restarted');
    expect(text).toContain('output was cut');
    expect(text).toContain('Your notebook was not touched.');
  });

  it('renders outputs as untrusted content: no script survives', async () => {
    const rendermime = new RenderMimeRegistry({
      initialFactories: standardRendererFactories
    });
    const host = document.createElement('div');
    const renderers = new DisposableSet();
    await renderOutputs(
      [
        { output_type: 'stream', name: 'stdout', text: 'hello\n' },
        {
          output_type: 'display_data',
          data: {
            'text/html': '<b>bold</b><script>window.hacked = 1</script>',
            'text/plain': 'plain'
          }
        },
        {
          output_type: 'error',
          ename: 'ZeroDivisionError',
          evalue: 'division by zero',
          traceback: ['ZeroDivisionError: division by zero']
        }
      ],
      rendermime,
      host,
      renderers
    );
    expect(host.textContent).toContain('hello');
    expect(host.textContent).toContain('ZeroDivisionError');
    expect(host.querySelector('script')).toBeNull();
    expect((window as any).hacked).toBeUndefined();
    renderers.dispose();
  });

  it('adds the action to finished tutor messages only, and shows the run', async () => {
    const node = document.createElement('div');
    document.body.appendChild(node);
    const tutorBlock = pre('print("hi")', 'python');
    node.append(
      message(0, tutorBlock),
      message(1, pre('x = 1', 'python')),
      message(2, pre('y = 2', 'python'))
    );
    const messages: any[] = [
      { id: 'm0', metadata: { ltt: { role: 'tutor', status: 'done' } } },
      { id: 'm1', metadata: { ltt: { role: 'learner', status: 'done' } } },
      { id: 'm2', metadata: { ltt: { role: 'tutor', status: 'streaming' } } }
    ];
    const calls: [string, string][] = [];
    const stop = attachTryIt(
      { node, disposed: null },
      { messages },
      {
        run: async (path, code) => {
          calls.push([path, code]);
          return {
            status: 'ok',
            outputs: [{ output_type: 'stream', name: 'stdout', text: 'hi\n' }]
          };
        },
        rendermime: new RenderMimeRegistry({
          initialFactories: standardRendererFactories
        }),
        trans,
        path: () => 'lesson.ipynb'
      }
    );
    const buttons =
      node.querySelectorAll<HTMLButtonElement>('.ltt-TryIt-button');
    expect(buttons.length).toBe(1);
    expect(tutorBlock.nextElementSibling?.className).toBe('ltt-TryIt');
    buttons[0].click();
    for (let i = 0; i < 20 && !node.querySelector('.ltt-TryIt-status'); i++) {
      await flush();
    }
    expect(calls).toEqual([['lesson.ipynb', 'print("hi")']]);
    expect(node.querySelector('.ltt-TryIt-outputs')?.textContent).toContain(
      'hi'
    );
    expect(node.querySelector('.ltt-TryIt-status')?.textContent).toContain(
      'Your notebook was not touched.'
    );
    stop();
    node.remove();
  });

  it('says why a run could not happen', async () => {
    const node = document.createElement('div');
    node.append(message(0, pre('1 + 1')));
    attachTryIt(
      { node, disposed: null },
      {
        messages: [
          { id: 'm', metadata: { ltt: { role: 'tutor', status: 'done' } } }
        ] as any
      },
      {
        run: async () => {
          throw new Error('Sidecar kernels are turned off on this server.');
        },
        rendermime: new RenderMimeRegistry({
          initialFactories: standardRendererFactories
        }),
        trans,
        path: () => 'lesson.ipynb'
      }
    );
    node.querySelector<HTMLButtonElement>('.ltt-TryIt-button')!.click();
    for (let i = 0; i < 20 && !node.querySelector('.ltt-TryIt-error'); i++) {
      await flush();
    }
    expect(node.querySelector('.ltt-TryIt-error')?.textContent).toContain(
      'turned off'
    );
  });
});

describe('requests', () => {
  function fakeSettings(
    respond: (url: string, method: string, body: any) => Response
  ) {
    const sent: { url: string; method: string; body: any }[] = [];
    const fetch = async (input: RequestInfo, init?: RequestInit) => {
      const request =
        input instanceof Request ? input : new Request(input, init);
      const text = await request.text();
      const body = text ? JSON.parse(text) : null;
      sent.push({ url: request.url, method: request.method, body });
      return respond(request.url, request.method, body);
    };
    const settings = ServerConnection.makeSettings({
      baseUrl: 'http://tutor.test/user/ada/',
      wsUrl: 'ws://tutor.test/user/ada/',
      token: 'tok',
      fetch: fetch as any
    });
    return { settings, sent };
  }

  const json = (data: unknown, status = 200) =>
    new Response(JSON.stringify(data), {
      status,
      headers: { 'Content-Type': 'application/json' }
    });

  it('posts the code to the try endpoint and says why it failed', async () => {
    const { settings, sent } = fakeSettings((url, method, body) =>
      body.code === 'boom'
        ? json(
            { message: 'Sidecar kernels are turned off on this server.' },
            503
          )
        : json({ status: 'ok', outputs: [] })
    );
    const run = serverTryRunner(settings);
    expect((await run('a b.ipynb', 'print(1)')).status).toBe('ok');
    expect(sent[0].method).toBe('POST');
    expect(sent[0].url).toMatch(
      /^http:\/\/tutor.test\/user\/ada\/ltt\/api\/tutor\/try(\?\d+)?$/
    );
    expect(sent[0].body).toEqual({ path: 'a b.ipynb', code: 'print(1)' });
    await expect(run('a b.ipynb', 'boom')).rejects.toThrow('turned off');
  });

  it('reads and sets the interrupt permission of a notebook', async () => {
    let allowed = false;
    const { settings, sent } = fakeSettings((url, method, body) => {
      if (method === 'PUT') {
        allowed = body.interrupt;
      }
      return json({ path: 'nb.ipynb', interrupt: allowed });
    });
    expect(await interruptPermission(settings, 'nb.ipynb')).toBe(false);
    expect(sent[0].url).toContain('ltt/api/tutor/permissions?path=nb.ipynb');
    expect(await interruptPermission(settings, 'nb.ipynb', true)).toBe(true);
    expect(sent[1]).toMatchObject({
      method: 'PUT',
      body: { path: 'nb.ipynb', interrupt: true }
    });
  });
});
