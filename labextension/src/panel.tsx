/**
 * The right-sidebar tutor panel: a header (which notebook, which engine, status, notices,
 * the cell in context) above one @jupyter/chat widget per notebook.
 */
import {
  buildChatSidebar,
  ChatWidget,
  InputToolbarRegistry,
  IMessagePreambleRegistry,
  MessagePreambleProps,
  MessagePreambleRegistry,
  TooltippedButton,
  TooltippedIconButton
} from '@jupyter/chat';
import { IThemeManager, ReactWidget } from '@jupyterlab/apputils';
import { IRenderMimeRegistry } from '@jupyterlab/rendermime';
import { Panel, Widget } from '@lumino/widgets';
import { Signal } from '@lumino/signaling';
import StopIcon from '@mui/icons-material/Stop';
import * as React from 'react';

import { Consent, ITutorInfo, ITutorMessage, TutorClient } from './api';
import { TutorChatModel } from './model';
import { LocalOnlySanitizer } from './sanitizer';

export const PANEL_ID = 'ltt-tutor-panel';

const LEVEL_NAMES: Record<number, string> = {
  1: 'nudge',
  2: 'hint',
  3: 'explanation'
};

export function engineLabel(info: ITutorInfo | null): string {
  if (!info) {
    return 'unknown';
  }
  if (info.engine === 'builtin') {
    return 'built-in tutor';
  }
  if (info.engine === 'llm') {
    return info.model ? `LLM · ${info.model}` : 'LLM';
  }
  return String(info.engine);
}

export function kernelLabel(state: string | null): string {
  if (!state) {
    return 'no kernel';
  }
  if (state === 'busy') {
    return 'kernel busy';
  }
  if (state === 'idle') {
    return 'kernel idle';
  }
  return `kernel ${state}`;
}

/** The badge above a tutor message: what kind of message it is, and how it ended. */
function MessageBadge(props: MessagePreambleProps): JSX.Element | null {
  const meta = props.message.metadata?.ltt;
  if (!meta || meta.role === 'learner') {
    return null;
  }
  const parts: string[] = [];
  if (meta.kind === 'hint') {
    parts.push(
      meta.level
        ? `Hint · level ${meta.level} (${LEVEL_NAMES[meta.level] ?? meta.level})`
        : 'Hint'
    );
  } else if (meta.kind === 'answer') {
    parts.push(
      meta.level
        ? `Answer · level ${meta.level} (${LEVEL_NAMES[meta.level] ?? meta.level})`
        : 'Answer'
    );
  } else if (meta.kind === 'notice') {
    parts.push('Notice');
  }
  let status: string | null = null;
  if (meta.status === 'streaming') {
    status = 'answering…';
  } else if (meta.status === 'stopped') {
    status = 'stopped';
  } else if (meta.status === 'error') {
    status = 'could not finish';
  }
  if (!parts.length && !status) {
    return null;
  }
  return (
    <div className="ltt-MessageBadge" data-kind={meta.kind}>
      {parts.length > 0 && (
        <span className={`ltt-Badge ltt-Badge-${meta.kind}`}>{parts[0]}</span>
      )}
      {status && (
        <span
          className={`ltt-Badge ltt-Badge-status ltt-Badge-${meta.status}`}
          data-status={meta.status}
        >
          {status}
        </span>
      )}
    </div>
  );
}

function StopTutorButton(
  props: InputToolbarRegistry.IToolbarItemProps
): JSX.Element {
  const model = props.chatModel as TutorChatModel | undefined;
  const [streaming, setStreaming] = React.useState(
    (model?.streamingIds.length ?? 0) > 0
  );
  React.useEffect(() => {
    if (!model) {
      return;
    }
    const changed = () => setStreaming(model.streamingIds.length > 0);
    changed();
    model.stateChanged.connect(changed);
    return () => {
      model.stateChanged.disconnect(changed);
    };
  }, [model]);
  const tooltip = "Stop the tutor's answer";
  return (
    <TooltippedIconButton
      onClick={() => void model?.stop()}
      tooltip={tooltip}
      disabled={!streaming}
      aria-label={tooltip}
      buttonProps={{
        title: tooltip,
        className: 'ltt-StopButton',
        'aria-label': tooltip
      }}
    >
      <StopIcon />
    </TooltippedIconButton>
  );
}

function MoreHelpButton(
  props: InputToolbarRegistry.IToolbarItemProps
): JSX.Element {
  const model = props.chatModel as TutorChatModel | undefined;
  const tooltip = 'More help: the next step of the hint ladder';
  return (
    <TooltippedButton
      onClick={() => void model?.more()}
      tooltip={tooltip}
      aria-label={tooltip}
      inputToolbar={false}
      sx={{
        textTransform: 'none',
        whiteSpace: 'nowrap',
        minWidth: 'auto',
        width: 'auto',
        height: '24px',
        padding: '0 8px',
        lineHeight: '20px',
        fontSize: 'var(--jp-ui-font-size1)',
        color: 'var(--jp-brand-color1)',
        borderColor: 'var(--jp-brand-color1)'
      }}
      buttonProps={{
        title: tooltip,
        className: 'ltt-MoreHelpButton',
        'aria-label': tooltip,
        size: 'small',
        variant: 'outlined'
      }}
    >
      <span>More help</span>
    </TooltippedButton>
  );
}

function createToolbarRegistry(): InputToolbarRegistry {
  const registry = InputToolbarRegistry.defaultToolbarRegistry();
  // Attachments are not part of the tutor API.
  registry.hide('attach');
  registry.addItem('ltt-more', { element: MoreHelpButton, position: 30 });
  registry.addItem('ltt-stop', { element: StopTutorButton, position: 90 });
  return registry;
}

const WELCOME =
  'Ask about your notebook: I point you in the right direction rather than ' +
  'handing out solutions. When a cell fails I leave a hint here by myself; ' +
  '**More help** takes the next step. _Enter sends, Shift+Enter adds a line._\n';

/** The header above the chat. */
class TutorHeader extends ReactWidget {
  constructor(private _sidebar: TutorSidebar) {
    super();
    this.addClass('ltt-TutorHeader');
    this.node.setAttribute('role', 'region');
    this.node.setAttribute('aria-label', 'Tutor status');
  }

  render(): JSX.Element {
    const sidebar = this._sidebar;
    const model = sidebar.currentModel;
    const info = model?.info ?? sidebar.info;
    const kernel = sidebar.kernelState ?? model?.serverKernelState ?? null;
    const notice = model?.notice ?? sidebar.globalNotice;
    const connection = model?.connection ?? null;
    return (
      <>
        <div className="ltt-TutorHeader-title">
          <span className="ltt-TutorHeader-name">Tutor</span>
          <span
            className="ltt-TutorHeader-notebook"
            title={model?.path ?? ''}
            aria-label={
              model ? `Conversation about ${model.path}` : 'No notebook open'
            }
          >
            {model ? model.path : 'no notebook'}
          </span>
        </div>
        <div className="ltt-TutorHeader-meta">
          <span className="ltt-TutorHeader-engine" title="Who answers">
            Engine: {engineLabel(info)}
          </span>
        </div>
        {info?.consent_required && (
          <label className="ltt-Consent">
            <input
              type="checkbox"
              checked={Consent.get()}
              onChange={event => {
                Consent.set(event.currentTarget.checked);
                this.update();
              }}
            />
            <span>Share my notebook with the AI tutor</span>
          </label>
        )}
        {model && (
          <div
            className="ltt-TutorHeader-status"
            role="status"
            aria-live="polite"
          >
            <span
              className={`ltt-Pill ltt-Connection ltt-mod-${connection}`}
              data-connection={connection}
            >
              {connection === 'live'
                ? 'live'
                : connection === 'reconnecting'
                  ? 'reconnecting…'
                  : connection === 'connecting'
                    ? 'connecting…'
                    : 'offline'}
            </span>
            <span
              className={`ltt-Pill ltt-KernelState ltt-mod-${kernel ?? 'none'}`}
              data-kernel-state={kernel ?? ''}
            >
              {kernelLabel(kernel)}
            </span>
            {model.thinking && (
              <span className="ltt-Pill ltt-Thinking">tutor thinking…</span>
            )}
          </div>
        )}
        {notice && (
          <div
            className={`ltt-Notice ltt-Notice-${notice.kind}`}
            role="alert"
            data-notice={notice.kind}
          >
            <span>{notice.text}</span>
            {model && model.notice && (
              <button
                className="ltt-Notice-dismiss"
                aria-label="Dismiss this message"
                title="Dismiss"
                onClick={() => (model.notice = null)}
              >
                ×
              </button>
            )}
          </div>
        )}
        {model?.contextCell && (
          <div className="ltt-ContextCell">
            <span>Asking about {model.contextCell.label}</span>
            <button
              className="ltt-ContextCell-clear"
              aria-label="Stop asking about this cell"
              title="Stop asking about this cell"
              onClick={() => (model.contextCell = null)}
            >
              ×
            </button>
          </div>
        )}
      </>
    );
  }
}

interface IEntry {
  model: TutorChatModel;
  widget: ChatWidget;
}

/** The sidebar: header + the chat of the current notebook. */
export class TutorSidebar extends Panel {
  constructor(options: TutorSidebar.IOptions) {
    super();
    this.id = PANEL_ID;
    this.addClass('ltt-TutorPanel');
    this.title.caption = 'Tutor';
    this.node.setAttribute('aria-label', 'Tutor chat');
    this._client = options.client;
    // LLM text: rendered with nothing loaded from other origins (see sanitizer.ts).
    this._rendermime = options.rendermime.clone({
      sanitizer: new LocalOnlySanitizer(options.rendermime.sanitizer)
    });
    this._themeManager = options.themeManager ?? null;
    this._preambles = new MessagePreambleRegistry();
    this._preambles.addComponent(MessageBadge);
    this._header = new TutorHeader(this);
    this.addWidget(this._header);
    this._stack = new Panel();
    this._stack.addClass('ltt-TutorPanel-stack');
    this.addWidget(this._stack);
    this._empty = new Widget();
    this._empty.addClass('ltt-TutorPanel-empty');
    this._empty.node.textContent =
      'Open a notebook: the tutor follows the notebook you are working on.';
    this._stack.addWidget(this._empty);
  }

  get info(): ITutorInfo | null {
    return this._info;
  }
  set info(value: ITutorInfo | null) {
    this._info = value;
    for (const entry of this._entries.values()) {
      if (!entry.model.info) {
        entry.model.info = value;
      }
    }
    this._header.update();
  }

  get globalNotice(): { kind: 'unavailable'; text: string } | null {
    return this._globalNotice;
  }
  set globalNotice(value: { kind: 'unavailable'; text: string } | null) {
    this._globalNotice = value;
    this._header.update();
  }

  get kernelState(): string | null {
    return this._kernelState;
  }
  set kernelState(value: string | null) {
    this._kernelState = value;
    this._header.update();
  }

  get currentModel(): TutorChatModel | null {
    return this._current ? (this._entries.get(this._current)?.model ?? null) : null;
  }

  get currentWidget(): ChatWidget | null {
    return this._current ? (this._entries.get(this._current)?.widget ?? null) : null;
  }

  /** The model of a notebook path, created (and connected) on first use. */
  ensure(path: string): TutorChatModel {
    let entry = this._entries.get(path);
    if (!entry) {
      const model = new TutorChatModel({
        path,
        client: this._client,
        info: this._info
      });
      const widget = buildChatSidebar({
        model,
        rmRegistry: this._rendermime,
        themeManager: this._themeManager,
        inputToolbarRegistry: createToolbarRegistry(),
        messagePreambleRegistry: this._preambles as IMessagePreambleRegistry,
        welcomeMessage: WELCOME,
        area: 'sidebar'
      });
      widget.addClass('ltt-TutorChat');
      widget.node.dataset.path = path;
      widget.hide();
      this._stack.addWidget(widget);
      model.stateChanged.connect(this._onModelState, this);
      model.hintArrived.connect((m, hint) => {
        if (m.path === this._current) {
          this._hintArrived.emit(hint);
        }
      });
      entry = { model, widget };
      this._entries.set(path, entry);
      model.start();
      Private.labelInput(widget);
    }
    return entry.model;
  }

  /** Show the conversation of a notebook (null: none). */
  showNotebook(path: string | null): void {
    if (path) {
      this.ensure(path);
    }
    this._current = path;
    for (const [p, entry] of this._entries) {
      entry.widget.setHidden(p !== path);
    }
    this._empty.setHidden(!!path);
    this._header.update();
    this._currentChanged.emit(path);
  }

  /** Forget a notebook's conversation (its notebook was closed). */
  drop(path: string): void {
    const entry = this._entries.get(path);
    if (!entry) {
      return;
    }
    this._entries.delete(path);
    entry.widget.dispose();
    entry.model.dispose();
    if (this._current === path) {
      this.showNotebook(null);
    }
  }

  /** Put text in the input and focus it. */
  prefill(text: string): void {
    const model = this.currentModel;
    if (!model) {
      return;
    }
    if (text && !model.input.value.trim()) {
      model.input.value = text;
    }
    model.input.focus();
  }

  /** A new hint for the notebook on show arrived live. */
  get hintArrived(): Signal<this, ITutorMessage> {
    return this._hintArrived;
  }

  get currentChanged(): Signal<this, string | null> {
    return this._currentChanged;
  }

  dispose(): void {
    for (const entry of this._entries.values()) {
      entry.model.dispose();
    }
    this._entries.clear();
    super.dispose();
  }

  private _onModelState(model: TutorChatModel): void {
    if (model.path === this._current) {
      this._header.update();
    }
  }

  private _client: TutorClient;
  private _rendermime: IRenderMimeRegistry;
  private _themeManager: IThemeManager | null;
  private _preambles: MessagePreambleRegistry;
  private _header: TutorHeader;
  private _stack: Panel;
  private _empty: Widget;
  private _entries = new Map<string, IEntry>();
  private _current: string | null = null;
  private _info: ITutorInfo | null = null;
  private _globalNotice: { kind: 'unavailable'; text: string } | null = null;
  private _kernelState: string | null = null;
  private _currentChanged = new Signal<this, string | null>(this);
  private _hintArrived = new Signal<this, ITutorMessage>(this);
}

export namespace TutorSidebar {
  export interface IOptions {
    client: TutorClient;
    rendermime: IRenderMimeRegistry;
    themeManager?: IThemeManager | null;
  }
}

namespace Private {
  /** Give the chat's text box a screen-reader label and a tutor-specific placeholder. */
  export function labelInput(widget: ChatWidget): void {
    const apply = (): boolean => {
      const box = widget.node.querySelector('textarea:not([aria-hidden="true"])');
      if (!box) {
        return false;
      }
      if (box.getAttribute('aria-label') === 'Ask the tutor a question') {
        return true;
      }
      box.setAttribute('aria-label', 'Ask the tutor a question');
      box.setAttribute(
        'placeholder',
        'Ask the tutor…'
      );
      return true;
    };
    const observer = new MutationObserver(() => {
      apply();
    });
    observer.observe(widget.node, { childList: true, subtree: true });
    widget.disposed.connect(() => observer.disconnect());
  }
}
