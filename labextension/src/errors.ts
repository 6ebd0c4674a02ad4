/**
 * Error outputs with an "Ask the tutor" action.
 *
 * Error outputs carry both `application/vnd.jupyter.error` (the raw error) and
 * `application/vnd.jupyter.stderr` (the traceback). This renderer claims the first,
 * renders the traceback with JupyterLab's own (sanitizing) error renderer, and adds
 * the action underneath. The action is shown for a notebook's errors while the server's
 * tutor is on (a console's errors have no conversation to go to).
 */
import { IRenderMime, MimeModel, RenderedError } from '@jupyterlab/rendermime';
import {
  ITranslator,
  nullTranslator,
  TranslationBundle
} from '@jupyterlab/translation';
import { Message } from '@lumino/messaging';
import { ISignal, Signal } from '@lumino/signaling';
import { Widget } from '@lumino/widgets';

import { TRANSLATION_DOMAIN } from './i18n';

export const ERROR_MIME = 'application/vnd.jupyter.error';
const STDERR_MIME = 'application/vnd.jupyter.stderr';

export interface IAskFromError {
  (origin: HTMLElement, error: { ename?: string; evalue?: string }): void;
}

/**
 * Whether the server's tutor answers: `unknown` until `GET /ltt/api/tutor/info` does,
 * `disabled` when it says the tutor is turned off (503) or is not there at all (404).
 */
export class TutorAvailability {
  get state(): TutorAvailability.State {
    return this._state;
  }
  set state(value: TutorAvailability.State) {
    if (value !== this._state) {
      this._state = value;
      this._changed.emit(value);
    }
  }

  get changed(): ISignal<this, TutorAvailability.State> {
    return this._changed;
  }

  private _state: TutorAvailability.State = 'unknown';
  private _changed = new Signal<this, TutorAvailability.State>(this);
}

export namespace TutorAvailability {
  export type State = 'unknown' | 'enabled' | 'disabled';
}

export class TutorErrorRenderer
  extends Widget
  implements IRenderMime.IRenderer
{
  constructor(
    options: IRenderMime.IRendererOptions,
    private _ask: IAskFromError,
    private _availability: TutorAvailability | null = null,
    translator: ITranslator = nullTranslator
  ) {
    super();
    const trans: TranslationBundle = translator.load(TRANSLATION_DOMAIN);
    this.addClass('ltt-ErrorOutput');
    this._inner = new RenderedError({ ...options, mimeType: STDERR_MIME });
    this.node.appendChild(this._inner.node);
    const bar = document.createElement('div');
    bar.className = 'ltt-ErrorOutput-actions';
    this._button = document.createElement('button');
    this._button.type = 'button';
    this._button.className = 'jp-mod-styled ltt-AskTutorButton';
    this._button.textContent = trans.__('Ask the tutor');
    this._button.title = trans.__('Ask the tutor about this error');
    this._button.setAttribute(
      'aria-label',
      trans.__('Ask the tutor about this error')
    );
    this._button.addEventListener('click', this._onClick);
    bar.appendChild(this._button);
    this.node.appendChild(bar);
    this._availability?.changed.connect(this._updateButton, this);
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
      const tb = Array.isArray(error.traceback)
        ? error.traceback.join('\n')
        : '';
      data[STDERR_MIME] =
        tb || `${error.ename ?? 'Error'}: ${error.evalue ?? ''}`;
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
    this._updateButton();
  }

  /** Shown under a notebook's errors while the tutor is on (or not known to be off). */
  private _updateButton(): void {
    // The tutor's conversations are per notebook: a console's errors have none to go to.
    const inNotebook = this.node.closest('.jp-Notebook') !== null;
    const disabled = this._availability?.state === 'disabled';
    this._button.hidden = !inNotebook || disabled;
  }

  dispose(): void {
    if (this.isDisposed) {
      return;
    }
    this._availability?.changed.disconnect(this._updateButton, this);
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
  ask: IAskFromError,
  availability: TutorAvailability | null = null,
  translator: ITranslator = nullTranslator
): IRenderMime.IRendererFactory {
  return {
    safe: true,
    mimeTypes: [ERROR_MIME],
    defaultRank: 20,
    createRenderer: options =>
      new TutorErrorRenderer(options, ask, availability, translator)
  };
}
