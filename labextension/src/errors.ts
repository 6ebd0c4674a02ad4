/**
 * Error outputs with an "Ask the tutor" action.
 *
 * Error outputs carry both `application/vnd.jupyter.error` (the raw error) and
 * `application/vnd.jupyter.stderr` (the traceback). This renderer claims the first,
 * renders the traceback with JupyterLab's own (sanitizing) error renderer, and adds
 * the action underneath.
 */
import { IRenderMime, MimeModel, RenderedError } from '@jupyterlab/rendermime';
import { Message } from '@lumino/messaging';
import { Widget } from '@lumino/widgets';

export const ERROR_MIME = 'application/vnd.jupyter.error';
const STDERR_MIME = 'application/vnd.jupyter.stderr';

export interface IAskFromError {
  (origin: HTMLElement, error: { ename?: string; evalue?: string }): void;
}

export class TutorErrorRenderer extends Widget implements IRenderMime.IRenderer {
  constructor(
    options: IRenderMime.IRendererOptions,
    private _ask: IAskFromError
  ) {
    super();
    this.addClass('ltt-ErrorOutput');
    this._inner = new RenderedError({ ...options, mimeType: STDERR_MIME });
    this.node.appendChild(this._inner.node);
    const bar = document.createElement('div');
    bar.className = 'ltt-ErrorOutput-actions';
    this._button = document.createElement('button');
    this._button.type = 'button';
    this._button.className = 'jp-mod-styled ltt-AskTutorButton';
    this._button.textContent = 'Ask the tutor';
    this._button.title = 'Ask the tutor about this error';
    this._button.setAttribute('aria-label', 'Ask the tutor about this error');
    this._button.addEventListener('click', this._onClick);
    bar.appendChild(this._button);
    this.node.appendChild(bar);
  }

  async renderModel(model: IRenderMime.IMimeModel): Promise<void> {
    const error = (model.data[ERROR_MIME] ?? {}) as {
      ename?: string;
      evalue?: string;
      traceback?: string[];
    };
    this._error = { ename: error.ename, evalue: error.evalue };
    const data = { ...model.data };
    if (data[STDERR_MIME] === undefined) {
      const tb = Array.isArray(error.traceback) ? error.traceback.join('\n') : '';
      data[STDERR_MIME] = tb || `${error.ename ?? 'Error'}: ${error.evalue ?? ''}`;
    }
    await this._inner.renderModel(
      new MimeModel({
        data,
        metadata: model.metadata,
        trusted: model.trusted
      })
    );
  }

  protected onAfterAttach(msg: Message): void {
    super.onAfterAttach(msg);
    // The tutor's conversations are per notebook: a console's errors have none to go to.
    this._button.hidden = this.node.closest('.jp-Notebook') === null;
  }

  dispose(): void {
    if (this.isDisposed) {
      return;
    }
    this._button.removeEventListener('click', this._onClick);
    this._inner.dispose();
    super.dispose();
  }

  private _onClick = (event: MouseEvent) => {
    event.preventDefault();
    event.stopPropagation();
    this._ask(this.node, this._error);
  };

  private _inner: RenderedError;
  private _button: HTMLButtonElement;
  private _error: { ename?: string; evalue?: string } = {};
}

export function createErrorRendererFactory(
  ask: IAskFromError
): IRenderMime.IRendererFactory {
  return {
    safe: true,
    mimeTypes: [ERROR_MIME],
    defaultRank: 20,
    createRenderer: options => new TutorErrorRenderer(options, ask)
  };
}
