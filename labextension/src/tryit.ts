/**
 * "Try it": run a code example of the tutor in the notebook's sidecar kernel (never the
 * learner's kernel) and show its output in the chat, under the example.
 *
 * The chat renders messages itself (@jupyter/chat), so the action is added to the rendered
 * code blocks of finished tutor messages as they appear. Outputs are rendered through the
 * panel's rendermime as untrusted content: HTML is sanitized, scripts never run, as for the
 * rest of the panel. Results are kept per message and code block, so a re-render shows them again.
 */
import { ChatWidget, IChatModel } from '@jupyter/chat';
import { URLExt } from '@jupyterlab/coreutils';
import { IRenderMimeRegistry } from '@jupyterlab/rendermime';
import { ServerConnection } from '@jupyterlab/services';
import { TranslationBundle } from '@jupyterlab/translation';
import { DisposableSet } from '@lumino/disposable';

/** One nbformat output, as the server returns it. */
export interface ITryOutput {
  output_type: 'stream' | 'execute_result' | 'display_data' | 'error' | string;
  name?: string;
  text?: string | string[];
  data?: Record<string, unknown>;
  metadata?: Record<string, unknown>;
  ename?: string;
  evalue?: string;
  traceback?: string[];
}

/** The answer of POST /ltt/api/tutor/try. */
export interface ITryResult {
  status: 'ok' | 'error' | 'timeout' | string;
  outputs: ITryOutput[];
  execution_count?: number | null;
  timed_out?: boolean;
  restarted?: boolean;
  truncated?: boolean;
  fresh?: boolean;
}

export type TryRunner = (path: string, code: string) => Promise<ITryResult>;

/** A runner speaking to the server through JupyterLab's ServerConnection (token, XSRF). */
export function serverTryRunner(
  settings: ServerConnection.ISettings
): TryRunner {
  return async (path: string, code: string) => {
    const url = URLExt.join(settings.baseUrl, 'ltt/api/tutor/try');
    const response = await ServerConnection.makeRequest(
      url,
      { method: 'POST', body: JSON.stringify({ path, code }) },
      settings
    );
    const text = await response.text();
    let data: any = null;
    try {
      data = text ? JSON.parse(text) : null;
    } catch {
      data = null;
    }
    if (!response.ok) {
      throw new Error(
        (data && typeof data.message === 'string' && data.message) ||
          response.statusText ||
          `HTTP ${response.status}`
      );
    }
    return data as ITryResult;
  };
}

const TRYABLE = new Set(['python', 'py', 'python3', 'ipython', 'ipython3']);

/** Whether a rendered code block is an example worth running: Python, or no language given. */
export function isTryable(pre: HTMLElement): boolean {
  const code = pre.querySelector('code');
  const classes = Array.from(code?.classList ?? []).concat(
    Array.from(pre.classList)
  );
  const language = classes
    .filter(c => c.startsWith('language-') || c.startsWith('lang-'))
    .map(c => c.replace(/^lang(uage)?-/, '').toLowerCase());
  const text = (pre.textContent ?? '').trim();
  if (!text || text.startsWith('Traceback (most recent call last)')) {
    return false;
  }
  return language.length === 0 || language.some(l => TRYABLE.has(l));
}

/** The line under a run's output: what happened, in the learner's words. */
export function statusText(
  result: ITryResult,
  trans: TranslationBundle
): string {
  const parts: string[] = [];
  if (result.timed_out) {
    parts.push(trans.__('Stopped: it ran too long.'));
  } else if (result.status === 'error') {
    parts.push(trans.__('Ran with an error, in a scratch kernel.'));
  } else {
    parts.push(trans.__('Ran in a scratch kernel.'));
  }
  if (result.restarted) {
    parts.push(
      trans.__('The scratch kernel was restarted: its variables are gone.')
    );
  } else if (result.fresh) {
    parts.push(
      trans.__('A fresh scratch kernel: your variables are not there.')
    );
  }
  if (result.truncated) {
    parts.push(trans.__('The output was cut.'));
  }
  parts.push(trans.__('Your notebook was not touched.'));
  return parts.join(' ');
}

function joinText(value: string | string[] | undefined): string {
  return Array.isArray(value) ? value.join('') : (value ?? '');
}

/** Render outputs into ``host`` as untrusted content through ``rendermime``. */
export async function renderOutputs(
  outputs: ITryOutput[],
  rendermime: IRenderMimeRegistry,
  host: HTMLElement,
  renderers: DisposableSet
): Promise<void> {
  for (const output of outputs) {
    let data: Record<string, unknown>;
    if (output.output_type === 'stream') {
      const mime =
        output.name === 'stderr'
          ? 'application/vnd.jupyter.stderr'
          : 'application/vnd.jupyter.stdout';
      data = { [mime]: joinText(output.text) };
    } else if (output.output_type === 'error') {
      data = {
        'application/vnd.jupyter.stderr':
          (output.traceback ?? []).join('\n') ||
          `${output.ename}: ${output.evalue}`
      };
    } else {
      data = output.data ?? {};
    }
    const mime = rendermime.preferredMimeType(data as any, 'ensure');
    const item = document.createElement('div');
    item.className = 'ltt-TryIt-output';
    item.dataset.outputType = output.output_type;
    host.appendChild(item);
    if (!mime) {
      item.textContent = Object.keys(data).join(', ');
      continue;
    }
    const renderer = rendermime.createRenderer(mime);
    renderers.add(renderer);
    const model = rendermime.createModel({
      data: data as any,
      metadata: (output.metadata ?? {}) as any,
      trusted: false
    });
    await renderer.renderModel(model);
    item.appendChild(renderer.node);
  }
}

export interface ITryItOptions {
  run: TryRunner;
  rendermime: IRenderMimeRegistry;
  trans: TranslationBundle;
  path: () => string;
}

const MARK = 'lttTryit';

/**
 * Add "Try it" under the code examples of the tutor's finished messages in ``widget``,
 * now and whenever the chat renders more.
 */
export function attachTryIt(
  widget: ChatWidget | { node: HTMLElement; disposed: any },
  model: Pick<IChatModel, 'messages'> &
    Partial<Pick<IChatModel, 'messagesUpdated'>>,
  options: ITryItOptions
): () => void {
  const results = new Map<string, ITryResult | string>();

  const scan = () => {
    if (!options.path().toLowerCase().endsWith('.ipynb')) {
      return; // examples are tried beside a notebook (not in a terminal's conversation)
    }
    const containers = widget.node.querySelectorAll<HTMLElement>(
      '.jp-chat-message-container[data-index]'
    );
    containers.forEach(container => {
      const index = Number(container.dataset.index);
      const message = model.messages[index];
      const meta = message?.metadata?.ltt;
      if (!message || !meta || meta.role !== 'tutor') {
        return;
      }
      if (meta.status === 'streaming') {
        return; // the code may still grow: offer it once the answer is complete
      }
      const blocks = container.querySelectorAll<HTMLElement>(
        '.jp-chat-rendered-message pre'
      );
      blocks.forEach((pre, block) => {
        if (pre.dataset[MARK] || !isTryable(pre)) {
          return;
        }
        pre.dataset[MARK] = '1';
        const key = `${message.id}:${block}`;
        addAction(pre, key, results, options);
      });
    });
  };

  const observer = new MutationObserver(() => scan());
  observer.observe(widget.node, { childList: true, subtree: true });
  // a message that finishes streaming may not change the DOM: look again after it renders
  const later = () => setTimeout(scan, 0);
  model.messagesUpdated?.connect(later);
  scan();
  const stop = () => {
    observer.disconnect();
    model.messagesUpdated?.disconnect(later);
  };
  widget.disposed?.connect?.(stop);
  return stop;
}

function addAction(
  pre: HTMLElement,
  key: string,
  results: Map<string, ITryResult | string>,
  options: ITryItOptions
): void {
  const { trans } = options;
  const box = document.createElement('div');
  box.className = 'ltt-TryIt';
  const button = document.createElement('button');
  button.type = 'button';
  button.className = 'ltt-TryIt-button jp-mod-styled';
  const label = trans.__('Try it');
  button.textContent = label;
  button.title = trans.__(
    'Run this example in a scratch kernel and show its output here (your notebook and its variables are not touched)'
  );
  const out = document.createElement('div');
  out.className = 'ltt-TryIt-result';
  out.setAttribute('aria-live', 'polite');
  box.append(button, out);
  // after the chat's own code toolbar, when it has one
  const anchor =
    pre.nextElementSibling?.classList.contains('jp-chat-code-toolbar') ||
    pre.nextElementSibling?.querySelector?.('.jp-chat-code-toolbar')
      ? pre.nextElementSibling
      : pre;
  anchor.parentNode?.insertBefore(box, anchor.nextSibling);

  let renderers = new DisposableSet();
  const show = async (result: ITryResult | string) => {
    renderers.dispose();
    renderers = new DisposableSet();
    out.replaceChildren();
    if (typeof result === 'string') {
      const error = document.createElement('div');
      error.className = 'ltt-TryIt-error';
      error.textContent = trans.__('Could not run it: %1', result);
      out.appendChild(error);
      return;
    }
    const outputs = document.createElement('div');
    outputs.className = 'ltt-TryIt-outputs';
    out.appendChild(outputs);
    await renderOutputs(
      result.outputs ?? [],
      options.rendermime,
      outputs,
      renderers
    );
    const status = document.createElement('div');
    status.className = 'ltt-TryIt-status';
    status.dataset.status = result.status;
    status.textContent = statusText(result, trans);
    out.appendChild(status);
  };

  const previous = results.get(key);
  if (previous !== undefined) {
    void show(previous);
  }

  button.addEventListener('click', async () => {
    button.disabled = true;
    button.textContent = trans.__('Running…');
    out.setAttribute('aria-busy', 'true');
    let result: ITryResult | string;
    try {
      result = await options.run(options.path(), pre.textContent ?? '');
    } catch (err) {
      result = err instanceof Error ? err.message : String(err);
    }
    results.set(key, result);
    await show(result);
    out.removeAttribute('aria-busy');
    button.disabled = false;
    button.textContent = label;
  });
}
